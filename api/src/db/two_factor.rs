//! `control.user_totp` and `control.recovery_codes`: an account's authenticator (sealed secret,
//! the last accepted step, wrong codes in a row and the lock they lead to) and its single-use
//! recovery codes; and which tenants require a second step (`control.tenants.require_two_factor`).

use chrono::{DateTime, Utc};
use kefu_protocol::UserId;
use sqlx::PgConnection;

use super::TenantTx;

/// An account's authenticator as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    /// `kid:…` sealed secret (`auth::two_factor::SecretSealer`).
    pub secret_sealed: String,
    /// When a first code proved it; `None` while being set up.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last 30-second step whose code was accepted.
    pub last_step: i64,
    /// Until when the second step refuses every code after too many wrong ones.
    pub locked_until: Option<DateTime<Utc>>,
}

impl TotpRow {
    /// Set up and proven: sign-in asks for a code.
    pub fn is_enabled(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// Locked at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

const COLUMNS: &str = "secret_sealed, confirmed_at, last_step, locked_until";

/// The account's authenticator, locked for the rest of the transaction so that two sign-ins
/// with the same code cannot both succeed.
pub async fn find_for_update(conn: &mut PgConnection, user: UserId) -> sqlx::Result<Option<TotpRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from control.user_totp where user_id = $1 for update"
    )))
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// The account's authenticator.
pub async fn find(conn: &mut PgConnection, user: UserId) -> sqlx::Result<Option<TotpRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("select {COLUMNS} from control.user_totp where user_id = $1")))
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Starts (or starts again) setting up an authenticator. `false` when one is already enabled:
/// it is never replaced silently.
pub async fn start_setup(conn: &mut PgConnection, user: UserId, sealed: &str) -> sqlx::Result<bool> {
    let written = sqlx::query(
        "insert into control.user_totp (user_id, secret_sealed) values ($1, $2)
         on conflict (user_id) do update
            set secret_sealed = excluded.secret_sealed, created_at = now(), last_step = 0, failures = 0,
                locked_until = null
          where control.user_totp.confirmed_at is null",
    )
    .bind(user)
    .bind(sealed)
    .execute(conn)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// A right code: remembers its step (never accepted again), clears the wrong-code count, enables
/// the authenticator if it was being set up, and stores the secret resealed with the current key
/// when given.
pub async fn accept(conn: &mut PgConnection, user: UserId, step: i64, resealed: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "update control.user_totp
            set last_step = greatest(last_step, $2), failures = 0, locked_until = null,
                confirmed_at = coalesce(confirmed_at, now()), secret_sealed = coalesce($3, secret_sealed)
          where user_id = $1",
    )
    .bind(user)
    .bind(step)
    .bind(resealed)
    .execute(conn)
    .await?;
    Ok(())
}

/// A wrong code: counts it; at `max_failures` in a row the second step locks for `lockout_secs`
/// (the count starts again). Returns the lock's end when this failure set it.
pub async fn record_failure(
    conn: &mut PgConnection,
    user: UserId,
    max_failures: u32,
    lockout_secs: u64,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let lockout = i64::try_from(lockout_secs).unwrap_or(i64::MAX / 2);
    // `failures` is 0 after the update only when this failure locked (it is at least 1 otherwise).
    let locked: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "update control.user_totp
            set failures = case when failures + 1 >= $2 then 0 else failures + 1 end,
                locked_until = case when failures + 1 >= $2 then now() + $3 * interval '1 second' else locked_until end
          where user_id = $1
      returning case when failures = 0 then locked_until end",
    )
    .bind(user)
    .bind(i64::from(max_failures))
    .bind(lockout)
    .fetch_optional(conn)
    .await?;
    Ok(locked.flatten())
}

/// Removes the authenticator and every recovery code.
pub async fn remove(conn: &mut PgConnection, user: UserId) -> sqlx::Result<bool> {
    sqlx::query("delete from control.recovery_codes where user_id = $1").bind(user).execute(&mut *conn).await?;
    let done = sqlx::query("delete from control.user_totp where user_id = $1").bind(user).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the account's recovery codes (their digests).
pub async fn replace_recovery_codes(conn: &mut PgConnection, user: UserId, digests: &[Vec<u8>]) -> sqlx::Result<()> {
    sqlx::query("delete from control.recovery_codes where user_id = $1").bind(user).execute(&mut *conn).await?;
    sqlx::query("insert into control.recovery_codes (user_id, code_hash) select $1, unnest($2::bytea[])")
        .bind(user)
        .bind(digests)
        .execute(conn)
        .await?;
    Ok(())
}

/// Uses a recovery code: `true` when it was the account's and unused (now it is used).
pub async fn use_recovery_code(conn: &mut PgConnection, user: UserId, digest: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update control.recovery_codes set used_at = now() where user_id = $1 and code_hash = $2 and used_at is null",
    )
    .bind(user)
    .bind(digest)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unused recovery codes of the account.
pub async fn recovery_codes_left(conn: &mut PgConnection, user: UserId) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from control.recovery_codes where user_id = $1 and used_at is null")
        .bind(user)
        .fetch_one(conn)
        .await
}

/// Slugs of the account's tenants that require a second step.
pub async fn tenants_requiring(conn: &mut PgConnection, user: UserId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select t.slug from control.memberships m join control.tenants t on t.id = m.tenant_id
          where m.user_id = $1 and t.require_two_factor and t.status <> 'deleting' order by t.slug",
    )
    .bind(user)
    .fetch_all(conn)
    .await
}

/// Whether a tenant requires a second step.
pub async fn required_by(conn: &mut PgConnection, tenant: kefu_protocol::TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar("select require_two_factor from control.tenants where id = $1")
        .bind(tenant)
        .fetch_optional(conn)
        .await
        .map(|found| found.unwrap_or(false))
}

/// Sets whether the transaction's tenant requires a second step.
pub async fn set_required(tx: &mut TenantTx, required: bool) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    sqlx::query("update control.tenants set require_two_factor = $2 where id = $1")
        .bind(tenant)
        .bind(required)
        .execute(tx.control().await?)
        .await?;
    Ok(())
}

/// Members of the transaction's tenant without an enabled authenticator.
pub async fn members_without(tx: &mut TenantTx) -> sqlx::Result<Vec<UserId>> {
    let tenant = tx.tenant_id();
    sqlx::query_scalar(
        "select m.user_id from control.memberships m
           left join control.user_totp t on t.user_id = m.user_id and t.confirmed_at is not null
          where m.tenant_id = $1 and t.user_id is null",
    )
    .bind(tenant)
    .fetch_all(tx.control().await?)
    .await
}

/// Which of the transaction's tenant's members have an enabled authenticator.
pub async fn members_with(tx: &mut TenantTx) -> sqlx::Result<Vec<UserId>> {
    let tenant = tx.tenant_id();
    sqlx::query_scalar(
        "select m.user_id from control.memberships m
           join control.user_totp t on t.user_id = m.user_id and t.confirmed_at is not null
          where m.tenant_id = $1",
    )
    .bind(tenant)
    .fetch_all(tx.control().await?)
    .await
}
