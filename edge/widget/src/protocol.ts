// The visitor side of WebSocket protocol v1 (docs/protocol.md; Rust: kefu_protocol::ws) and the
// edge's session grant (docs/edge.md). Only what the widget sends and reads.

export const PROTOCOL = 1;

export interface SessionGrant {
  token: string;
  ws_url: string;
  visitor_id: string;
  visitor_proof: string;
  expires_at: number;
}

export interface Problem {
  status: number;
  code: string;
  detail: string;
}

export type Sender = { kind: 'visitor'; id: string } | { kind: 'agent'; id: string; name: string } | { kind: 'system' };

export interface AttachmentRef {
  id: string;
  name: string;
  content_type: string;
  size: number;
}

export interface AttachmentUpload extends AttachmentRef {}

export interface MessageFrame {
  type: 'message';
  conversation_id: string;
  message_id: string;
  seq: number;
  sender: Sender;
  private: boolean;
  body: string;
  client_id: string | null;
  created_at: string;
  attachment?: AttachmentRef | null;
}

export type Availability = 'online' | 'busy' | 'offline';

export interface QueuePlace {
  position: number;
  estimated_wait_secs?: number;
}

export type ServerFrame =
  | { type: 'welcome'; protocol: number; heartbeat_secs: number; conversation_id?: string | null }
  | { type: 'ack'; client_id: string; message_id: string; conversation_id: string; seq: number; created_at: string }
  | MessageFrame
  | { type: 'typing'; conversation_id: string; sender: Sender; typing: boolean }
  | { type: 'read'; conversation_id: string; reader: Sender; seq: number }
  | { type: 'error'; code: string; message: string; client_id?: string | null; retryable: boolean }
  | { type: 'pong' }
  | { type: 'status'; agents: Availability; queue?: QueuePlace | null }
  | { type: 'rated'; conversation_id: string; rating: number }
  | { type: 'saved'; what: 'profile' | 'context' }
  | {
      type: 'conversation_updated';
      conversation_id: string;
      status: 'open' | 'closed';
      assignee: string | null;
      last_seq: number;
    };

export type VisitorFrame =
  | { type: 'hello'; protocol: number; last_seq: number }
  | { type: 'send'; client_id: string; body: string; attachment_id?: string }
  | { type: 'typing'; typing: boolean }
  | { type: 'read'; seq: number }
  | { type: 'page_view'; url: string; title: string; referrer?: string }
  | { type: 'ping' }
  | { type: 'status' }
  | { type: 'profile'; name?: string; email?: string; phone?: string; fields?: Record<string, string> }
  | { type: 'context'; data: Record<string, unknown> }
  | { type: 'rate'; conversation_id: string; rating: number; comment?: string };

/** What a visitor tells in a form (`profile` frame). */
export interface Profile {
  name?: string;
  email?: string;
  phone?: string;
  fields?: Record<string, string>;
}

/** Close codes after which reconnecting cannot help (a client bug or a refused version). */
export const FATAL_CLOSES = [1003, 1009, 4003, 4004];

/** Limits from the protocol. */
export const MAX_BODY_CHARS = 4000;
/** The largest file the edge carries (the tenant's plan may allow less: 10–50 MiB). */
export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
