//! Liveness (`/healthz`), readiness (`/readyz`: Postgres and Redis answer, and the node is not
//! draining for shutdown) and `/metrics` (for the bearer of `http.metrics_token`;
//! docs/observability.md).

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use kefu_protocol::ErrorCode;
use secrecy::SecretString;
use serde::Serialize;

use crate::config::Mode;
use crate::error::{ApiError, Result};
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
    if state.draining.is_cancelled() {
        let draining = Readiness { status: "draining", postgres: "not_checked", redis: "not_checked" };
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(draining));
    }
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

/// Who may read `/metrics`: with a token configured, its bearer only (`401` otherwise); without
/// one, nobody in production (`404`, as if there were no such path) and anyone in development.
fn metrics_access(mode: Mode, token: Option<&SecretString>, headers: &HeaderMap) -> Result<()> {
    let Some(token) = token else {
        return match mode {
            Mode::Development => Ok(()),
            Mode::Production => Err(ApiError::client(ErrorCode::ResourceNotFound, "No such path.")),
        };
    };
    if super::extract::bearer_is(headers, token) {
        Ok(())
    } else {
        Err(ApiError::client(ErrorCode::Unauthenticated, "The metrics token is required."))
    }
}

async fn render_metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse> {
    metrics_access(state.config.mode, state.config.http.metrics_token.as_ref(), &headers)?;
    let main = (crate::db::DatabaseId::main(), state.db.control().clone());
    for (database, pool) in std::iter::once(main).chain(state.db.open_pools()) {
        let label = database.to_string();
        metrics::gauge!("kefu_db_pool_connections", "database" => label.clone()).set(f64::from(pool.size()));
        metrics::gauge!("kefu_db_pool_idle_connections", "database" => label).set(pool.num_idle() as f64);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().expect("header"));
        headers
    }

    #[test]
    fn metrics_need_the_token_and_production_without_one_serves_none() {
        let token = SecretString::from("a-metrics-token-that-is-long-enough-000".to_owned());
        let right = bearer("Bearer a-metrics-token-that-is-long-enough-000");
        for mode in [Mode::Development, Mode::Production] {
            assert!(metrics_access(mode, Some(&token), &right).is_ok());
            assert!(metrics_access(mode, Some(&token), &HeaderMap::new()).is_err());
            assert!(
                metrics_access(mode, Some(&token), &bearer("Bearer a-metrics-token-that-is-long-enough-001")).is_err()
            );
            assert!(metrics_access(mode, Some(&token), &bearer("a-metrics-token-that-is-long-enough-000")).is_err());
        }
        assert!(metrics_access(Mode::Development, None, &HeaderMap::new()).is_ok());
        let hidden = metrics_access(Mode::Production, None, &right).expect_err("not served");
        assert!(matches!(hidden, ApiError::Client { code: ErrorCode::ResourceNotFound, .. }));
    }
}
