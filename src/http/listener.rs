//! The HTTP listener: Tidegate's own accept loop in front of actix-http.
//!
//! actix-web's server cannot refuse a connection by its client's address, and when it stops it
//! drops the connections still waiting in the listen backlog or in its workers' queues, so
//! clients that connected in the last milliseconds before a SIGTERM got a reset. Here one thread
//! accepts connections and hands them to the HTTP worker threads, each running the app under
//! actix-http as actix-web's own workers do:
//!
//! - a client address holds at most `server.max_connections_per_ip` connections, and further ones
//!   are closed as soon as they are accepted (a trusted proxy, whose clients share its address,
//!   is exempt);
//! - on stop, what waits in the backlog is accepted and served before the listener closes; a
//!   connection answers the request it carries and closes, an idle keep-alive connection closes
//!   at once, and whatever is still open `server.shutdown_timeout_seconds` after the stop is
//!   closed;
//! - a request actix-http cannot parse gets the error envelope when it is for an API (see
//!   `screen`);
//! - a connection that ends in a protocol error (a malformed request, a client that went away) is
//!   logged at debug level: any client can cause one.

mod accept;
mod screen;
mod worker;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_service::ServiceFactory;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{App, Error};
use tokio::sync::{mpsc, oneshot, watch};

use crate::domain::TrustedProxies;
use accept::{Accept, Permits};
use worker::Worker;

pub use worker::{Connection, request_started};

const BACKLOG: i32 = 1024;

pub struct Settings {
    pub workers: usize,
    pub max_connections_per_ip: usize,
    /// Addresses whose connections are not counted per address.
    pub exempt: TrustedProxies,
    pub shutdown_timeout: Duration,
    /// Counts the connections refused for their address.
    pub refused: Arc<AtomicU64>,
}

/// Binds `addr` with a backlog of 1024, as actix-web binds its own listeners.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The running listener: `stop` begins a graceful stop, `stopped` resolves when every worker is
/// done.
pub struct Listener {
    stop: StopHandle,
    done: Vec<oneshot::Receiver<()>>,
}

/// Stops a [`Listener`] from anywhere.
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<watch::Sender<Option<Instant>>>,
    stopping: Arc<AtomicBool>,
}

impl StopHandle {
    /// Stops accepting, serves what is already waiting, lets open connections finish. The first
    /// call marks the start of the stop.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.stop.send_if_modified(|began| {
            let first = began.is_none();
            began.get_or_insert_with(Instant::now);
            first
        });
    }
}

impl Listener {
    pub fn handle(&self) -> StopHandle {
        self.stop.clone()
    }

    pub async fn stopped(self) {
        for done in self.done {
            // A worker that panicked drops its sender; it is done all the same.
            let _ = done.await;
        }
    }
}

/// Starts the accept thread and `settings.workers` HTTP worker threads, each running the app
/// that `factory` builds.
pub fn serve<F, T, B>(listener: TcpListener, settings: Settings, factory: F) -> io::Result<Listener>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let stop = watch::Sender::new(None::<Instant>);
    let stopping = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    let mut done = Vec::new();
    for n in 0..settings.workers.max(1) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (finished, finished_rx) = oneshot::channel();
        let (factory, timeout) = (factory.clone(), settings.shutdown_timeout);
        let (stop, stopping) = (stop.subscribe(), Arc::clone(&stopping));
        std::thread::Builder::new()
            .name(format!("http-worker-{n}"))
            .spawn(move || {
                let worker = Worker {
                    connections: rx,
                    stop,
                    stopping,
                    shutdown_timeout: timeout,
                    addr,
                };
                if let Err(e) = actix_web::rt::System::new().block_on(worker.run(factory)) {
                    tracing::error!(error = %crate::telemetry::cause_chain(&e), "HTTP worker stopped");
                }
                let _ = finished.send(());
            })?;
        senders.push(tx);
        done.push(finished_rx);
    }
    let accept = Accept {
        workers: senders,
        next: 0,
        permits: Permits::new(settings.max_connections_per_ip, settings.exempt),
        refused: settings.refused,
    };
    let told = stop.subscribe();
    std::thread::Builder::new()
        .name("http-accept".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build();
            match runtime {
                Ok(rt) => {
                    if let Err(e) = rt.block_on(accept.run(listener, told)) {
                        tracing::error!(error = %crate::telemetry::cause_chain(&e), "the listener stopped accepting");
                    }
                }
                Err(e) => tracing::error!(error = %crate::telemetry::cause_chain(&e), "cannot start the accept thread"),
            }
        })?;
    Ok(Listener {
        stop: StopHandle {
            stop: Arc::new(stop),
            stopping,
        },
        done,
    })
}
