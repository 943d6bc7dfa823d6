// The tenant's public widget configuration, inlined by the edge into the loader
// (`window.KefuConfig`, rendered by `kefu_edge::loader`), and the bridge between the loader and
// the chat UI. Both bundles import only types from here.

import type { Availability } from './protocol';

export type FieldKind = 'name' | 'email' | 'phone' | 'text';

export interface FormField {
  key: string;
  kind: FieldKind;
  required: boolean;
  label: Record<string, string>;
}

export interface FormSettings {
  enabled: boolean;
  fields: FormField[];
}

export interface WidgetTexts {
  title: string;
  greeting: string;
  offline_message: string;
  input_placeholder: string;
}

export interface KefuConfig {
  site_key: string;
  edge_url: string;
  version: number;
  /** The console's widget editor draws the widget with unsaved settings and never connects; the
   * team shows as this. */
  preview?: 'online' | 'offline';
  /** The hosted chat page (edge `GET /c/{link}`): the chat link from the visitor's mail. The
   * widget fills the page, stays open, and is admitted as the link's visitor. */
  link?: string;
  settings: {
    color: string;
    position: 'right' | 'left';
    logo_url: string | null;
    default_language: string;
    languages: string[];
    texts: Record<string, WidgetTexts>;
    pre_chat: FormSettings;
    offline_form: FormSettings;
    identity_required: boolean;
  };
}

/** `Kefu('identify', …)`: a signed-in customer of the tenant. */
export interface Identity {
  id: string;
  hash: string;
  /** VIP level 0–10, signed with the id (the hash then covers `id + "\nvip=" + level`). */
  vip?: number;
  name?: string;
  email?: string;
}

/** Events a page can follow with `Kefu('on', event, fn)`. */
export type KefuEvent = 'ready' | 'open' | 'close' | 'message' | 'unread' | 'agent_status' | 'status';

/** `Kefu('openChat', …)`: open the panel with context for the team and a message to send. */
export interface OpenChat {
  /** Replaces the context (like `setContext`); a string becomes `{ note: string }`. */
  context?: Record<string, unknown> | string;
  /** Put in the composer (or the offline form's message); the visitor sends it. */
  message?: string;
}

/** The `status` event (`Kefu('on', 'status', fn)`, or `Kefu('onSessionChange', fn)`): the
 * team's availability as the server's `status` frame last told it. */
export interface TeamStatus {
  /** `online`: an agent takes new conversations; `busy`: agents connected, none does;
   * `offline`: nobody connected, or outside business hours. */
  team: Availability;
  /** Closed by business hours: when the team opens next (an ISO instant), else null. */
  opens_at: string | null;
  /** The tenant's FAQ bot answers, so the visitor can write even when the team is offline. */
  bot: boolean;
}

/** What the loader gives the UI when it mounts it. */
export interface Bridge {
  config: KefuConfig;
  /** The shadow root the UI renders into (the launcher lives there too). */
  root: ShadowRoot;
  /** Identity and context set before the UI loaded (a string context is the UI's to shape). */
  identity: Identity | null;
  context: Record<string, unknown> | string | null;
  /** Whether new agent messages chime (`Kefu('sound', false)` turns it off). */
  sound: boolean;
  /** Tell the page (and the launcher) something happened. */
  emit(event: KefuEvent, data?: unknown): void;
  /** The launcher's badge. */
  setUnread(count: number): void;
  /** The launcher's open/closed look. */
  setOpen(open: boolean): void;
}

/** What the UI gives back to the loader. */
export interface UiApi {
  /** Opens the panel; a string `message` goes into the composer (`openChat`). */
  open(message?: unknown): void;
  close(): void;
  toggle(): void;
  identify(identity: Identity): void;
  setContext(context: Record<string, unknown> | string): void;
  setSound(on: boolean): void;
}

/** The UI bundle hands its mount function to the loader through this hook. */
export type Mount = (bridge: Bridge) => UiApi;
