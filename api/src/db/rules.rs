//! Tenant-scoped routing rules (`routing_settings.rules`, their own version), what a rule reads
//! about a conversation's visitor, and what it changes (`conversations.rules_fired`, team,
//! priority).

use chrono::{DateTime, Utc};
use kefu_protocol::rules::Rule;
use kefu_protocol::{ConversationId, TeamId};
use sqlx::types::Json;

use super::TenantTx;

/// The stored rules.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RulesRow {
    /// The rules, in order.
    pub rules: Json<Vec<Rule>>,
    /// Bumped on every save.
    pub version: i64,
    /// Last saved.
    pub updated_at: DateTime<Utc>,
}

/// The tenant's rules.
pub async fn get(tx: &mut TenantTx) -> sqlx::Result<RulesRow> {
    sqlx::query_as("select rules, rules_version as version, rules_updated_at as updated_at from routing_settings")
        .fetch_one(tx.conn())
        .await
}

/// Saves the rules when `expected_version` (if given) is still current; `None` on a conflict.
pub async fn save(tx: &mut TenantTx, rules: &[Rule], expected_version: Option<i64>) -> sqlx::Result<Option<RulesRow>> {
    sqlx::query_as(
        "update routing_settings set rules = $1, rules_version = rules_version + 1, rules_updated_at = now()
         where $2::bigint is null or rules_version = $2
         returning rules, rules_version as version, rules_updated_at as updated_at",
    )
    .bind(Json(rules))
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
}

/// What conditions read about a conversation's visitor.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct VisitorFacts {
    /// Their language.
    pub language: Option<String>,
    /// Their attributes (custom fields and what the host page set).
    pub attributes: Option<Json<serde_json::Map<String, serde_json::Value>>>,
    /// The page they are on (their latest page view).
    pub page_url: Option<String>,
}

/// The conversation's visitor's facts.
pub async fn visitor_facts(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<VisitorFacts> {
    let facts = sqlx::query_as(
        "select v.language, v.attributes,
                v.attributes->'current_page'->>'url' as page_url
           from conversations c join visitors v on v.id = c.visitor_id where c.id = $1",
    )
    .bind(conversation)
    .fetch_optional(tx.conn())
    .await?;
    Ok(facts.unwrap_or_default())
}

/// The rules that already fired on the conversation.
pub async fn fired(tx: &mut TenantTx, conversation: ConversationId) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select rules_fired from conversations where id = $1")
        .bind(conversation)
        .fetch_optional(tx.conn())
        .await
        .map(Option::unwrap_or_default)
}

/// Records that `rules` fired on the conversation.
pub async fn mark_fired(tx: &mut TenantTx, conversation: ConversationId, rules: &[String]) -> sqlx::Result<()> {
    sqlx::query("update conversations set rules_fired = rules_fired || $2 where id = $1")
        .bind(conversation)
        .bind(rules)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Puts an unassigned conversation in `team`'s queue (the bot keeps answering it if it was);
/// whether it did.
pub async fn set_team(tx: &mut TenantTx, conversation: ConversationId, team: TeamId) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "update conversations set team_id = $2, updated_at = now()
          where id = $1 and assignee is null and status = 'open'
            and exists (select 1 from teams where id = $2)",
    )
    .bind(conversation)
    .bind(team)
    .execute(tx.conn())
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// Raises the conversation's own priority to at least `priority`.
pub async fn raise_priority(tx: &mut TenantTx, conversation: ConversationId, priority: i16) -> sqlx::Result<()> {
    sqlx::query("update conversations set priority = greatest(priority, $2) where id = $1")
        .bind(conversation)
        .bind(priority)
        .execute(tx.conn())
        .await?;
    Ok(())
}
