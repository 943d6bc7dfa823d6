// Generated from kefu-protocol by `kefu typescript`; do not edit. docs/protocol.md explains the frames.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

export type TenantId = string;

export type UserId = string;

export type InvitationId = string;

export type ApiKeyId = string;

export type VisitorId = string;

export type ConversationId = string;

export type MessageId = string;

export type SiteKeyId = string;

export type AttachmentId = string;

export type TeamId = string;

export type CannedResponseId = string;

export type KbEntryId = string;

export type OriginPattern = string;

export type ErrorCode = "malformed_json" | "unsupported_media_type" | "validation_failed" | "payload_too_large" | "not_found" | "method_not_allowed" | "timeout" | "rate_limited" | "unauthenticated" | "invalid_token" | "invalid_credentials" | "tenant_selection_required" | "two_factor_required" | "invalid_two_factor_code" | "two_factor_locked" | "two_factor_setup_required" | "two_factor_already_enabled" | "two_factor_not_enabled" | "two_factor_required_by_tenant" | "invalid_refresh_token" | "refresh_token_reused" | "forbidden" | "email_not_verified" | "email_taken" | "already_member" | "invitation_exists" | "invalid_one_time_token" | "seat_limit_reached" | "quota_exceeded" | "plan_feature_required" | "version_conflict" | "origin_not_allowed" | "invalid_identity" | "upstream_unavailable" | "no_subscription" | "invalid_signature" | "upgrade_required" | "owner_protected" | "capacity_reached" | "conversation_closed" | "conversation_open" | "visitor_has_open_conversation" | "resource_not_found" | "tenant_inactive" | "wrong_region" | "service_unavailable" | "internal";

export type FieldError = { 
/**
 * The JSON field name (dotted for nested fields).
 */
field: string, 
/**
 * A short machine-readable reason, e.g. `required`, `too_long`, `invalid_email`.
 */
code: string, 
/**
 * A sentence for people.
 */
message: string, };

export type Problem = { 
/**
 * `urn:kefu:error:<code>`.
 */
type: string, 
/**
 * A short summary of the problem type.
 */
title: string, 
/**
 * The HTTP status code.
 */
status: number, 
/**
 * What went wrong this time, for people.
 */
detail: string, 
/**
 * The stable error code.
 */
code: ErrorCode, 
/**
 * Field errors, present for `validation_failed`.
 */
errors?: Array<FieldError>, };

export type WsErrorCode = "invalid_json" | "unknown_type" | "invalid_frame" | "invalid_body" | "invalid_client_id" | "conversation_not_found" | "conversation_closed" | "rate_limited" | "forbidden" | "capacity_reached" | "unavailable" | "internal";

export type Availability = "online" | "busy" | "offline";

export type QueuePlace = { 
/**
 * 1 = next.
 */
position: number, 
/**
 * Estimated seconds until an agent answers, from recent waits; absent without history.
 */
estimated_wait_secs?: number | null, };

export type Saved = "profile" | "context";

export type AgentStatus = "online" | "busy" | "away" | "offline";

export type Sender = { "kind": "visitor", 
/**
 * Visitor id.
 */
id: VisitorId, } | { "kind": "agent", 
/**
 * User id.
 */
id: UserId, 
/**
 * Display name at the time.
 */
name: string, } | { "kind": "system" } | { "kind": "bot", 
/**
 * The bot's display name.
 */
name: string, } | { "kind": "auto", 
/**
 * The name it is shown under: the widget's title in the visitor's language.
 */
name: string, };

export type AttachmentRef = { 
/**
 * Id.
 */
id: AttachmentId, 
/**
 * File name as uploaded.
 */
name: string, 
/**
 * Media type sniffed from the content.
 */
content_type: string, 
/**
 * Bytes.
 */
size: number, };

export type HandoffReason = "low_score" | "requested" | "not_helpful" | "agent_took_over" | "no_knowledge" | "bot_off";

export type BotReply = { 
/**
 * The knowledge-base entry it answers with (absent for the bot's own notices).
 */
entry_id?: KbEntryId | null, 
/**
 * Ask "Did this help? / Talk to a human" (answered with `bot_feedback`).
 */
ask_feedback: boolean, 
/**
 * Other questions the knowledge base answers, offered as one-tap replies (sent as the
 * visitor's message).
 */
related: Array<string>, 
/**
 * This message hands the conversation to people: the bot is done in it.
 */
handoff?: boolean, };

export type NoteEvent = { "kind": "transferred", 
/**
 * Who transferred it.
 */
by: UserId, 
/**
 * The receiving agent, for a transfer to an agent.
 */
to_agent?: UserId | null, 
/**
 * The receiving team, for a transfer to a team.
 */
to_team?: TeamId | null, 
/**
 * Why, for the receiver.
 */
note?: string | null, } | { "kind": "reopened", 
/**
 * Who reopened it.
 */
by: UserId, } | { "kind": "participant_added", 
/**
 * Who invited them.
 */
by: UserId, 
/**
 * The colleague.
 */
user_id: UserId, } | { "kind": "bot_handoff", 
/**
 * Why.
 */
reason: HandoffReason, } | { "kind": "rule_fired", 
/**
 * The rule's id.
 */
rule_id: string, 
/**
 * Its name when it fired.
 */
name: string, 
/**
 * What it did.
 */
applied: Array<Action>, 
/**
 * What it could not do (the conversation already had an agent, the agent was at
 * capacity or gone).
 */
skipped?: Array<Action>, } | { "kind": "rated", 
/**
 * 1–5.
 */
rating: number, 
/**
 * What they wrote, if anything.
 */
comment?: string | null, };

export type MessageView = { 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Message id.
 */
message_id: MessageId, 
/**
 * Gap-free per-conversation sequence number, from 1.
 */
seq: number, 
/**
 * Author.
 */
sender: Sender, 
/**
 * `true` for private notes (never sent to visitors).
 */
private: boolean, 
/**
 * Text.
 */
body: string, 
/**
 * The author's client id.
 */
client_id: string, 
/**
 * When it was committed.
 */
created_at: string, 
/**
 * The file sent with it.
 */
attachment?: AttachmentRef | null, 
/**
 * For system notes: what happened, structured (the body says it for people).
 */
event?: NoteEvent | null, 
/**
 * For the bot's messages: the entry it answered with and what the widget offers.
 */
bot?: BotReply | null, };

export type ConversationStatus = "open" | "closed";

export type ConversationSummary = { 
/**
 * Conversation id.
 */
conversation_id: ConversationId, 
/**
 * The visitor.
 */
visitor_id: VisitorId, 
/**
 * Open or closed.
 */
status: ConversationStatus, 
/**
 * The assigned agent, if any.
 */
assignee: UserId | null, 
/**
 * Highest sequence number.
 */
last_seq: number, 
/**
 * Last activity.
 */
updated_at: string, 
/**
 * The visitor's rating (1–5), once closed and rated.
 */
rating?: number | null, 
/**
 * The team whose queue it is in, if any (agents only).
 */
team_id?: TeamId | null, 
/**
 * Tags, lowercase (agents only; empty for visitors).
 */
tags: Array<string>, 
/**
 * Colleagues invited into the conversation besides the assignee (agents only; empty for
 * visitors).
 */
participants: Array<UserId>, 
/**
 * The FAQ bot is answering it: it is not in the queue until the bot hands it off.
 */
bot: boolean, };

export type JoinEntry = { 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Highest `seq` the agent has (0 or absent: everything).
 */
last_seq?: number, };

export type VisitorFrame = { "type": "hello", 
/**
 * Protocol version the client speaks.
 */
protocol: number, 
/**
 * Highest `seq` the client has; the server replays everything after it.
 */
last_seq?: number, } | { "type": "send", 
/**
 * The client's id for this message; retries with the same id are answered with the
 * original `ack` and stored once.
 */
client_id: string, 
/**
 * Text, 1–4000 characters (with an attachment: a caption, or its file name).
 */
body: string, 
/**
 * A file this visitor uploaded and has not sent yet.
 */
attachment_id?: AttachmentId | null, } | { "type": "typing", 
/**
 * Typing or stopped.
 */
typing: boolean, } | { "type": "read", 
/**
 * Highest read sequence number.
 */
seq: number, } | { "type": "page_view", 
/**
 * Page URL.
 */
url: string, 
/**
 * Page title.
 */
title?: string, 
/**
 * Referrer.
 */
referrer?: string, } | { "type": "leave" } | { "type": "ping" } | { "type": "profile", 
/**
 * Name.
 */
name?: string, 
/**
 * Email address.
 */
email?: string, 
/**
 * Phone number.
 */
phone?: string, 
/**
 * The tenant's custom form fields, by key.
 */
fields?: { [key in string]: string }, } | { "type": "context", 
/**
 * The object.
 */
data: { [key in string]: JsonValue }, } | { "type": "rate", 
/**
 * The conversation (the visitor's own).
 */
conversation_id: ConversationId, 
/**
 * 1 (bad) to 5 (great).
 */
rating: number, 
/**
 * Optional words.
 */
comment?: string, } | { "type": "status" } | { "type": "bot_feedback", 
/**
 * The bot's answer.
 */
message_id: MessageId, 
/**
 * Whether it helped.
 */
helpful: boolean, } | { "type": "human" };

export type AgentFrame = { "type": "hello", 
/**
 * Protocol version the client speaks.
 */
protocol: number, } | { "type": "subscribe_inbox" } | { "type": "join", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Highest `seq` the agent has.
 */
last_seq?: number, } | { "type": "join_many", 
/**
 * 1–200 conversations with the highest `seq` the agent has of each.
 */
conversations: Array<JoinEntry>, } | { "type": "claim", 
/**
 * The conversation.
 */
conversation_id: ConversationId, } | { "type": "send", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * The client's id for this message (idempotent retries).
 */
client_id: string, 
/**
 * Text, 1–4000 characters (with an attachment: a caption, or its file name).
 */
body: string, 
/**
 * A file this agent uploaded and has not sent yet.
 */
attachment_id?: AttachmentId | null, } | { "type": "note", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * The client's id for this note (idempotent retries).
 */
client_id: string, 
/**
 * Text, 1–4000 characters.
 */
body: string, } | { "type": "typing", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Typing or stopped.
 */
typing: boolean, } | { "type": "read", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Highest read sequence number.
 */
seq: number, } | { "type": "close", 
/**
 * The conversation.
 */
conversation_id: ConversationId, } | { "type": "set_presence", 
/**
 * New status (`offline` is not settable; disconnect instead).
 */
status: AgentStatus, } | { "type": "ping" };

export type ServerFrame = { "type": "welcome", 
/**
 * The protocol version in use.
 */
protocol: number, 
/**
 * Seconds between server pings.
 */
heartbeat_secs: number, 
/**
 * For visitors: their open conversation, if any.
 */
conversation_id?: ConversationId | null, 
/**
 * For visitors: the FAQ bot is answering their open conversation (offer "Talk to a
 * human").
 */
bot?: boolean, } | { "type": "ack", 
/**
 * The client id of the acknowledged frame.
 */
client_id: string, 
/**
 * The stored message.
 */
message_id: MessageId, 
/**
 * Its conversation.
 */
conversation_id: ConversationId, 
/**
 * Its sequence number.
 */
seq: number, 
/**
 * Commit time.
 */
created_at: string, } | { "type": "message" } & MessageView | { "type": "typing", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Who.
 */
sender: Sender, 
/**
 * Typing or stopped.
 */
typing: boolean, } | { "type": "read", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Who.
 */
reader: Sender, 
/**
 * Highest read sequence number.
 */
seq: number, } | { "type": "conversation_updated" } & ConversationSummary | { "type": "page_view", 
/**
 * The visitor.
 */
visitor_id: VisitorId, 
/**
 * Their open conversation, if any.
 */
conversation_id?: ConversationId | null, 
/**
 * Page URL.
 */
url: string, 
/**
 * Page title.
 */
title: string | null, 
/**
 * When.
 */
viewed_at: string, } | { "type": "presence", 
/**
 * The agent.
 */
agent_id: UserId, 
/**
 * New status.
 */
status: AgentStatus, } | { "type": "visitor_presence", 
/**
 * The visitor.
 */
visitor_id: VisitorId, 
/**
 * Online now.
 */
online: boolean, } | { "type": "error", 
/**
 * Stable code.
 */
code: WsErrorCode, 
/**
 * For people.
 */
message: string, 
/**
 * The client id of the refused frame, when it had one.
 */
client_id?: string | null, 
/**
 * The conversation the refusal is about, when the frame named one (`join`, `join_many`,
 * `claim`, `send`, …).
 */
conversation_id?: ConversationId, 
/**
 * Whether sending the same frame again may succeed.
 */
retryable: boolean, } | { "type": "joined", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * Its highest sequence number when it was joined.
 */
last_seq: number, } | { "type": "pong" } | { "type": "session_ended" } | { "type": "status", 
/**
 * Whether agents are there.
 */
agents: Availability, 
/**
 * The visitor's place while unassigned.
 */
queue?: QueuePlace | null, 
/**
 * The tenant's FAQ bot is on: the visitor can write (and be answered) even when the
 * team is offline, so the widget offers the chat rather than the offline form.
 */
bot?: boolean, 
/**
 * When the team is offline by its business hours: when they next open (within 60 days).
 */
opens_at?: string | null, 
/**
 * The workspace's conversations for the month are used up: a new conversation is taken
 * as an offline message, so the widget offers the offline form (with a polite text)
 * rather than a live chat.
 */
quota_reached?: boolean, } | { "type": "saved", 
/**
 * `profile` or `context`.
 */
what: Saved, } | { "type": "rated", 
/**
 * The conversation.
 */
conversation_id: ConversationId, 
/**
 * The rating.
 */
rating: number, } | { "type": "visitor_updated", 
/**
 * The visitor.
 */
visitor_id: VisitorId, } | { "type": "queue_changed" };

export type Position = "right" | "left";

export type FieldKind = "name" | "email" | "phone" | "text";

export type FormField = { 
/**
 * Key the answer is stored under: `[a-z][a-z0-9_]{0,31}`.
 */
key: string, 
/**
 * What it collects.
 */
kind: FieldKind, 
/**
 * Whether the visitor must answer.
 */
required: boolean, 
/**
 * Label per language (1–80 characters).
 */
label: { [key in string]: string }, };

export type FormSettings = { 
/**
 * Shown at all.
 */
enabled: boolean, 
/**
 * Its fields, in order.
 */
fields: Array<FormField>, };

export type WidgetTexts = { 
/**
 * Header title (1–60 characters).
 */
title: string, 
/**
 * First message shown to a visitor (1–500).
 */
greeting: string, 
/**
 * Shown when nobody is online (1–500).
 */
offline_message: string, 
/**
 * Placeholder of the message box (1–80).
 */
input_placeholder: string, };

export type WidgetSettings = { 
/**
 * Brand colour, `#rrggbb`.
 */
color: string, 
/**
 * Launcher corner.
 */
position: Position, 
/**
 * Logo shown in the header (an https URL), if any.
 */
logo_url: string | null, 
/**
 * Language used when the visitor's browser prefers none of `languages`.
 */
default_language: string, 
/**
 * Languages offered (a subset of [`LANGUAGES`]).
 */
languages: Array<string>, 
/**
 * Texts per offered language.
 */
texts: { [key in string]: WidgetTexts }, 
/**
 * Pre-chat form.
 */
pre_chat: FormSettings, 
/**
 * Offline "leave a message" form.
 */
offline_form: FormSettings, 
/**
 * Sites allowed to embed the widget (exact origins or `https://*.domain`).
 */
allowed_origins: Array<OriginPattern>, 
/**
 * Refuse visitors whose identity is not verified by the tenant's HMAC.
 */
identity_required: boolean, };

export type OpenSpan = { 
/**
 * ISO weekday: 1 = Monday … 7 = Sunday.
 */
day: number, 
/**
 * Opening time, `HH:MM` (24 h).
 */
from: string, 
/**
 * Closing time, `HH:MM`, after `from` (`24:00` for midnight).
 */
to: string, };

export type TimeSpan = { 
/**
 * Opening time, `HH:MM`.
 */
from: string, 
/**
 * Closing time, `HH:MM`, after `from` (`24:00` for midnight).
 */
to: string, };

export type SpecialDay = { 
/**
 * The local date, `YYYY-MM-DD`.
 */
date: string, 
/**
 * What it is ("国庆节", "Christmas Eve"), up to 60 characters.
 */
label: string, 
/**
 * Its open spans; none: closed all day.
 */
open: Array<TimeSpan>, };

export type BusinessHours = { 
/**
 * IANA time zone the hours are in (`Asia/Shanghai`); the api checks it exists. Times are
 * wall-clock times there, so they follow its daylight saving changes.
 */
timezone: string, 
/**
 * Open spans; a weekday without one is closed.
 */
open: Array<OpenSpan>, 
/**
 * Dates whose hours replace the weekly ones (a holiday: no spans).
 */
special_days: Array<SpecialDay>, };

export type AutoReply = { 
/**
 * Whether it is sent.
 */
enabled: boolean, 
/**
 * Its text per language (the visitor's language, else the widget's default language, else
 * English, else any); 1–1000 characters each.
 */
texts: { [key in string]: string }, };

export type AutoReplies = { 
/**
 * Answers a conversation's first message while the team is there.
 */
greeting: AutoReply, 
/**
 * Answers a visitor who writes while the team is offline (outside business hours, or nobody
 * connected): once until an agent writes in the conversation.
 */
away: AutoReply, };

export type AutoClose = { 
/**
 * Whether idle conversations are closed.
 */
enabled: boolean, 
/**
 * Minutes without activity, 5–10080.
 */
after_minutes: number, 
/**
 * The closing message per language (as [`AutoReply::texts`]).
 */
texts: { [key in string]: string }, };

export type ServiceHours = { 
/**
 * When the team answers. Outside these hours visitors are told the team is offline (the
 * offline form shows) even if agents are connected. `None`: whenever agents are there.
 */
business_hours: BusinessHours | null, 
/**
 * Replies Kefu sends on the team's behalf.
 */
auto_replies: AutoReplies, 
/**
 * Closing conversations the visitor stopped answering.
 */
auto_close: AutoClose, };

export type Trigger = "conversation_opened" | "visitor_message";

export type TextOp = "contains" | "equals" | "starts_with" | "matches";

export type Condition = { "field": "message", 
/**
 * How.
 */
op: TextOp, 
/**
 * What.
 */
value: string, } | { "field": "page_url", 
/**
 * How.
 */
op: TextOp, 
/**
 * What.
 */
value: string, } | { "field": "language", 
/**
 * A language tag.
 */
value: string, } | { "field": "attribute", 
/**
 * Its key.
 */
key: string, 
/**
 * How.
 */
op: TextOp, 
/**
 * What.
 */
value: string, };

export type Action = { "type": "tag", 
/**
 * The tag (1–40 characters).
 */
tag: string, } | { "type": "team", 
/**
 * The team.
 */
team_id: TeamId, } | { "type": "priority", 
/**
 * The priority.
 */
priority: number, } | { "type": "assign", 
/**
 * The agent.
 */
user_id: UserId, };

export type Rule = { 
/**
 * Stable id (`[a-z0-9_-]{1,40}`, unique), recorded on the conversations it fired on.
 */
id: string, 
/**
 * What people call it (1–80 characters).
 */
name: string, 
/**
 * Whether it runs.
 */
enabled: boolean, 
/**
 * When it is evaluated.
 */
trigger: Trigger, 
/**
 * All must hold (1–10).
 */
conditions: Array<Condition>, 
/**
 * What it does (1–10).
 */
actions: Array<Action>, };
