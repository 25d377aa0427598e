//! Application start-up: bind the listener first, open the store, bootstrap, start the log
//! writer and the job scheduler, build the HTTP server. `run_until_stopped` serves until
//! SIGINT/SIGTERM, lets in-flight requests and running generations finish, stops the scheduler,
//! then flushes the log writer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, web};

mod command;
mod settings;

pub use command::main;

use crate::config::Config;
use crate::domain::{Clock, IpHasher};
use crate::http::listener::{self, Listener};
use crate::http::metrics::Metrics;
use crate::http::middleware::request_context;
use crate::http::state::AppState;
use crate::jobs::deliverer::Deliverer;
use crate::jobs::generation::{self as workers, WorkQueue};
use crate::jobs::mailer::Mailer;
use crate::jobs::node::NodeLease;
use crate::jobs::syslog::Streamer;
use crate::jobs::{JobContext, JobError, Scheduler};
use crate::service::MediaStore;
use crate::service::ServiceError;
use crate::service::auth_limits::SignInGuard;
use crate::service::bootstrap::{AdminCreated, ensure_instance_admin, repair};
use crate::service::gate::Gate;
use crate::service::generations::{Roster, load_catalog};
use crate::store::request_log::RequestLogThread;
use crate::store::{Store, StoreError};

/// How often a node beside others checks the generations it runs against the store (see
/// the cancel listener in `build`).
const CANCEL_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Jobs(#[from] JobError),
}

/// How long webhook deliveries in flight at a stop may take to finish.
const DELIVERY_GRACE: Duration = Duration::from_secs(5);

pub struct Application {
    address: SocketAddr,
    server: Listener,
    log_thread: RequestLogThread,
    scheduler: Scheduler,
    deliverer: Deliverer,
    /// Streaming the activity log to syslog, when configured; stops when dropped.
    syslog: Option<Streamer>,
    mailer: Option<Mailer>,
    lease: NodeLease,
    queue: Arc<WorkQueue>,
    state: web::Data<AppState>,
    /// Set when this start created the instance administrator.
    pub admin_created: Option<AdminCreated>,
}

fn job_context(state: &AppState) -> JobContext {
    JobContext {
        store: state.store.clone(),
        config: state.config.clone(),
        clock: state.clock.clone(),
        catalog: state.roster.catalog_handle(),
    }
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, AppError> {
        Self::build_with_clock(config, Clock::system()).await
    }

    pub async fn build_with_clock(config: Config, clock: Clock) -> Result<Application, AppError> {
        let addr = config.server.listen;
        let listener = listener::bind(addr).map_err(|source| AppError::Bind { addr, source })?;
        let address = listener.local_addr()?;

        let checked = settings::check(&config)?;
        let (key_format, proxies, regions) = (checked.key_format, checked.proxies, checked.regions);
        let sso = crate::service::oidc::SingleSignOn::from_config(
            &config.auth.oidc,
            checked.provision_role,
        )
        .map_err(|e| AppError::Config(format!("auth.oidc: the HTTP client: {e}")))?
        .map(Arc::new);
        let config = Arc::new(config);
        // Blocking start-up work, on a thread of its own: PostgreSQL's client must not block
        // a thread that runs async tasks.
        let now = clock.now();
        let (store, gate, log_thread, admin_created) = std::thread::scope(|scope| {
            scope
                .spawn(|| -> Result<_, AppError> {
                    // The log writer starts the checkpointer thread below.
                    let store = Store::configured(&config, true)?;
                    let mut db = store.db()?;
                    let secret = crate::store::settings::install_secret(&db.read())?;
                    let admin_password = std::env::var("TIDEGATE_ADMIN_PASSWORD").ok();
                    let admin_created =
                        ensure_instance_admin(&mut db, &config, now, admin_password)?;
                    for change in repair(&mut db, &config, now)? {
                        tracing::warn!(change, "repaired the store");
                    }
                    drop(db);
                    let (gate, log_thread) = Gate::start(
                        &store,
                        Arc::clone(&config),
                        key_format,
                        IpHasher::new(&secret),
                    )?;
                    Ok((store, gate, log_thread, admin_created))
                })
                .join()
                .unwrap_or_else(|_| Err(AppError::Config("start-up thread panicked".into())))
        })?;
        let catalog = load_catalog(config.generation.catalog_file()).map_err(AppError::Config)?;
        let roster = Arc::new(Roster::new(Arc::new(catalog)).map_err(AppError::Config)?);
        let queue = Arc::new(WorkQueue::new(Arc::clone(&roster)));
        let media = MediaStore::new(&config.storage.data_dir);
        let store_retries = Arc::new(AtomicU64::new(0));
        let lease = NodeLease::start(store.clone(), clock.clone(), Arc::clone(&queue)).await?;
        let context = workers::Context {
            store: store.clone(),
            clock: clock.clone(),
            roster: Arc::clone(&roster),
            media: media.clone(),
            queue: Arc::clone(&queue),
            store_retries: Arc::clone(&store_retries),
        };
        let (resumed, failed) =
            workers::start(Arc::new(context), config.generation.workers).await?;
        // A generation canceled through another node: its provider call here stops too.
        if let Some(mut stopped) =
            crate::store::notices::listen(&store, crate::store::generations::STOPPED)?
        {
            let heard = Arc::clone(&queue);
            tokio::spawn(async move {
                while let Some(id) = stopped.recv().await {
                    heard.stop(&id).await;
                }
            });
            // Notifications sent while the listener reconnects are lost: the node also looks
            // at what it runs every few seconds, and stops what was canceled or deleted.
            let (queue, store) = (Arc::clone(&queue), store.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(CANCEL_POLL);
                loop {
                    every.tick().await;
                    let ids = queue.running_ids();
                    if ids.is_empty() {
                        continue;
                    }
                    let ended = store
                        .run(move |db| {
                            crate::store::generations::no_longer_running(&db.read(), &ids)
                        })
                        .await;
                    for id in ended.unwrap_or_default() {
                        queue.stop(&id).await;
                    }
                }
            });
        }
        gate.hear_blocks(&store)?;
        if resumed + failed > 0 {
            tracing::warn!(
                resumed,
                failed,
                "generations left in flight by the last run"
            );
        }
        let secret_scanning =
            crate::service::secret_scanning::SecretScanning::new(&config.secret_scanning)
                .map_err(AppError::Config)?;
        let state = web::Data::new(AppState {
            secret_scanning: Arc::new(secret_scanning),
            signin: SignInGuard::new(&config, &store, gate.ip_hasher.clone()),
            sso,
            config,
            store,
            gate,
            clock,
            proxies,
            regions,
            metrics: Metrics::default(),
            openapi: serde_json::to_vec(&crate::http::v1::openapi::document()).unwrap_or_default(),
            management_openapi: serde_json::to_vec(&crate::http::api::openapi::document())
                .unwrap_or_default(),
            reveals: crate::http::reveal::Reveals::default(),
            webhook_reveals: crate::http::reveal::Reveals::default(),
            roster,
            workers: Arc::clone(&queue) as Arc<dyn crate::service::generations::Workers>,
            media,
            generation_store_retries: store_retries,
        });
        let scheduler = Scheduler::start(job_context(&state)).await?;
        let deliverer = Deliverer::start(
            state.store.clone(),
            state.clock.clone(),
            state.config.webhooks.clone(),
        )
        .map_err(AppError::Config)?;
        let syslog = Streamer::start(
            state.store.clone(),
            state.clock.clone(),
            &state.config.audit.syslog,
        )
        .map_err(AppError::Config)?;
        let mailer = Mailer::start(state.store.clone(), state.clock.clone(), &state.config.smtp)
            .map_err(AppError::Config)?;

        let server_config = state.config.server.clone();
        let app_state = state.clone();
        let settings = listener::Settings {
            workers: match server_config.workers {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n,
            },
            max_connections_per_ip: server_config.max_connections_per_ip,
            exempt: state.proxies.clone(),
            shutdown_timeout: Duration::from_secs(server_config.shutdown_timeout_seconds),
            refused: Arc::clone(&state.metrics.connections_refused),
        };
        let server = listener::serve(listener, settings, move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::JsonConfig::default().limit(server_config.max_body_bytes))
                .app_data(web::PayloadConfig::new(server_config.max_body_bytes))
                .wrap(from_fn(request_context))
                .configure(|cfg| crate::http::routes(cfg, server_config.metrics))
        })?;
        Ok(Application {
            address,
            server,
            log_thread,
            scheduler,
            deliverer,
            syslog,
            mailer,
            lease,
            queue,
            state,
            admin_created,
        })
    }

    /// What the scheduled jobs run with, for running one on demand (tests, tools).
    pub fn job_context(&self) -> JobContext {
        job_context(&self.state)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn clock(&self) -> Clock {
        self.state.clock.clone()
    }

    /// On SIGINT or SIGTERM: stop accepting requests and starting generations, let in-flight
    /// requests and running generations finish, then stop. The handlers are installed before this
    /// returns, so a signal sent right after start-up counts.
    pub fn stop_on_signals(&self) -> Result<(), AppError> {
        let handle = self.server.handle();
        let queue = Arc::clone(&self.queue);
        let mut signals = Signals::install()?;
        actix_web::rt::spawn(async move {
            signals.wait().await;
            tracing::info!("stopping: letting in-flight requests and running generations finish");
            queue.stop_taking();
            handle.stop();
        });
        Ok(())
    }

    pub async fn run_until_stopped(self) -> Result<(), AppError> {
        self.server.stopped().await;
        // Running generations share the requests' grace, counted from the signal.
        let grace = Duration::from_secs(self.state.config.server.shutdown_timeout_seconds);
        let left = self.queue.drain(grace).await;
        if left > 0 {
            tracing::warn!(
                running = left,
                "stopping with generations still running: the next start fails and refunds them"
            );
        }
        // Deliveries in flight may finish; what is left is sent again at the next start.
        self.deliverer.stop(DELIVERY_GRACE.min(grace)).await;
        if let Some(mailer) = self.mailer {
            mailer.stop().await;
        }
        self.scheduler.shutdown().await;
        // What this node leaves queued, the others take over at once.
        self.lease.stop().await;
        drop(self.syslog);
        // Every request has been answered (each waited for its commit); flush what is left.
        let log_thread = self.log_thread;
        tokio::task::spawn_blocking(move || log_thread.shutdown())
            .await
            .map_err(|e| AppError::Store(StoreError::Task(e.to_string())))?;
        tracing::info!("stopped");
        Ok(())
    }
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn wait(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
