//! TypeScript declarations of the wire types, for the widget and the console: `kefu typescript`
//! writes them to `api/protocol/ts/kefu-protocol.ts`, and a test in kefu-api fails when the
//! committed file differs from what the code declares, so a protocol change breaks the front
//! ends' type check instead of their users.

use ts_rs::{Config, TS};

use crate::error::{ErrorCode, FieldError, Problem};
use crate::hours::{AutoClose, AutoReplies, AutoReply, BusinessHours, OpenSpan, ServiceHours, SpecialDay, TimeSpan};
use crate::id::{
    ApiKeyId, AttachmentId, CannedResponseId, ConversationId, InvitationId, KbEntryId, MessageId, SiteKeyId, TeamId,
    TenantId, UserId, VisitorId,
};
use crate::origin::OriginPattern;
use crate::rules::{Action, Condition, Rule, TextOp, Trigger};
use crate::widget::{FieldKind, FormField, FormSettings, Position, WidgetSettings, WidgetTexts};
use crate::ws::{
    AgentFrame, AgentStatus, AttachmentRef, Availability, BotReply, ConversationStatus, ConversationSummary,
    HandoffReason, JoinEntry, MessageView, NoteEvent, QueuePlace, Saved, Sender, ServerFrame, VisitorFrame,
    WsErrorCode,
};

/// Every declaration, in one module's text.
pub fn declarations() -> String {
    // Sequence numbers and sizes are i64 in Rust and well within a JS number.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from kefu-protocol by `kefu typescript`; do not edit. docs/protocol.md explains the frames.\n",
    );
    macro_rules! declare {
        ($($t:ty),* $(,)?) => {
            $(
                out.push_str("\nexport ");
                out.push_str(&<$t as TS>::decl(&cfg));
                out.push('\n');
            )*
        };
    }
    declare!(
        serde_json::Value,
        TenantId,
        UserId,
        InvitationId,
        ApiKeyId,
        VisitorId,
        ConversationId,
        MessageId,
        SiteKeyId,
        AttachmentId,
        TeamId,
        CannedResponseId,
        KbEntryId,
        OriginPattern,
        ErrorCode,
        FieldError,
        Problem,
        WsErrorCode,
        Availability,
        QueuePlace,
        Saved,
        AgentStatus,
        Sender,
        AttachmentRef,
        HandoffReason,
        BotReply,
        NoteEvent,
        MessageView,
        ConversationStatus,
        ConversationSummary,
        JoinEntry,
        VisitorFrame,
        AgentFrame,
        ServerFrame,
        Position,
        FieldKind,
        FormField,
        FormSettings,
        WidgetTexts,
        WidgetSettings,
        OpenSpan,
        TimeSpan,
        SpecialDay,
        BusinessHours,
        AutoReply,
        AutoReplies,
        AutoClose,
        ServiceHours,
        Trigger,
        TextOp,
        Condition,
        Action,
        Rule,
    );
    out
}
