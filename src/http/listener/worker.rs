//! An HTTP worker: it runs the app under actix-http on the connections the accept thread hands
//! it, tells the app which connection a request came on, and at a stop closes each connection
//! once it has served a request and is idle.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix_http::{Extensions, HttpService, KeepAlive, Protocol, ServiceConfig};
use actix_service::{IntoServiceFactory, Service, ServiceFactory, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::{App, Error};
use tokio::sync::{Notify, mpsc, watch};

use super::accept::Accepted;
use super::screen::Screened;

/// How long a client may take to send a request's head, as actix-web's default.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection waits for the client to take the rest of the response.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

pub(super) struct Worker {
    pub(super) connections: mpsc::UnboundedReceiver<Accepted>,
    pub(super) stop: watch::Receiver<Option<Instant>>,
    pub(super) stopping: Arc<AtomicBool>,
    pub(super) shutdown_timeout: Duration,
    pub(super) addr: SocketAddr,
}

impl Worker {
    pub(super) async fn run<F, T, B>(mut self, factory: F) -> io::Result<()>
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
        let service = HttpService::<Screened<TcpStream>, _, _>::build()
            .keep_alive(KeepAlive::default())
            .client_request_timeout(HEAD_TIMEOUT)
            .client_disconnect_timeout(DISCONNECT_TIMEOUT)
            .h1_allow_half_closed(true)
            .local_addr(self.addr)
            .on_connect_ext(|_: &Screened<TcpStream>, ext: &mut Extensions| {
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
        // The decoder that screens each connection's requests (see `screen`); its settings do not
        // change how it decodes.
        let screening = ServiceConfig::default();
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
            let io = Screened::new(io, peer, &screening);
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
