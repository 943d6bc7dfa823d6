//! Service hours (F21, F22): business hours with special days, the automatic replies, and the
//! closing of idle conversations. Every member
//! reads them (with what they say right now); admins change them. A change is pushed to waiting
//! visitors at once (their `status` frames), not at the next minute's refresh.

use axum::extract::State;
use chrono::{DateTime, Utc};
use kefu_protocol::ErrorCode;
use kefu_protocol::hours::ServiceHours;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AdminUp, AnyMember, ApiJson, Auth};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result};
use crate::ops::events::Change;
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_service_hours, put_service_hours))
}

/// The service hours document and what it says now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHoursView {
    /// The document (docs/api.md lists every field and limit).
    pub service_hours: ServiceHours,
    /// Version; send it back when saving to avoid overwriting someone else's change.
    pub version: i64,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
    /// What the business hours say now; absent without business hours.
    pub now: Option<HoursNow>,
}

/// What the business hours say at the time of the request.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursNow {
    /// Open by the hours (visitors also need an agent connected to see the team there).
    pub open: bool,
    /// The wall-clock time in the hours' time zone, `YYYY-MM-DDTHH:MM`.
    pub local_time: String,
    /// When closed: the next opening within 60 days.
    pub opens_at: Option<DateTime<Utc>>,
}

/// A new document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveServiceHoursRequest {
    /// The whole document.
    pub service_hours: ServiceHours,
    /// The version it was based on; a newer saved version is a `409 version_conflict`.
    pub version: Option<i64>,
}

async fn view(tx: &mut TenantTx, row: db::service_hours::ServiceHoursRow) -> sqlx::Result<ServiceHoursView> {
    let doc = row.service_hours.0;
    let now = match &doc.business_hours {
        Some(hours) => {
            let clock = crate::hours::clock(tx, hours, Utc::now()).await?;
            let (hh, mm) = (clock.local.minute / 60, clock.local.minute % 60);
            Some(HoursNow {
                open: clock.open,
                local_time: format!("{}T{hh:02}:{mm:02}", clock.local.date.format("%Y-%m-%d")),
                opens_at: clock.opens_at,
            })
        }
        None => None,
    };
    Ok(ServiceHoursView { service_hours: doc, version: row.version, updated_at: row.updated_at, now })
}

/// The tenant's service hours (the defaults until first saved: no business hours, automatic
/// replies off).
#[utoipa::path(get, path = "/api/v1/service-hours", tag = "service-hours", security(("bearer" = [])),
    responses((status = 200, body = ServiceHoursView)))]
async fn get_service_hours(
    State(state): State<AppState>,
    auth: Auth<AnyMember>,
) -> Result<axum::Json<ServiceHoursView>> {
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = db::service_hours::get(&mut tx).await?;
    let view = view(&mut tx, row).await?;
    tx.commit().await?;
    Ok(axum::Json(view))
}

/// Saves the service hours (admins); every invalid field is reported at once.
#[utoipa::path(put, path = "/api/v1/service-hours", tag = "service-hours", security(("bearer" = [])),
    request_body = SaveServiceHoursRequest,
    responses((status = 200, body = ServiceHoursView), (status = 403, description = "forbidden"),
        (status = 409, description = "version_conflict"), (status = 422, description = "validation_failed")))]
async fn put_service_hours(
    State(state): State<AppState>,
    auth: Auth<AdminUp>,
    ApiJson(body): ApiJson<SaveServiceHoursRequest>,
) -> Result<axum::Json<ServiceHoursView>> {
    let doc = body.service_hours;
    let mut problems = doc.validate();
    if let Some(hours) = &doc.business_hours
        && problems.iter().all(|p| p.field != "business_hours.timezone")
    {
        let mut conn = state.db.control().acquire().await?;
        if !db::service_hours::timezone_exists(&mut conn, &hours.timezone).await? {
            problems.push(kefu_protocol::FieldError {
                field: "business_hours.timezone".into(),
                code: "unknown".into(),
                message: "not a known IANA time zone (e.g. Asia/Shanghai)".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(
            problems.into_iter().map(|mut p| (p.field = format!("service_hours.{}", p.field), p).1).collect(),
        ));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let Some(row) = db::service_hours::save(&mut tx, &doc, body.version).await? else {
        return Err(ApiError::client(
            ErrorCode::VersionConflict,
            "The service hours were saved by someone else in the meantime; reload them and apply your change again.",
        ));
    };
    db::auto_close::register(&mut tx, doc.auto_close.enabled.then_some(doc.auto_close.after_minutes)).await?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "service_hours.saved",
        None,
        serde_json::json!({ "version": row.version }),
    )
    .await?;
    let view = view(&mut tx, row).await?;
    tx.commit().await?;
    state.replies_on.forget(auth.tenant.id);
    state.events.publish(Change::QueueReordered { tenant: auth.tenant.id });
    Ok(axum::Json(view))
}
