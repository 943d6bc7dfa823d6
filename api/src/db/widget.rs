//! Tenant-scoped `widget_settings`: the one settings document, its version and the identity
//! verification secret.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::TenantTx;
use kefu_protocol::widget::WidgetSettings;

/// The stored document.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WidgetRow {
    /// The settings.
    pub settings: Json<WidgetSettings>,
    /// Identity verification secret, once generated.
    pub identity_secret: Option<String>,
    /// Bumped on every save.
    pub version: i64,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

/// The settings, created with the defaults on first read.
pub async fn get(tx: &mut TenantTx) -> sqlx::Result<WidgetRow> {
    let existing = sqlx::query_as("select settings, identity_secret, version, updated_at from widget_settings")
        .fetch_optional(tx.conn())
        .await?;
    if let Some(row) = existing {
        return Ok(row);
    }
    sqlx::query_as(
        "insert into widget_settings (settings) values ($1)
         on conflict (singleton) do update set singleton = excluded.singleton
         returning settings, identity_secret, version, updated_at",
    )
    .bind(Json(WidgetSettings::default()))
    .fetch_one(tx.conn())
    .await
}

/// Saves new settings when `expected_version` (if given) is still current; `None` on a conflict.
pub async fn save(
    tx: &mut TenantTx,
    settings: &WidgetSettings,
    expected_version: Option<i64>,
) -> sqlx::Result<Option<WidgetRow>> {
    get(tx).await?;
    sqlx::query_as(
        "update widget_settings set settings = $1, version = version + 1, updated_at = now()
         where $2::bigint is null or version = $2
         returning settings, identity_secret, version, updated_at",
    )
    .bind(Json(settings))
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
}

/// Replaces the identity verification secret (a new version: the edge picks it up).
pub async fn set_identity_secret(tx: &mut TenantTx, secret: &str) -> sqlx::Result<WidgetRow> {
    get(tx).await?;
    sqlx::query_as(
        "update widget_settings set identity_secret = $1, version = version + 1, updated_at = now()
         returning settings, identity_secret, version, updated_at",
    )
    .bind(secret)
    .fetch_one(tx.conn())
    .await
}
