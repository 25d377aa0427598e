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
//! - a connection that ends in a protocol error (a malformed request, a client that went away) is
//!   logged at debug level: any client can cause one.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_http::{Extensions, HttpService, KeepAlive, Protocol};
use actix_service::{IntoServiceFactory, Service, ServiceFactory, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::{App, Error};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::domain::TrustedProxies;

/// How long a client may take to send a request's head, as actix-web's default.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection waits for the client to take the rest of the response.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// After an accept error other than a client's (too many open files, say), this pause.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
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

/// A connection on its way to a worker, with its place in its address's count.
struct Accepted {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    permit: Permit,
}

struct Accept {
    workers: Vec<mpsc::UnboundedSender<Accepted>>,
    next: usize,
    permits: Permits,
    refused: Arc<AtomicU64>,
}

impl Accept {
    async fn run(
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
struct Permits {
    max: usize,
    exempt: TrustedProxies,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open connection of an address; dropping it closes the place.
struct Permit {
    ip: Option<IpAddr>,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Permits {
    fn new(max: usize, exempt: TrustedProxies) -> Permits {
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

/// What the app knows of the connection a request came on (see [`request_started`]).
pub struct Connection {
    stop: watch::Receiver<Option<Instant>>,
    /// The same as `stop`, read on every request without the watch's lock.
    stopping: Arc<AtomicBool>,
    served: Notify,
}

thread_local! {
    /// The connection being handed to actix-http: its on-connect hook and its graceful-stop
    /// signal are made inside that one call and take it from here.
    static HANDING_OVER: RefCell<Option<Rc<Connection>>> = const { RefCell::new(None) };
}

fn handing_over() -> Option<Rc<Connection>> {
    HANDING_OVER.with(|c| c.borrow().clone())
}

/// Called by the middleware for every request: the connection has served a request, so at a
/// stop it may close once it is idle. True when the server is stopping, and the response must
/// close the connection.
pub fn request_started(conn: &Connection) -> bool {
    conn.served.notify_one();
    conn.stopping.load(Ordering::Relaxed)
}

struct Worker {
    connections: mpsc::UnboundedReceiver<Accepted>,
    stop: watch::Receiver<Option<Instant>>,
    stopping: Arc<AtomicBool>,
    shutdown_timeout: Duration,
    addr: SocketAddr,
}

impl Worker {
    async fn run<F, T, B>(mut self, factory: F) -> io::Result<()>
    where
        F: Fn() -> App<T>,
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        // The host name the app falls back to when a request has none: the listen address, as
        // actix-web's server sets it (its constructor is not public beyond this one).
        let app_config = AppConfig::__priv_test_new(false, self.addr.to_string(), self.addr);
        let service = HttpService::<TcpStream, _, _>::build()
            .keep_alive(KeepAlive::default())
            .client_request_timeout(HEAD_TIMEOUT)
            .client_disconnect_timeout(DISCONNECT_TIMEOUT)
            .h1_allow_half_closed(true)
            .local_addr(self.addr)
            .on_connect_ext(|_: &TcpStream, ext: &mut Extensions| {
                if let Some(conn) = handing_over() {
                    ext.insert(conn);
                }
            })
            // At a stop, a connection closes as soon as it is idle, but not before it has
            // served a request: a client that connected just before the stop gets its answer.
            .graceful_shutdown_signal(|| {
                let conn = handing_over();
                async move {
                    let Some(conn) = conn else { return };
                    let mut stop = conn.stop.clone();
                    let _ = stop.wait_for(Option::is_some).await;
                    conn.served.notified().await;
                }
            })
            .finish(map_config(factory().into_factory(), move |()| {
                app_config.clone()
            }))
            .new_service(())
            .await
            .map_err(|()| io::Error::other("cannot start the HTTP service"))?;
        let (open, mut all_closed) = watch::channel(0_usize);
        let open = Rc::new(open);
        while let Some(accepted) = self.connections.recv().await {
            let Accepted {
                stream,
                peer,
                permit,
            } = accepted;
            let io = match TcpStream::from_std(stream) {
                Ok(io) => io,
                Err(e) => {
                    tracing::debug!(%peer, error = %crate::telemetry::cause_chain(&e), "cannot take over a connection");
                    continue;
                }
            };
            let conn = Rc::new(Connection {
                stop: self.stop.clone(),
                stopping: Arc::clone(&self.stopping),
                served: Notify::new(),
            });
            HANDING_OVER.with(|c| *c.borrow_mut() = Some(conn));
            let served = service.call((io, Protocol::Http1, Some(peer)));
            HANDING_OVER.with(|c| c.borrow_mut().take());
            open.send_modify(|n| *n += 1);
            let open = Rc::clone(&open);
            actix_web::rt::spawn(async move {
                if let Err(e) = served.await {
                    tracing::debug!(%peer, error = %crate::telemetry::cause_chain(&e), "connection ended on a protocol error");
                }
                drop(permit);
                open.send_modify(|n| *n -= 1);
            });
        }
        // The accept thread has stopped and handed over the last connections.
        let began = (*self.stop.borrow()).unwrap_or_else(Instant::now);
        let deadline = tokio::time::Instant::from_std(began + self.shutdown_timeout);
        let _ = tokio::time::timeout_at(deadline, all_closed.wait_for(|n| *n == 0)).await;
        Ok(())
    }
}
