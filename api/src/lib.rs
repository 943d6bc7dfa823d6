//! Kefu api: the regional, stateless HTTP/WebSocket server of the Kefu live-chat SaaS.
//!
//! `main.rs` is a thin CLI; everything else is here so tests can start the real server on an
//! ephemeral port with [`build_state`] and [`run`]. See docs/ARCHITECTURE.md for the map.

pub mod analytics;
pub mod archive;
pub mod attachments;
pub mod auth;
pub mod billing;
pub mod bot;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
#[cfg(any(test, feature = "testing"))]
pub mod fake_stripe;
pub mod hours;
pub mod http;
pub mod limits;
pub mod mail;
pub mod ops;
pub mod realtime;
pub mod redis_link;
pub mod reply_mail;
pub mod routing;
pub mod rules;
pub mod search;
pub mod state;
pub mod telemetry;
pub mod tenancy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transport;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

/// Connects to Postgres (lazily) and Redis (eagerly, if configured) and builds the state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let acquire_timeout = Duration::from_millis(config.database.acquire_timeout_ms);
    let control = db::connect_recycling(
        config.database_url(),
        config.database.max_connections,
        acquire_timeout,
        config.database.recycle_after_uses,
    )
    .context("invalid database.url")?;
    for warning in config.transport_warnings() {
        tracing::warn!("{warning}");
    }
    check_control_database(&control).await?;
    let db = db::Databases::new(
        control,
        db::databases::PoolSettings {
            max_connections: config.database.tenant_max_connections,
            acquire_timeout,
            recycle_after_uses: config.database.recycle_after_uses,
            transport: config.database_policy(),
        },
    );
    let shutdown = CancellationToken::new();
    let tls = config.redis_tls().map_err(|problems| anyhow::anyhow!(problems.join("; ")))?;
    let (redis, bus) = match config.redis_target() {
        None => (None, realtime::bus::Bus::local()),
        Some(redis_link::RedisTarget::Single(url)) => {
            let manager = redis_link::connect_single(&url, tls.as_ref()).await?;
            let client = redis_link::client(&url, tls.as_ref())?;
            let bus = realtime::bus::Bus::with_redis(client, manager.clone(), shutdown.clone());
            (Some(redis_link::RedisLink::Single(manager)), bus)
        }
        Some(redis_link::RedisTarget::Cluster(nodes)) => {
            let commands = redis_link::connect_cluster(&nodes, tls.as_ref(), None).await?;
            let (pushes, received) = tokio::sync::mpsc::unbounded_channel();
            let subscriber = redis_link::connect_cluster(&nodes, tls.as_ref(), Some(pushes)).await?;
            let bus = realtime::bus::Bus::with_redis_cluster(commands.clone(), subscriber, received, shutdown.clone());
            (Some(redis_link::RedisLink::Cluster(commands)), bus)
        }
    };
    AppState::new(config, db, redis, bus, shutdown, telemetry::metrics_handle())
}

/// Connects once to the control database at start. A TLS or configuration problem (a CA that
/// did not sign the server's certificate, a certificate for another host, a server without TLS
/// under `sslmode=verify-full`, an unreadable file) does not go away by waiting, so it stops the
/// start with its reason; a server that is down or slow only delays readiness (`/readyz`), as a
/// restart of Postgres does later.
async fn check_control_database(control: &sqlx::PgPool) -> anyhow::Result<()> {
    match control.acquire().await {
        Ok(_) => Ok(()),
        Err(error) if transport::is_tls_failure(&error) || matches!(error, sqlx::Error::Configuration(_)) => {
            // The error's own text already carries its cause (its source chain would repeat it).
            Err(anyhow::anyhow!("cannot connect to the control database (database.url): {error}"))
        }
        Err(error) => {
            tracing::warn!(%error, "the control database does not answer yet; /readyz says so until it does");
            Ok(())
        }
    }
}

/// Serves the api on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let worker =
        mail::spawn_worker(&state.config, state.db.control().clone(), state.mail_wakeup.clone(), stop.clone())?;
    let resolver = tokio::spawn(db::two_phase::run_resolver(state.db.clone(), stop.clone()));
    let sessions = state.shutdown.clone();
    let draining = state.draining.clone();
    let delay = std::time::Duration::from_secs(state.config.http.shutdown_delay_secs);
    let app = http::router(state);
    // On shutdown: report not ready and keep serving for `http.shutdown_delay_secs` (load
    // balancers take the node out meanwhile); then stop accepting, tell WebSocket clients to
    // reconnect elsewhere (close 1001), and drain in-flight requests.
    // Small frames (acks, chat messages) must not wait for Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown.await;
            draining.cancel();
            if !delay.is_zero() {
                tracing::info!(delay_secs = delay.as_secs(), "draining: not ready, still serving");
                tokio::time::sleep(delay).await;
            }
            sessions.cancel();
        })
        .await;
    stop.cancel();
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    let _ = resolver.await;
    served.context("HTTP server failed")
}
