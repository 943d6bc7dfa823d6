//! Service hours at run time (F21, F22): what the tenant's business hours say now — open or not,
//! and when the team next opens — the automatic replies sent on the team's behalf
//! ([`auto_reply`]), and the closing of idle conversations ([`auto_close`]). The document itself is `kefu_protocol::hours::ServiceHours`, stored with its
//! own version on the tenant's widget settings row (`db::service_hours`).

pub mod auto_close;
pub mod auto_reply;

use chrono::{DateTime, Utc};
use kefu_protocol::hours::{BusinessHours, LocalTime, ServiceHours};
use kefu_protocol::ws::Availability;

use crate::db::{self, TenantTx};

/// What the business hours say at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Open by the hours.
    pub open: bool,
    /// The tenant's wall-clock time.
    pub local: LocalTime,
    /// When closed: when the team next opens (within `LOOKAHEAD_DAYS`).
    pub opens_at: Option<DateTime<Utc>>,
}

/// What `hours` say at `at`, in their time zone (Postgres converts; DST-correct).
pub async fn clock(tx: &mut TenantTx, hours: &BusinessHours, at: DateTime<Utc>) -> sqlx::Result<Clock> {
    let local = db::service_hours::local_time(tx, &hours.timezone, at).await?;
    let open = hours.is_open(local);
    let opens_at = match (open, hours.next_open(local)) {
        (false, Some(next)) => Some(db::service_hours::instant_of(tx, &hours.timezone, next).await?),
        _ => None,
    };
    Ok(Clock { open, local, opens_at })
}

/// The team's availability to visitors: what presence says (`agents`), unless the tenant's
/// business hours say it is closed now; with the next opening when they do.
pub async fn availability(
    tx: &mut TenantTx,
    doc: &ServiceHours,
    agents: Availability,
) -> sqlx::Result<(Availability, Option<DateTime<Utc>>)> {
    let Some(hours) = &doc.business_hours else { return Ok((agents, None)) };
    let clock = clock(tx, hours, Utc::now()).await?;
    Ok(if clock.open { (agents, None) } else { (Availability::Offline, clock.opens_at) })
}
