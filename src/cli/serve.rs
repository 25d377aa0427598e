//! `tidegate serve`.

use super::{CliError, Context};
use crate::app::Application;

pub fn run(ctx: Context) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(async move {
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
        println!("Tidegate listening on http://{}", app.address());
        tracing::info!(address = %app.address(), "listening");
        app.run_until_stopped().await?;
        Ok(())
    })
}
