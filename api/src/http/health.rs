//! Liveness (`/healthz`), readiness (`/readyz`: Postgres and Redis answer) and `/metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;

use crate::state::AppState;

/// Routes of this module (kept out of the OpenAPI document: they are for operators).
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    postgres: &'static str,
    redis: &'static str,
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let limit = Duration::from_secs(2);
    let postgres = match tokio::time::timeout(limit, sqlx::query("select 1").execute(state.db.control())).await {
        Ok(Ok(_)) => "ok",
        _ => "unavailable",
    };
    let redis = match &state.redis {
        None => "not_configured",
        Some(redis) => {
            let mut redis = redis.clone();
            let ping = redis::cmd("PING");
            match tokio::time::timeout(limit, ping.query_async::<String>(&mut redis)).await {
                Ok(Ok(_)) => "ok",
                _ => "unavailable",
            }
        }
    };
    let ready = postgres == "ok" && redis != "unavailable";
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(Readiness { status: if ready { "ready" } else { "not_ready" }, postgres, redis }))
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    let main = (crate::db::DatabaseId::main(), state.db.control().clone());
    for (database, pool) in std::iter::once(main).chain(state.db.open_pools()) {
        let label = database.to_string();
        metrics::gauge!("kefu_db_pool_connections", "database" => label.clone()).set(f64::from(pool.size()));
        metrics::gauge!("kefu_db_pool_idle_connections", "database" => label).set(pool.num_idle() as f64);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
