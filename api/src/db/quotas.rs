//! Tenant-scoped quota records (docs/billing.md): the month in the workspace's time zone, the
//! conversations opened in it (Postgres is the record Redis's fast count is re-read from), and
//! `quota_state`, which the conversation trigger reads to take a conversation opened over the
//! quota as an offline message.

use chrono::{DateTime, Utc};

use super::TenantTx;

/// A calendar month in a time zone.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Month {
    /// `YYYY-MM`.
    pub label: String,
    /// Its first instant.
    pub starts_at: DateTime<Utc>,
    /// The next month's first instant.
    pub ends_at: DateTime<Utc>,
}

/// The month `at` falls in, in `timezone` (an IANA name Postgres knows).
pub async fn month_at(tx: &mut TenantTx, timezone: &str, at: DateTime<Utc>) -> sqlx::Result<Month> {
    sqlx::query_as(
        "select to_char($2 at time zone $1, 'YYYY-MM') as label,
                date_trunc('month', $2 at time zone $1) at time zone $1 as starts_at,
                (date_trunc('month', $2 at time zone $1) + interval '1 month') at time zone $1 as ends_at",
    )
    .bind(timezone)
    .bind(at)
    .fetch_one(tx.conn())
    .await
}

/// Conversations opened since `since`. Conversation ids are UUIDv7 (their first 48 bits are the
/// millisecond they were made), so the primary key's range answers without another index.
pub async fn conversations_since(tx: &mut TenantTx, since: DateTime<Utc>) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from conversations where id >= $1")
        .bind(v7_floor(since))
        .fetch_one(tx.conn())
        .await
}

/// The smallest UUIDv7 of the millisecond `at`.
fn v7_floor(at: DateTime<Utc>) -> uuid::Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    uuid::Uuid::from_bytes(bytes)
}

/// Until when the month's conversations are used up (`None`: room left).
pub async fn conversations_full_until(tx: &mut TenantTx) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("select conversations_full_until from quota_state where now() < conversations_full_until")
        .fetch_optional(tx.conn())
        .await
        .map(Option::flatten)
}

/// Records that the month's conversations are used up until `until` (`None`: room again);
/// whether that changed anything.
pub async fn set_conversations_full(tx: &mut TenantTx, until: Option<DateTime<Utc>>) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "update quota_state set conversations_full_until = $1 where conversations_full_until is distinct from $1",
    )
    .bind(until)
    .execute(tx.conn())
    .await?;
    Ok(updated.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::v7_floor;

    #[test]
    fn the_floor_sorts_before_every_uuid_of_its_millisecond_and_after_the_one_before() {
        let at = chrono::DateTime::from_timestamp_millis(1_796_000_000_123).expect("instant");
        let floor = v7_floor(at);
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, 1_796_000_000, 123_000_000);
        let same = uuid::Uuid::new_v7(ts);
        let earlier = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_796_000_000, 122_000_000));
        assert!(floor <= same, "{floor} {same}");
        assert!(earlier < floor, "{earlier} {floor}");
    }
}
