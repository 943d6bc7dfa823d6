//! Closing idle conversations: the control-plane list of tenants that do
//! (`control.auto_close_sweeps`) and the tenant-scoped reads of what is idle.

use kefu_protocol::{ConversationId, TenantId};
use sqlx::PgConnection;

use super::TenantTx;

/// Records whether the transaction's tenant closes idle conversations, and after how long.
pub async fn register(tx: &mut TenantTx, after_minutes: Option<u32>) -> sqlx::Result<()> {
    let tenant = tx.tenant_id();
    let conn = tx.control().await?;
    match after_minutes {
        Some(minutes) => {
            sqlx::query(
                "insert into control.auto_close_sweeps (tenant_id, after_minutes) values ($1, $2)
                 on conflict (tenant_id) do update set after_minutes = excluded.after_minutes, next_sweep_at = now()",
            )
            .bind(tenant)
            .bind(i32::try_from(minutes).unwrap_or(i32::MAX))
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query("delete from control.auto_close_sweeps where tenant_id = $1")
                .bind(tenant)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// Takes up to `limit` tenants due a sweep and puts their next one `every_secs` later (so the
/// nodes share the sweeps, each tenant about once per period): each with its idle minutes.
pub async fn due_tenants(conn: &mut PgConnection, limit: i64, every_secs: i64) -> sqlx::Result<Vec<(TenantId, i32)>> {
    sqlx::query_as(
        "update control.auto_close_sweeps s set next_sweep_at = now() + make_interval(secs => $2)
          where s.tenant_id in (select tenant_id from control.auto_close_sweeps where next_sweep_at <= now()
                                 order by next_sweep_at limit $1 for update skip locked)
          returning s.tenant_id, s.after_minutes",
    )
    .bind(limit)
    .bind(every_secs as f64)
    .fetch_all(conn)
    .await
}

/// Idle: open, with an agent or the bot, no activity for the minutes, and the last public message
/// (automatic replies aside) the team's: the visitor stopped answering. A conversation waiting for
/// the team (in the queue, or the visitor's message last) never is.
const IDLE: &str = "c.status = 'open'
     and (c.assignee is not null or c.bot_active)
     and c.updated_at < now() - make_interval(mins => $1)
     and (select m.sender_kind from messages m
           where m.conversation_id = c.id and not m.private and m.sender_kind <> 'auto'
           order by m.seq desc limit 1) in ('agent', 'bot')";

/// Up to `limit` idle conversations, the longest idle first.
pub async fn idle(tx: &mut TenantTx, after_minutes: i32, limit: i64) -> sqlx::Result<Vec<ConversationId>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select c.id from conversations c where {IDLE} order by c.updated_at limit $2"
    )))
    .bind(after_minutes)
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}

/// Locks the conversation if it is (still) idle.
pub async fn lock_idle(tx: &mut TenantTx, id: ConversationId, after_minutes: i32) -> sqlx::Result<bool> {
    let found: Option<ConversationId> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select c.id from conversations c where c.id = $2 and {IDLE} for update of c"
    )))
    .bind(after_minutes)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}
