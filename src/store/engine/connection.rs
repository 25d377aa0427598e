//! The PostgreSQL connection (with the statements it has prepared), the manager that pools
//! such connections, and the TLS that `sslmode=require` asks for.

use std::collections::HashMap;
use std::path::Path;

use super::postgres_placeholders;
use crate::store::StoreError;

/// A PostgreSQL connection and the statements it has prepared, by their SQL text.
pub struct PgConn {
    /// Always there until the connection is dropped (see `Drop`).
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
}

const MAX_PREPARED: usize = 512;

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client: Some(client),
            statements: HashMap::new(),
        }
    }

    /// Whether the server dropped it (a restart, a failover).
    pub(in crate::store) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    pub(in crate::store) fn client(&mut self) -> Result<&mut postgres::Client, StoreError> {
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Task("the connection is closed".into()))
    }

    pub(in crate::store) fn prepare(
        &mut self,
        sql: &str,
    ) -> Result<postgres::Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client()?.prepare(&postgres_placeholders(sql))?;
        if self.statements.len() >= MAX_PREPARED {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// Pools PostgreSQL connections for r2d2, as r2d2_sqlite does for SQLite; each connection
/// keeps its own prepared statements.
#[derive(Clone)]
pub struct PgManager {
    config: postgres::Config,
    /// With `sslmode=require`: TLS, the server's certificate verified.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl PgManager {
    /// `ca_file` names the certificates (PEM) to trust instead of the system's roots.
    pub fn new(config: postgres::Config, ca_file: Option<&Path>) -> Result<PgManager, StoreError> {
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls_connector(ca_file)?),
            _ => None,
        };
        Ok(PgManager { config, tls })
    }

    pub fn connect(&self) -> Result<PgConn, postgres::Error> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(postgres::NoTls)?,
        };
        Ok(PgConn::new(client))
    }
}

/// A TLS connector that verifies the server against `ca_file`'s certificates, or the system's
/// roots when there is none. Unlike libpq's `require`, an unverified server is refused.
fn tls_connector(
    ca_file: Option<&Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let unusable = |what: String| StoreError::Tls(what);
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| unusable(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system certificate rustls cannot use is left out, as browsers do.
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err(unusable("no certificate to verify the server with".into()));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| unusable(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Closing a connection blocks on the client's own runtime, which cannot start on a thread that
/// drives async tasks (where the last handle of a pool may be dropped): there, it closes on a
/// thread of its own.
impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::Builder::new()
                .name("postgres-close".into())
                .spawn(move || drop(client));
        }
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = StoreError;

    fn connect(&self) -> Result<PgConn, StoreError> {
        PgManager::connect(self).map_err(StoreError::Connect)
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), StoreError> {
        conn.client()?.simple_query("")?;
        Ok(())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.is_closed()
    }
}
