//! Searching a tenant's history over REST (F23, docs/search.md): keywords (Chinese words of
//! any length, stemmed English, phrases, exclusions, alternatives, prefixes) and filters (time,
//! agent, visitor, conversation, team, tag, status, rating, author), newest first or best match
//! first, with highlighted snippets and keyset pages.

use std::collections::HashMap;

use axum::extract::{Query, State};
use kefu_protocol::ws::ConversationStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{AnyMember, Auth, ConversationsRead};
use super::validate::{Fields, valid};
use crate::db::audit::Actor;
use crate::db::messages::SenderKind;
use crate::db::search::{Cursor, Filter, Order};
use crate::db::{self, Databases, TenantSchema, TenantTx};
use crate::error::Result;
use crate::search::highlight::{self, Segment};
use crate::search::query;
use crate::state::AppState;

/// Most hits one page returns.
pub const MAX_LIMIT: i64 = 100;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_messages))
}

/// What to look for. Every filter is optional; without `q`, every message matching the filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams, ToSchema)]
pub struct SearchQuery {
    /// Keywords, at most 200 characters and 16 words or phrases: words must all match,
    /// `"quoted phrases"` match in sequence, `-word` excludes, `a OR b` matches either, `refu*`
    /// matches words it begins. Chinese needs no spaces: `退款` finds every message containing it.
    pub q: Option<String>,
    /// Messages stored at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Messages stored before this instant (RFC 3339).
    pub to: Option<String>,
    /// Conversations this member (`usr_…`) was assigned to or wrote in.
    pub agent: Option<String>,
    /// This visitor's conversations (`vis_…`).
    pub visitor: Option<String>,
    /// One conversation (`conv_…`).
    pub conversation: Option<String>,
    /// This team's conversations (`team_…`).
    pub team: Option<String>,
    /// Conversations with this tag.
    pub tag: Option<String>,
    /// `open` or `closed` conversations.
    pub status: Option<String>,
    /// Conversations rated one of these, comma-separated (`1,2`).
    pub rating: Option<String>,
    /// Written by `visitor`, `agent`, `bot`, `auto` (automatic replies) or `system`; or `note` for
    /// the team's private notes.
    pub sender: Option<String>,
    /// `newest` (default) or `relevance` (needs `q`).
    pub order: Option<String>,
    /// Hits per page, 1–100 (default 20).
    pub limit: Option<i64>,
    /// The previous page's `next_after`.
    pub after: Option<String>,
}

/// One message found.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// The message, as in the protocol.
    pub message: kefu_protocol::ws::MessageView,
    /// Its text around the first match, in plain-text segments; `hit` marks the matches.
    pub snippet: Vec<Segment>,
    /// How well it matched (relevance order), else absent.
    pub rank: Option<f32>,
    /// Its conversation, as in the protocol's `conversation_updated`.
    pub conversation: kefu_protocol::ws::ConversationSummary,
    /// The visitor's name, if they gave one.
    pub visitor_name: Option<String>,
    /// Their email, if they gave one.
    pub visitor_email: Option<String>,
}

/// One page of hits.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    /// In the asked order.
    pub hits: Vec<SearchHit>,
    /// Pass as `after` for the next page; absent on the last one.
    pub next_after: Option<String>,
    /// Messages stored but not indexed yet (they appear within seconds).
    pub unindexed: i64,
}

fn parse_id<T: std::str::FromStr>(fields: &mut Fields, field: &str, raw: &Option<String>, what: &str) -> Option<T> {
    let raw = raw.as_deref()?;
    fields.take(field, "invalid", raw.parse::<T>().map_err(|_| format!("a {what} id")))
}

/// What the audit log keeps of a search: the keywords and the filters given.
pub(super) fn audit_details(query: &SearchQuery) -> serde_json::Value {
    let given = [
        ("q", &query.q),
        ("from", &query.from),
        ("to", &query.to),
        ("agent", &query.agent),
        ("visitor", &query.visitor),
        ("conversation", &query.conversation),
        ("team", &query.team),
        ("tag", &query.tag),
        ("status", &query.status),
        ("rating", &query.rating),
        ("sender", &query.sender),
    ];
    given
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_owned(), serde_json::Value::String(v.clone()))))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The filter a query asks for, with the query's highlights; every invalid field at once.
pub fn filter_of(query: &SearchQuery) -> Result<(Filter, Vec<query::Phrase>)> {
    let mut fields = Fields::default();
    let parsed = match query.q.as_deref() {
        None => None,
        Some(q) => match query::parse(q) {
            Ok(parsed) => parsed,
            Err(error) => {
                fields.take::<(), _>("q", error.code(), Err(error));
                None
            }
        },
    };
    let from = fields.instant("from", query.from.as_deref());
    let to = fields.instant("to", query.to.as_deref());
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        fields.take::<(), _>("to", "out_of_range", Err("after `from`"));
    }
    let agent = parse_id(&mut fields, "agent", &query.agent, "usr_…");
    let visitor = parse_id(&mut fields, "visitor", &query.visitor, "vis_…");
    let conversation = parse_id(&mut fields, "conversation", &query.conversation, "conv_…");
    let team = parse_id(&mut fields, "team", &query.team, "team_…");
    let tag = match &query.tag {
        None => None,
        Some(tag) => fields.take("tag", "invalid", crate::domain::tags::parse_tag(tag)),
    };
    let status = match query.status.as_deref() {
        None => None,
        Some("open") => Some(ConversationStatus::Open),
        Some("closed") => Some(ConversationStatus::Closed),
        Some(_) => fields.take("status", "invalid", Err("open or closed")),
    };
    let ratings = match query.rating.as_deref() {
        None => Vec::new(),
        Some(list) => fields
            .take(
                "rating",
                "invalid",
                list.split(',')
                    .map(|r| r.trim().parse::<i16>().ok().filter(|r| (1..=5).contains(r)))
                    .collect::<Option<Vec<i16>>>()
                    .ok_or("ratings 1 to 5, comma-separated"),
            )
            .unwrap_or_default(),
    };
    let (sender, private) = match query.sender.as_deref() {
        None => (None, None),
        Some("note") => (None, Some(true)),
        Some(kind) => match kind.parse::<SenderKind>() {
            Ok(kind) => (Some(kind), Some(false)),
            Err(_) => {
                fields.take::<(), _>("sender", "invalid", Err("visitor, agent, bot, auto, system or note"));
                (None, None)
            }
        },
    };
    let order = match query.order.as_deref() {
        None | Some("newest") => Order::Newest,
        Some("relevance") if query.q.is_some() => Order::Relevance,
        Some("relevance") => {
            fields.take("order", "invalid", Err("relevance needs keywords (q)")).unwrap_or(Order::Newest)
        }
        Some(_) => fields.take("order", "invalid", Err("newest or relevance")).unwrap_or(Order::Newest),
    };
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        fields.take::<(), _>("limit", "out_of_range", Err(format!("1 to {MAX_LIMIT}")));
    }
    let after = match &query.after {
        None => None,
        Some(cursor) => fields.take("after", "invalid", Cursor::parse(cursor).ok_or("use next_after")),
    };
    if after.is_some_and(|a: Cursor| a.rank.is_some() != (order == Order::Relevance)) {
        fields.take::<(), _>("after", "invalid", Err("a cursor from a search in the same order"));
    }
    fields.finish()?;
    let highlight = parsed.as_ref().map(|p| p.highlight.clone()).unwrap_or_default();
    let filter = Filter {
        query: parsed.map(|p| p.tsquery),
        from,
        to,
        agent,
        visitor,
        conversation,
        team,
        tag,
        status,
        ratings,
        sender,
        private,
        order,
        after,
        limit: valid(Some(limit))?,
    };
    Ok((filter, highlight))
}

/// Searches the tenant's messages and notes.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", security(("bearer" = [])),
    params(SearchQuery), responses((status = 200, body = SearchPage), (status = 422, description = "validation_failed")))]
async fn search_messages(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsRead>,
    Query(query): Query<SearchQuery>,
) -> Result<axum::Json<SearchPage>> {
    Ok(axum::Json(search(&state.db, &auth.tenant.schema, Some(auth.principal.actor()), &query).await?))
}

/// One page of a search in the tenant's schema: what the endpoint answers (and what the search
/// benchmark measures). A first page is recorded in the audit log for `actor` (`search.performed`
/// with the query and filters); the next pages of the same search are not.
pub async fn search(
    databases: &Databases,
    schema: &TenantSchema,
    actor: Option<Actor>,
    query: &SearchQuery,
) -> Result<SearchPage> {
    let (filter, highlight) = filter_of(query)?;
    let mut tx = TenantTx::begin(databases, schema).await?;
    if let Some(actor) = actor
        && query.after.is_none()
    {
        db::audit::record(&mut tx, actor, "search.performed", None, audit_details(query)).await?;
    }
    let hits = db::search::search(&mut tx, &filter).await?;
    let message_ids: Vec<_> = hits.iter().map(|h| h.id).collect();
    let mut conversation_ids: Vec<_> = hits.iter().map(|h| h.conversation_id).collect();
    conversation_ids.sort_unstable_by_key(|id| id.as_uuid());
    conversation_ids.dedup();
    let mut messages: HashMap<_, _> =
        db::messages::by_ids(&mut tx, &message_ids).await?.into_iter().map(|m| (m.id, m)).collect();
    let conversations: HashMap<_, _> = db::conversations::by_ids_with_visitor(&mut tx, &conversation_ids)
        .await?
        .into_iter()
        .map(|c| (c.conversation.id, c))
        .collect();
    let unindexed = if filter.query.is_some() { db::search::pending_count(&mut tx).await? } else { 0 };
    tx.commit().await?;
    let next_after =
        (i64::try_from(hits.len()).unwrap_or(i64::MAX) == filter.limit).then(|| hits.last()).flatten().map(|last| {
            Cursor {
                rank: (filter.order == Order::Relevance).then_some(last.rank),
                created_at: last.created_at,
                id: last.id,
            }
            .to_string()
        });
    let hits = hits
        .into_iter()
        .filter_map(|hit| {
            let message = messages.remove(&hit.id)?;
            let conversation = conversations.get(&hit.conversation_id)?;
            let snippet = highlight::snippet(&message.body, &highlight);
            Some(SearchHit {
                snippet,
                rank: (filter.order == Order::Relevance).then_some(hit.rank),
                message: message.view(),
                conversation: conversation.conversation.summary(),
                visitor_name: conversation.visitor_name.clone(),
                visitor_email: conversation.visitor_email.clone(),
            })
        })
        .collect();
    Ok(SearchPage { hits, next_after, unindexed })
}
