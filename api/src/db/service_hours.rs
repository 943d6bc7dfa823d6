//! Tenant-scoped service hours (`widget_settings.service_hours`, its own version), and the
//! conversions between instants and the tenant's wall-clock time, which Postgres' time zone
//! database does (docs/decisions.md).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use kefu_protocol::hours::{LocalTime, ServiceHours};
use sqlx::types::Json;

use super::TenantTx;

/// The stored document.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServiceHoursRow {
    /// The document.
    pub service_hours: Json<ServiceHours>,
    /// Bumped on every save.
    pub version: i64,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "service_hours, service_hours_version as version, service_hours_updated_at as updated_at";

/// The document (the defaults until first saved).
pub async fn get(tx: &mut TenantTx) -> sqlx::Result<ServiceHoursRow> {
    super::widget::get(tx).await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from widget_settings"))).fetch_one(tx.conn()).await
}

/// The document as the running service reads it: no row yet means the defaults.
pub async fn current(tx: &mut TenantTx) -> sqlx::Result<ServiceHours> {
    let stored: Option<Json<ServiceHours>> =
        sqlx::query_scalar("select service_hours from widget_settings").fetch_optional(tx.conn()).await?;
    Ok(stored.map(|Json(doc)| doc).unwrap_or_default())
}

/// Saves a new document when `expected_version` (if given) is still current; `None` on a
/// conflict.
pub async fn save(
    tx: &mut TenantTx,
    doc: &ServiceHours,
    expected_version: Option<i64>,
) -> sqlx::Result<Option<ServiceHoursRow>> {
    super::widget::get(tx).await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update widget_settings
            set service_hours = $1, service_hours_version = service_hours_version + 1,
                service_hours_updated_at = now()
          where $2::bigint is null or service_hours_version = $2
          returning {COLUMNS}"
    )))
    .bind(Json(doc))
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
}

/// The wall-clock time in `timezone` at the instant `at`.
pub async fn local_time(tx: &mut TenantTx, timezone: &str, at: DateTime<Utc>) -> sqlx::Result<LocalTime> {
    let (date, minute): (NaiveDate, i32) = sqlx::query_as(
        "select (($1::timestamptz) at time zone $2)::date,
                (extract(hour from ($1::timestamptz) at time zone $2) * 60
                 + extract(minute from ($1::timestamptz) at time zone $2))::int",
    )
    .bind(at)
    .bind(timezone)
    .fetch_one(tx.conn())
    .await?;
    Ok(LocalTime { date, minute: u16::try_from(minute).unwrap_or(0) })
}

/// The instant of the wall-clock time `local` in `timezone`. A time a daylight-saving change
/// skips (02:30 on a spring-forward night) comes out an hour later, as Postgres reads it.
pub async fn instant_of(tx: &mut TenantTx, timezone: &str, local: LocalTime) -> sqlx::Result<DateTime<Utc>> {
    let time = NaiveTime::from_num_seconds_from_midnight_opt(u32::from(local.minute) * 60, 0).unwrap_or_default();
    sqlx::query_scalar("select ($1::timestamp at time zone $2)")
        .bind(local.date.and_time(time))
        .bind(timezone)
        .fetch_one(tx.conn())
        .await
}

/// Whether Postgres knows the time zone `name`.
pub async fn timezone_exists(conn: &mut sqlx::PgConnection, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from pg_timezone_names where name = $1)")
        .bind(name)
        .fetch_one(conn)
        .await
}
