//! The binary's entry: parse the command line, load and check the configuration (a bad one
//! stops with exit code 2), set up logging, then serve or run the command.

use std::process::ExitCode;

use super::Application;
use crate::cli::{self, CliError, Command, Context};
use crate::config::Config;

pub fn main() -> ExitCode {
    let parsed = cli::parse();
    let config = match Config::load(parsed.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = super::settings::check(&config) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    crate::telemetry::init(&config.telemetry);
    let ctx = Context {
        config,
        json: parsed.json,
    };
    let result = match parsed.command {
        Command::Serve => serve(ctx),
        command => cli::run(&ctx, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError { message, exit_code }) => {
            eprintln!("error: {message}");
            ExitCode::from(exit_code)
        }
    }
}

/// `tidegate serve`, the default. A configuration found unusable at start-up (an address that
/// does not resolve, a client that cannot be built) exits with 2, like one that does not load.
fn serve(ctx: Context) -> Result<(), CliError> {
    run_server(ctx).map_err(|e| CliError {
        exit_code: match e {
            super::AppError::Config(_) | super::AppError::Settings(_) => 2,
            _ => 1,
        },
        message: e.to_string(),
    })
}

fn run_server(ctx: Context) -> Result<(), super::AppError> {
    actix_web::rt::System::new().block_on(async move {
        let data_dir = ctx.config.storage.data_dir.clone();
        let app = Application::build(ctx.config).await?;
        if let Some(admin) = &app.admin_created {
            match &admin.generated_password {
                Some(password) => println!(
                    "Created the instance administrator {} with password {password} (shown only this once).",
                    admin.email
                ),
                None => println!(
                    "Created the instance administrator {} with the password from TIDEGATE_ADMIN_PASSWORD.",
                    admin.email
                ),
            }
        }
        app.stop_on_signals()?;
        println!(
            "Data directory: {}",
            cli::absolute(&data_dir).display()
        );
        println!("Tidegate listening on http://{}", app.address());
        tracing::info!(address = %app.address(), "listening");
        app.run_until_stopped().await?;
        Ok(())
    })
}
