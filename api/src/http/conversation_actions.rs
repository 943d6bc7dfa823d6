//! What agents do to a conversation over REST besides chatting (F16, F17): reopen it, transfer
//! it to an agent or a team, tag it, invite a colleague into it. Each change commits first and
//! is then announced like a WebSocket claim or close (`conversation_updated` to the conversation's
//! followers and the inbox); transfers, reopening and invitations also leave a private system
//! note in the conversation's sequence.

use axum::extract::{Path, State};
use kefu_protocol::ws::{ConversationStatus, ConversationSummary, NoteEvent};
use kefu_protocol::{ConversationId, ErrorCode, Role, TeamId, UserId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::conversations::conversation_id;
use super::extract::{AnyMember, ApiJson, Auth, ConversationsWrite};
use crate::db::conversations::{ConversationRow, Transfer};
use crate::db::{self, TenantTx};
use crate::error::{ApiError, Result, ResultExt};
use crate::ops::events::{Change, ConversationChange};
use crate::state::AppState;

/// Longest transfer note, in characters.
pub const MAX_NOTE_CHARS: usize = 4000;

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reopen_conversation))
        .routes(routes!(transfer_conversation))
        .routes(routes!(set_conversation_tags))
        .routes(routes!(add_participant))
}

/// Where to transfer, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// A member (`usr_…`): assigned to them. A team (`team_…`): into that team's queue, unassigned.
    pub to: String,
    /// For the receiver, at most 4000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// A conversation's tags.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    /// At most 20, each 1–40 characters; stored trimmed, lowercase, without duplicates.
    pub tags: Vec<String>,
}

/// A colleague to invite.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantRequest {
    /// A member (`usr_…`).
    pub user_id: String,
}

async fn locked(tx: &mut TenantTx, id: ConversationId) -> Result<ConversationRow> {
    db::conversations::lock(tx, id).await?.ok_or_else(|| ApiError::not_found("conversation"))
}

fn require_open(row: &ConversationRow) -> Result<()> {
    if row.status == ConversationStatus::Open {
        Ok(())
    } else {
        Err(ApiError::client(ErrorCode::ConversationClosed, "The conversation is closed; reopen it first."))
    }
}

/// Who may hand a conversation on or invite into it: its assignee, supervisors and up, and
/// anyone while nobody has it.
fn may_direct(row: &ConversationRow, actor: UserId, role: Role) -> Result<()> {
    if row.assignee.is_none() || row.assignee == Some(actor) || role.includes(Role::Supervisor) {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only the assignee or a supervisor can do this while someone has the conversation."))
    }
}

async fn name_of(tx: &mut TenantTx, user: UserId) -> Result<String> {
    Ok(db::agents::display_name(tx, user).await?.unwrap_or_else(|| "A colleague".to_owned()))
}

/// Opens a closed conversation again (any member). Its assignee stays; the visitor's next
/// message goes into it. Refused while the visitor has another open conversation.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/reopen", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    responses((status = 200, body = ConversationSummary, description = "The conversation as it is now"),
        (status = 404, description = "resource_not_found"),
        (status = 409, description = "conversation_open, visitor_has_open_conversation")))]
async fn reopen_conversation(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationSummary>> {
    let id = conversation_id(&id)?;
    let actor = auth.require_member()?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = locked(&mut tx, id).await?;
    if row.status == ConversationStatus::Open {
        return Err(ApiError::client(ErrorCode::ConversationOpen, "The conversation is already open."));
    }
    let newer_open = || {
        ApiError::client(
            ErrorCode::VisitorHasOpenConversation,
            "The visitor has another open conversation; continue there.",
        )
    };
    if db::conversations::visitor_has_other_open(&mut tx, row.visitor_id, row.id).await? {
        return Err(newer_open());
    }
    let body = format!("{} reopened this conversation.", name_of(&mut tx, actor).await?);
    let note = db::messages::insert_system_note(&mut tx, row.id, &body, &NoteEvent::Reopened { by: actor }).await?;
    // A visitor's message may open a conversation concurrently: the one-open index decides.
    let row = db::conversations::reopen(&mut tx, row.id)
        .await
        .on_constraint("conversations_one_open_per_visitor", newer_open)?;
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "conversation.reopened",
        Some(&id.to_string()),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    announce_note(&state, auth.tenant.id, note);
    announce_update(&state, auth.tenant.id, &row, ConversationChange::Reopened);
    Ok(axum::Json(row.summary()))
}

/// Where a transfer goes, resolved in the tenant.
enum Target {
    Agent(UserId, String),
    Team(TeamId, String),
}

fn parse_target(raw: &str) -> Result<Result<UserId, TeamId>> {
    if let Ok(user) = raw.parse::<UserId>() {
        return Ok(Ok(user));
    }
    raw.parse::<TeamId>()
        .map(Err)
        .map_err(|_| ApiError::field("to", "invalid", "Name a member (usr_…) or a team (team_…)."))
}

/// Hands an open conversation to a member (assigned to them) or to a team (its queue,
/// unassigned), with an optional note kept as a private system note. Allowed for the assignee,
/// supervisors and up, and anyone while it is unassigned. A member already at their
/// `max_concurrent_chats` is refused (`capacity_reached`) unless a supervisor or up transfers.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/transfer", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    request_body = TransferRequest,
    responses((status = 200, body = ConversationSummary, description = "The conversation as it is now"),
        (status = 403, description = "forbidden"), (status = 404, description = "resource_not_found"),
        (status = 409, description = "conversation_closed, capacity_reached"),
        (status = 422, description = "validation_failed")))]
async fn transfer_conversation(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransferRequest>,
) -> Result<axum::Json<ConversationSummary>> {
    let id = conversation_id(&id)?;
    let actor = auth.require_member()?;
    let role = auth.principal.role();
    let target = parse_target(body.to.trim())?;
    let note = body.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(ApiError::field("note", "too_long", format!("At most {MAX_NOTE_CHARS} characters.")));
    }
    if note.as_ref().is_some_and(|n| n.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))) {
        return Err(ApiError::field("note", "invalid", "Must not contain control characters."));
    }
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = locked(&mut tx, id).await?;
    require_open(&row)?;
    may_direct(&row, actor, role)?;
    let target = match target {
        Ok(user) => {
            let (name, max) =
                db::agents::capacity(&mut tx, user).await?.ok_or_else(|| ApiError::not_found("member"))?;
            let already = row.assignee == Some(user);
            if !already
                && !role.includes(Role::Supervisor)
                && db::conversations::open_assigned(&mut tx, user).await? >= i64::from(max)
            {
                return Err(ApiError::client(
                    ErrorCode::CapacityReached,
                    format!("{name} already has {max} open conversations (their max_concurrent_chats)."),
                ));
            }
            Target::Agent(user, name)
        }
        Err(team) => {
            let found = db::teams::find(&mut tx, team).await?.ok_or_else(|| ApiError::not_found("team"))?;
            Target::Team(team, found.name)
        }
    };
    let (event, transfer, to_name) = match &target {
        Target::Agent(user, name) => (
            NoteEvent::Transferred { by: actor, to_agent: Some(*user), to_team: None, note: note.clone() },
            Transfer::Agent(*user),
            name.clone(),
        ),
        Target::Team(team, name) => (
            NoteEvent::Transferred { by: actor, to_agent: None, to_team: Some(*team), note: note.clone() },
            Transfer::Team(*team),
            name.clone(),
        ),
    };
    let text = match &note {
        Some(note) => note.clone(),
        None => format!("{} transferred this conversation to {to_name}.", name_of(&mut tx, actor).await?),
    };
    let stored = db::messages::insert_system_note(&mut tx, row.id, &text, &event).await?;
    if row.bot_active {
        crate::bot::record_takeover(&mut tx, row.id).await?;
    }
    let row = db::conversations::transfer(&mut tx, row.id, transfer).await?;
    let to = match &target {
        Target::Agent(user, _) => user.to_string(),
        Target::Team(team, _) => team.to_string(),
    };
    db::audit::record(
        &mut tx,
        auth.principal.actor(),
        "conversation.transferred",
        Some(&id.to_string()),
        serde_json::json!({ "to": to }),
    )
    .await?;
    tx.commit().await?;
    announce_note(&state, auth.tenant.id, stored);
    announce_update(&state, auth.tenant.id, &row, ConversationChange::Transferred);
    Ok(axum::Json(row.summary()))
}

/// Replaces a conversation's tags, open or closed: its assignee, supervisors and up, and anyone
/// while nobody has it (an API key by its role).
#[utoipa::path(put, path = "/api/v1/conversations/{conversation_id}/tags", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    request_body = TagsRequest,
    responses((status = 200, body = ConversationSummary, description = "The conversation as it is now"),
        (status = 403, description = "forbidden: a colleague's conversation"),
        (status = 404, description = "resource_not_found"), (status = 422, description = "validation_failed")))]
async fn set_conversation_tags(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TagsRequest>,
) -> Result<axum::Json<ConversationSummary>> {
    let id = conversation_id(&id)?;
    let tags = crate::domain::tags::parse_tags(&body.tags).map_err(|m| ApiError::field("tags", "invalid", m))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let current = locked(&mut tx, id).await?;
    match auth.principal.acting_member() {
        Some(member) => may_direct(&current, member, auth.principal.role())?,
        None if current.assignee.is_none() || auth.principal.role().includes(Role::Supervisor) => {}
        None => return Err(ApiError::forbidden("An agent's key cannot retag a conversation someone has.")),
    }
    let row =
        db::conversations::set_tags(&mut tx, id, &tags).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    let details = serde_json::json!({ "tags": tags });
    db::audit::record(&mut tx, auth.principal.actor(), "conversation.tagged", Some(&id.to_string()), details).await?;
    tx.commit().await?;
    announce_update(&state, auth.tenant.id, &row, ConversationChange::Tagged);
    Ok(axum::Json(row.summary()))
}

/// Invites a colleague into an open conversation: they are listed in its `participants`, see it
/// as theirs in the console and may reply in it. Allowed for
/// the assignee, supervisors and up, and anyone while it is unassigned. Inviting someone
/// already in it changes nothing.
#[utoipa::path(post, path = "/api/v1/conversations/{conversation_id}/participants", tag = "conversations",
    security(("bearer" = [])), params(("conversation_id" = String, Path, description = "conv_…")),
    request_body = ParticipantRequest,
    responses((status = 200, body = ConversationSummary, description = "The conversation as it is now"),
        (status = 403, description = "forbidden"), (status = 404, description = "resource_not_found"),
        (status = 409, description = "conversation_closed")))]
async fn add_participant(
    State(state): State<AppState>,
    auth: Auth<AnyMember, ConversationsWrite>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ParticipantRequest>,
) -> Result<axum::Json<ConversationSummary>> {
    let id = conversation_id(&id)?;
    let actor = auth.require_member()?;
    let user = body.user_id.trim().parse::<UserId>().map_err(|_| ApiError::not_found("member"))?;
    let mut tx = TenantTx::begin(&state.db, &auth.tenant.schema).await?;
    let row = locked(&mut tx, id).await?;
    require_open(&row)?;
    may_direct(&row, actor, auth.principal.role())?;
    let name = db::agents::display_name(&mut tx, user).await?.ok_or_else(|| ApiError::not_found("member"))?;
    if !db::conversations::add_participant(&mut tx, row.id, user, actor).await? {
        tx.commit().await?;
        return Ok(axum::Json(row.summary()));
    }
    let text = format!("{} invited {name} into this conversation.", name_of(&mut tx, actor).await?);
    let event = NoteEvent::ParticipantAdded { by: actor, user_id: user };
    let note = db::messages::insert_system_note(&mut tx, row.id, &text, &event).await?;
    let row = db::conversations::find(&mut tx, row.id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    tx.commit().await?;
    announce_note(&state, auth.tenant.id, note);
    announce_update(&state, auth.tenant.id, &row, ConversationChange::ParticipantAdded);
    Ok(axum::Json(row.summary()))
}

/// Announces a stored system note (after its commit): agents following the conversation get it.
fn announce_note(state: &AppState, tenant: kefu_protocol::TenantId, note: db::messages::MessageRow) {
    state.events.publish(Change::MessageStored { tenant, message: note, conversation: None, opened: false });
}

/// Announces a conversation's new state (after its commit).
fn announce_update(
    state: &AppState,
    tenant: kefu_protocol::TenantId,
    row: &ConversationRow,
    cause: ConversationChange,
) {
    state.events.publish(Change::ConversationChanged { tenant, conversation: row.clone(), cause });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::NewId;

    #[test]
    fn transfer_targets_are_members_or_teams() {
        let user = UserId::new_v7();
        let team = TeamId::new_v7();
        assert!(matches!(parse_target(&user.to_string()), Ok(Ok(u)) if u == user));
        assert!(matches!(parse_target(&team.to_string()), Ok(Err(t)) if t == team));
        assert!(parse_target("conv_0190c8e5b7a87c3e9f000000000000ab").is_err());
        assert!(parse_target("").is_err());
    }
}
