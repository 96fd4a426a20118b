//! The RootResume server: the site, the terminal WebSocket, and a sandbox container per tab.
//!
//! Data flows one way: browser → [`ws`] → [`sessions`] → [`sandbox`]; nothing below calls up.

// The pages' view types, not erased (.cargo/config.toml), nest deeper than the default limit
// allows when the server renders them.
#![recursion_limit = "512"]

pub mod assets;
pub mod client;
pub mod config;
pub mod feeds;
pub mod files;
pub mod health;
pub mod ids;
pub mod metrics;
pub mod page_session;
pub mod reaper;
pub mod routes;
pub mod sandbox;
pub mod security;
pub mod sessions;
pub mod store;
pub mod watch;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::config::LeptosOptions;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use config::{Config, ShutdownMode};
use metrics::{MeteredSandbox, Metrics};
use sandbox::docker::DockerSandbox;
use sandbox::{Sandbox, SandboxError};
use sessions::SessionManager;
use store::{MemoryStore, RedisStore, SessionStore, StoreError};

/// A running server: the HTTP listener, the session manager and the reaper.
pub struct Server {
    addr: SocketAddr,
    sessions: Arc<SessionManager>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
    shutdown_timeout: Duration,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Docker endpoint in the configuration cannot be used.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The listener's address could not be read.
    #[error("cannot read the listening address: {0}")]
    Listener(#[from] std::io::Error),
    /// The shared store in the configuration cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The separate metrics address could not be bound.
    #[error("cannot listen for metrics on {addr} (metrics.listen): {source}")]
    MetricsListener {
        /// The configured address.
        addr: String,
        /// Why binding failed.
        source: std::io::Error,
    },
}

impl Server {
    /// Starts serving on `listener` with sandboxes from the backend in `config`
    /// (`sandbox.backend`: the Docker engine, or pods on a Kubernetes cluster).
    pub async fn start(
        config: Config,
        leptos_options: LeptosOptions,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        let sandbox: Arc<dyn Sandbox> = match config.backend {
            config::Backend::Docker if config.engines.is_empty() => Arc::new(
                DockerSandbox::new(&config.docker_host, &config.sandbox.image)?
                    .with_instance(&config.instance)
                    .with_runtime(&config.sandbox.runtime),
            ),
            config::Backend::Docker => {
                let mut engines = Vec::new();
                for engine in &config.engines {
                    let mut docker = DockerSandbox::new(&engine.endpoint, &config.sandbox.image)?
                        .with_instance(&config.instance)
                        .with_runtime(&config.sandbox.runtime)
                        .with_name(&engine.name);
                    if let Some(tls) = &engine.tls {
                        docker = docker.with_tls(tls)?;
                    }
                    let sandbox: Arc<dyn Sandbox> = Arc::new(docker);
                    engines.push((engine.clone(), sandbox));
                }
                Arc::new(sandbox::engines::EngineSet::new(engines))
            }
            config::Backend::Kubernetes => Arc::new(
                sandbox::kubernetes::KubernetesSandbox::new(config.kubernetes.clone())
                    .with_instance(&config.instance),
            ),
        };
        Self::start_with(config, leptos_options, listener, sandbox).await
    }

    /// Starts serving with a given sandbox backend.
    pub async fn start_with(
        config: Config,
        leptos_options: LeptosOptions,
        listener: TcpListener,
        sandbox: Arc<dyn Sandbox>,
    ) -> Result<Self, StartError> {
        let addr = listener.local_addr()?;
        let metrics = Arc::new(Metrics::new());
        let sandbox: Arc<dyn Sandbox> = Arc::new(MeteredSandbox::new(sandbox, metrics.clone()));
        let replica = store::replica_holder(&config.store.replica);
        let store: Arc<dyn SessionStore> = if config.store.redis_url.is_empty() {
            Arc::new(MemoryStore::new(&replica))
        } else {
            tracing::info!(%replica, "sessions are shared through Redis");
            Arc::new(RedisStore::new(
                &config.store.redis_url,
                &config.instance,
                &replica,
            )?)
        };
        let sessions = Arc::new(
            SessionManager::with_store(
                sandbox.clone(),
                store,
                config.sessions.clone(),
                config.sandbox.clone(),
            )
            .with_metrics(metrics)
            .keep_on_shutdown(config.on_shutdown == ShutdownMode::Keep),
        );
        let metrics_listener = match config::parse_address("metrics.listen", &config.metrics.listen)
        {
            Ok(Some(metrics_addr)) => {
                Some(TcpListener::bind(metrics_addr).await.map_err(|source| {
                    StartError::MetricsListener {
                        addr: config.metrics.listen.clone(),
                        source,
                    }
                })?)
            }
            _ => None,
        };
        match sandbox.check().await {
            Ok(()) => tracing::info!("sandbox engine reachable and image present"),
            Err(error) => {
                tracing::warn!(%error, "sandboxes are unavailable until this is fixed; serving anyway")
            }
        }
        if config.reaper.reconcile_on_start {
            match reaper::reconcile(&sessions, config.reaper.adopt_on_start).await {
                Ok(reconcile) => {
                    tracing::info!(?reconcile, "reconciled containers left by earlier runs")
                }
                Err(error) => tracing::warn!(%error, "could not reconcile containers at start"),
            }
        }

        sessions.start_heartbeat();
        sessions.start_pool();
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(reaper::run(
            sessions.clone(),
            Duration::from_secs(config.reaper.interval_secs),
            stop.clone(),
        ));
        tasks.spawn(reaper::watch(sessions.clone(), stop.clone()));
        let app = routes::router(&config, leptos_options, sessions.clone());
        let serve_stop = stop.clone();
        let proxies = config.proxy_policy();
        tasks.spawn(async move {
            security::serve(listener, app, &config.security, &proxies, serve_stop).await;
        });
        if let Some(listener) = metrics_listener {
            let ops = health::router(sessions.clone(), &config.metrics.token, false);
            let ops_stop = stop.clone();
            tracing::info!(addr = %config.metrics.listen, "serving /metrics, /healthz and /readyz");
            tasks.spawn(async move {
                let service = ops.into_make_service_with_connect_info::<SocketAddr>();
                if let Err(error) = axum::serve(listener, service)
                    .with_graceful_shutdown(ops_stop.cancelled_owned())
                    .await
                {
                    tracing::error!(%error, "metrics server failed");
                }
            });
        }
        tracing::info!(%addr, "listening");
        Ok(Self {
            addr,
            sessions,
            stop,
            tasks,
            shutdown_timeout: Duration::from_secs(config.shutdown_timeout_secs),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The session manager.
    pub fn sessions(&self) -> &Arc<SessionManager> {
        &self.sessions
    }

    /// Stops accepting connections, ends every session (removing its container) and waits for
    /// the server's tasks, at most the configured shutdown timeout for the sessions.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        if !self.sessions.shutdown(self.shutdown_timeout).await {
            tracing::warn!("some sessions did not end in time; the next start's reconcile removes their containers");
        }
        // The listener, the reaper and the metrics server stop on `stop`; whatever has not by
        // the deadline (a sweep stuck on the engine, a connection that will not close) is
        // aborted: shutdown has one overall bound.
        let rest = deadline.saturating_duration_since(tokio::time::Instant::now());
        let joined = tokio::time::timeout(rest.max(std::time::Duration::from_secs(1)), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if joined.is_err() {
            tracing::warn!("server tasks did not stop in time; aborting them");
            self.tasks.shutdown().await;
        }
    }
}
