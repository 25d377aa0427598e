//! Streaming the activity log to syslog (docs/operator.md, "Audit streaming"): every entry after
//! the stream's cursor in the store, in order, as RFC 5424 messages over TCP with octet-counting
//! framing (RFC 6587), optionally in TLS. The cursor moves only after an entry was written to
//! the receiver, so a receiver that is down gets what it missed, in order, when it is back. One
//! node at a time holds the stream's lease. It runs on a thread of its own: its waits and writes
//! never hold up a request.

use std::cell::Cell;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::SyslogConfig;
use crate::domain::Clock;
use crate::domain::log::ActivityEntry;
use crate::store::audit_stream;
use crate::store::{Store, StoreError, activity};
use crate::wire::log::ActivityLine;

/// How long a node holds the stream without renewing it.
const LEASE: Duration = Duration::from_secs(30);
/// How often the log is looked at for new entries.
const POLL: Duration = Duration::from_millis(200);
/// Entries sent between two moves of the cursor.
const BATCH: i64 = 200;
/// The structured data's id: `activity` under 32473, the enterprise number RFC 5612 sets aside
/// for such use without registration.
const SD_ID: &str = "activity@32473";
/// How often the lease is renewed (or, by a node without it, asked for).
const RENEW: Duration = Duration::from_secs(10);

/// The running stream; dropping it stops it.
pub struct Streamer {
    stop: Arc<AtomicBool>,
}

impl Drop for Streamer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the receiver is, and how to speak to it.
struct Receiver {
    name: String,
    host: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

enum Connection {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Connection {
    fn socket(&self) -> &TcpStream {
        match self {
            Connection::Plain(s) => s,
            Connection::Tls(s) => s.get_ref(),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Connection::Plain(s) => s,
            Connection::Tls(s) => s.as_mut(),
        }
    }

    /// Whether the receiver has closed its side: then what is written next would be lost. Over
    /// TLS, what the receiver sent (session tickets, a close_notify) is read and processed.
    fn closed(&mut self) -> bool {
        if self.socket().set_nonblocking(true).is_err() {
            return true;
        }
        let mut buffer = [0u8; 512];
        let read = match self {
            Connection::Plain(s) => s.peek(&mut buffer[..1]),
            Connection::Tls(s) => std::io::Read::read(s.as_mut(), &mut buffer),
        };
        let closed = match read {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        closed || self.socket().set_nonblocking(false).is_err()
    }
}

impl Streamer {
    /// Starts streaming when `config` names a receiver; an address that does not resolve, or a
    /// CA file that does not read, is a configuration error naming its key.
    pub fn start(
        store: Store,
        clock: Clock,
        config: &SyslogConfig,
    ) -> Result<Option<Streamer>, String> {
        let Some(address) = config.address() else {
            return Ok(None);
        };
        let resolved: Vec<SocketAddr> = address
            .to_socket_addrs()
            .map_err(|e| format!("audit.syslog.address: {address:?} does not resolve: {e}"))?
            .collect();
        if resolved.is_empty() {
            return Err(format!(
                "audit.syslog.address: {address:?} does not resolve"
            ));
        }
        let host = address
            .rsplit_once(':')
            .map_or(address, |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = if config.tls {
            let ca = Some(config.ca_file.trim()).filter(|f| !f.is_empty());
            Some(tls_config(ca).map_err(|e| format!("audit.syslog.ca_file: {e}"))?)
        } else {
            None
        };
        let stop = Arc::new(AtomicBool::new(false));
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let holder = format!(
            "{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        );
        let stream = Stream {
            store,
            clock,
            receiver: Receiver {
                name: address.to_owned(),
                host,
                tls,
            },
            app_name: config.app_name.clone(),
            facility: config.facility,
            max_retry: Duration::from_secs(config.max_retry_seconds),
            holder,
            stop: Arc::clone(&stop),
            asked: Cell::new(None),
            holding: Cell::new(false),
        };
        std::thread::Builder::new()
            .name("audit-syslog".into())
            .spawn(move || stream.run())
            .map_err(|e| format!("audit.syslog: cannot start its thread: {e}"))?;
        Ok(Some(Streamer { stop }))
    }
}

fn tls_config(ca_file: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("{path}: {e}"))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("{path}: {e}"))?;
                roots.add(cert).map_err(|e| format!("{path}: {e}"))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    if roots.is_empty() {
        return Err("no certificate to verify the receiver with".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

struct Stream {
    store: Store,
    clock: Clock,
    receiver: Receiver,
    app_name: String,
    facility: u8,
    max_retry: Duration,
    holder: String,
    stop: Arc<AtomicBool>,
    /// When the lease was last taken, renewed or asked for.
    asked: Cell<Option<Instant>>,
    holding: Cell<bool>,
}

impl Stream {
    fn run(self) {
        let mut connection: Option<Connection> = None;
        let mut backoff = Duration::from_millis(500);
        let mut warned = false;
        while !self.stop.load(Ordering::Relaxed) {
            match self.round(&mut connection) {
                Ok(true) => {
                    backoff = Duration::from_millis(500);
                    warned = false;
                }
                Ok(false) => self.pause(POLL),
                Err(e) => {
                    connection = None;
                    if !warned {
                        tracing::warn!(receiver = %self.receiver.name, error = %e, "audit syslog: cannot send; trying again");
                        warned = true;
                    }
                    self.pause(backoff);
                    backoff = (backoff * 2).min(self.max_retry);
                }
            }
        }
        if let Ok(mut db) = self.store.db()
            && let Ok(tx) = db.write()
            && audit_stream::release(&tx, &self.holder).is_ok()
        {
            let _ = tx.commit();
        }
    }

    /// Waits `how_long`, or less when stopped.
    fn pause(&self, how_long: Duration) {
        let end = Instant::now() + how_long;
        while !self.stop.load(Ordering::Relaxed) && Instant::now() < end {
            std::thread::sleep(POLL.min(end - Instant::now()));
        }
    }

    /// One round: holds the lease, reads what is after the cursor and sends it. `Ok(true)` when
    /// something was sent.
    fn round(&self, connection: &mut Option<Connection>) -> Result<bool, String> {
        let mut db = self.store.db().map_err(|e| e.to_string())?;
        let due = self.asked.get().is_none_or(|at| at.elapsed() >= RENEW);
        let cursor = if due {
            let now = self.clock.now();
            let until = now.plus_millis(i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX));
            let tx = db.write().map_err(|e| e.to_string())?;
            audit_stream::ensure(&tx).map_err(|e| e.to_string())?;
            let cursor =
                audit_stream::lease(&tx, &self.holder, now, until).map_err(|e| e.to_string())?;
            tx.commit().map_err(|e| e.to_string())?;
            self.asked.set(Some(Instant::now()));
            self.holding.set(cursor.is_some());
            cursor
        } else if self.holding.get() {
            audit_stream::cursor(&db.read()).map_err(|e| e.to_string())?
        } else {
            None
        };
        let Some(last) = cursor else {
            return Ok(false);
        };
        let rows = activity::chain_batch(
            &db.read(),
            &activity::ActivityFilter::default(),
            Some(last),
            BATCH,
        )
        .map_err(|e: StoreError| e.to_string())?;
        let Some(newest) = rows.last().map(|r| r.id) else {
            return Ok(false);
        };
        if connection.as_mut().is_some_and(Connection::closed) {
            *connection = None;
        }
        let open = match connection {
            Some(open) => open,
            None => connection.insert(self.connect()?),
        };
        let mut frames = Vec::with_capacity(rows.len() * 600);
        for row in &rows {
            frames.extend_from_slice(&frame(&self.message(row)));
        }
        let writer = open.writer();
        writer.write_all(&frames).map_err(|e| e.to_string())?;
        writer.flush().map_err(|e| e.to_string())?;
        let tx = db.write().map_err(|e| e.to_string())?;
        let moved = audit_stream::sent(&tx, &self.holder, newest).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        if !moved {
            // Another node holds the stream now: ask for the lease before sending more.
            self.holding.set(false);
            self.asked.set(None);
        }
        Ok(true)
    }

    fn connect(&self) -> Result<Connection, String> {
        let address = self
            .receiver
            .name
            .to_socket_addrs()
            .map_err(|e| format!("{} does not resolve: {e}", self.receiver.name))?
            .next()
            .ok_or_else(|| format!("{} does not resolve", self.receiver.name))?;
        let socket = TcpStream::connect_timeout(&address, Duration::from_secs(10))
            .map_err(|e| format!("cannot connect to {}: {e}", self.receiver.name))?;
        let _ = socket.set_write_timeout(Some(Duration::from_secs(30)));
        let _ = socket.set_nodelay(true);
        let Some(tls) = &self.receiver.tls else {
            return Ok(Connection::Plain(socket));
        };
        let name = rustls_pki_types::ServerName::try_from(self.receiver.host.clone())
            .map_err(|e| format!("{}: {e}", self.receiver.host))?;
        let session =
            rustls::ClientConnection::new(Arc::clone(tls), name).map_err(|e| e.to_string())?;
        Ok(Connection::Tls(Box::new(rustls::StreamOwned::new(
            session, socket,
        ))))
    }

    /// One RFC 5424 message: the chain fields as structured data, the whole entry as JSON.
    fn message(&self, entry: &ActivityEntry) -> String {
        // Severity 5: notice.
        let priority = u16::from(self.facility) * 8 + 5;
        let json = serde_json::to_string(&ActivityLine::of(entry)).unwrap_or_default();
        format!(
            "<{priority}>1 {} - {} {} {} [{SD_ID} id=\"{}\" prev_hash=\"{}\" hash=\"{}\" category=\"{}\"] {json}",
            entry.created_at.to_rfc3339(),
            self.app_name,
            std::process::id(),
            "activity",
            entry.id,
            sd_value(&entry.prev_hash),
            sd_value(&entry.hash),
            sd_value(&entry.category),
        )
    }
}

/// A structured-data parameter value with `"`, `\` and `]` escaped (RFC 5424, 6.3.3).
fn sd_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(']', "\\]")
}

/// Octet-counting framing (RFC 6587, 3.4.1): the message's length in bytes, a space, the message.
fn frame(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_count_bytes_and_values_are_escaped() {
        assert_eq!(frame("<117>1 é"), b"9 <117>1 \xc3\xa9".to_vec());
        assert_eq!(sd_value(r#"a"b\c]"#), r#"a\"b\\c\]"#);
    }
}
