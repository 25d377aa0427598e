//! The accept thread: it takes each connection from the listen socket (and, at a stop, what
//! still waits in the backlog), closes one whose address already holds as many connections as
//! it may, and hands the others to the HTTP workers in turn.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::BACKLOG;
use crate::domain::TrustedProxies;

/// After an accept error other than a client's (too many open files, say), this pause.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A connection on its way to a worker, with its place in its address's count.
pub(super) struct Accepted {
    pub(super) stream: std::net::TcpStream,
    pub(super) peer: SocketAddr,
    pub(super) permit: Permit,
}

pub(super) struct Accept {
    pub(super) workers: Vec<mpsc::UnboundedSender<Accepted>>,
    pub(super) next: usize,
    pub(super) permits: Permits,
    pub(super) refused: Arc<AtomicU64>,
}

impl Accept {
    pub(super) async fn run(
        mut self,
        listener: TcpListener,
        mut stop: watch::Receiver<Option<Instant>>,
    ) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        loop {
            tokio::select! {
                biased;
                _ = stop.wait_for(Option::is_some) => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => match stream.into_std() {
                        Ok(stream) => self.dispatch(stream, peer),
                        Err(e) => tracing::debug!(error = %crate::telemetry::cause_chain(&e), "cannot take over a connection"),
                    },
                    Err(e) if client_side(&e) => {}
                    Err(e) => {
                        tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot accept connections");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                },
            }
        }
        // Clients already waiting in the backlog connected before the stop: serve them too. The
        // backlog holds at most BACKLOG, so a flood cannot keep the stop from ending.
        let listener = listener.into_std()?;
        for _ in 0..BACKLOG {
            match listener.accept() {
                Ok((stream, peer)) => self.dispatch(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if client_side(&e) => {}
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot accept the connections left at the stop");
                    break;
                }
            }
        }
        // Closing the listener and the queues lets the workers finish.
        Ok(())
    }

    fn dispatch(&mut self, stream: std::net::TcpStream, peer: SocketAddr) {
        // A socket from the listener's own accept is blocking; the workers' runtimes take only
        // non-blocking ones.
        if let Err(e) = stream.set_nonblocking(true) {
            tracing::debug!(%peer, error = %crate::telemetry::cause_chain(&e), "cannot take over a connection");
            return;
        }
        let Some(permit) = self.permits.take(peer.ip().to_canonical()) else {
            // Closed at once: the address already holds as many connections as it may.
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut conn = Accepted {
            stream,
            peer,
            permit,
        };
        for _ in 0..self.workers.len() {
            let worker = &self.workers[self.next % self.workers.len()];
            self.next = self.next.wrapping_add(1);
            match worker.send(conn) {
                Ok(()) => return,
                // That worker has stopped; try the next.
                Err(unsent) => conn = unsent.0,
            }
        }
    }
}

/// Accept errors that concern one client's connection only.
fn client_side(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Open connections per client address.
pub(super) struct Permits {
    max: usize,
    exempt: TrustedProxies,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open connection of an address; dropping it closes the place.
pub(super) struct Permit {
    ip: Option<IpAddr>,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Permits {
    pub(super) fn new(max: usize, exempt: TrustedProxies) -> Permits {
        Permits {
            max,
            exempt,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn take(&self, ip: IpAddr) -> Option<Permit> {
        let open = Arc::clone(&self.open);
        if self.exempt.trusts(ip) {
            return Some(Permit { ip: None, open });
        }
        let mut counts = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        drop(counts);
        Some(Permit { ip: Some(ip), open })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut counts = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}
