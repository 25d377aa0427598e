//! SQLite into PostgreSQL (`tidegate migrate-store`, moving an install), and the PostgreSQL
//! target named without its password.

use super::{CopyError, CopyReport, copy};
use crate::store::Db;
use crate::store::engine::Engine;

/// Copies the SQLite store `source` into the empty PostgreSQL store `target` (migrated to this
/// binary's schema): all of it, or nothing.
pub fn sqlite_to_postgres(source: &mut Db, target: &mut Db) -> Result<CopyReport, CopyError> {
    if source.engine() != Engine::Sqlite || target.engine() != Engine::Postgres {
        return Err(CopyError::Engines {
            from: "SQLite",
            to: "PostgreSQL",
        });
    }
    copy(source, target)
}

/// The target named without its password: database, host and user.
pub fn describe_postgres(url: &str) -> String {
    let Ok(config) = url.parse::<postgres::Config>() else {
        return "PostgreSQL".to_owned();
    };
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // One port for every host, or one each; 5432 when none is given.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            }
        })
        .collect();
    let mut out = format!(
        "PostgreSQL database {}",
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("postgres")
    );
    if !hosts.is_empty() {
        out.push_str(&format!(" on {}", hosts.join(",")));
    }
    if let Some(user) = config.get_user() {
        out.push_str(&format!(" as {user}"));
    }
    out
}
