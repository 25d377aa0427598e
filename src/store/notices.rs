//! PostgreSQL notifications a node acts on, handed to async code: each payload names the
//! schema of the store it concerns (`schema:rest`), and only this store's come through.
//! Notifications sent while the listener reconnects are lost; what listens must be fine with
//! that (a node also checks the generations it runs every few seconds, so a cancel it did not
//! hear of still stops the provider call).

use std::time::Duration;

use tokio::sync::mpsc;

use super::{Store, StoreError};

const RECONNECT: Duration = Duration::from_secs(1);
/// How often the listener looks whether anyone still listens to it.
const CHECK: Duration = Duration::from_secs(1);

/// The payloads (without the schema) sent on `channel` for this store, until the receiver is
/// dropped; `None` on SQLite, which has one node.
pub fn listen(
    store: &Store,
    channel: &'static str,
) -> Result<Option<mpsc::UnboundedReceiver<String>>, StoreError> {
    if store.engine() != super::Engine::Postgres {
        return Ok(None);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let store = store.clone();
    std::thread::Builder::new()
        .name("pg-listener".into())
        .spawn(move || {
            while !tx.is_closed() {
                if let Err(e) = listen_connected(&store, channel, &tx) {
                    tracing::warn!(error = %crate::telemetry::cause_chain(&e), channel, "notification listener lost its connection");
                    std::thread::sleep(RECONNECT);
                }
            }
        })
        .map_err(|e| StoreError::Task(e.to_string()))?;
    Ok(Some(rx))
}

fn listen_connected(
    store: &Store,
    channel: &str,
    tx: &mpsc::UnboundedSender<String>,
) -> Result<(), StoreError> {
    let mut listener = Listener::connect(store, channel)?;
    while !tx.is_closed() {
        if let Some(payload) = listener.next(CHECK)? {
            let _ = tx.send(payload);
        }
    }
    Ok(())
}

/// A connection of its own that listens on one channel for this store's notifications.
pub(super) struct Listener {
    db: super::Db,
    prefix: String,
}

impl Listener {
    pub(super) fn connect(store: &Store, channel: &str) -> Result<Listener, StoreError> {
        let mut db = store.dedicated_connection()?;
        let schema: String = db
            .read()
            .query_one("SELECT current_schema()", &[], |r| r.get(0))?;
        if let Some(conn) = db.postgres() {
            conn.client()?.batch_execute(&format!("LISTEN {channel}"))?;
        }
        Ok(Listener {
            db,
            prefix: format!("{schema}:"),
        })
    }

    /// The connection, for the listener's own reads between notifications.
    pub(super) fn db(&mut self) -> &mut super::Db {
        &mut self.db
    }

    /// The next payload (without the schema) for this store, if one comes within `timeout`.
    pub(super) fn next(&mut self, timeout: Duration) -> Result<Option<String>, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let Some(conn) = self.db.postgres() else {
            return Ok(None);
        };
        let mut notifications = conn.client()?.notifications();
        let mut heard = notifications.timeout_iter(timeout);
        while let Some(note) = heard.next()? {
            if let Some(rest) = note.payload().strip_prefix(&self.prefix) {
                return Ok(Some(rest.to_owned()));
            }
        }
        Ok(None)
    }
}
