// What the widget remembers in the host page's localStorage, per site key: the visitor's id and
// proof (a returning visitor keeps their conversation), the conversation seen last, how far the
// visitor has read, and the outbox of messages not yet acknowledged (so a reload or a network
// drop never loses what the visitor typed). Storage may be blocked: then memory only.

export interface Outgoing {
  client_id: string;
  body: string;
  at: string;
  /** Set when the server refused it for good (shown, with a retry button). */
  failed?: string;
  /** The uploaded file this message sends (`att_…`), once the upload finished. */
  attachment_id?: string;
  /** The file is still uploading (not persisted: a reload drops an unfinished upload). */
  uploading?: boolean;
  /** A file message (retried only once uploaded: the browser's File is not kept). */
  file?: boolean;
}

export interface Stored {
  visitor_id?: string;
  visitor_proof?: string;
  conversation_id?: string;
  read_seq?: number;
  outbox?: Outgoing[];
  /** What the visitor entered in a form, until the server has it. */
  profile?: import('../protocol').Profile;
  /** The pre-chat form was filled in (it is not asked again). */
  pre_chat_done?: boolean;
}

export class Storage {
  private memory: Stored = {};

  constructor(private readonly key: string) {
    try {
      const text = localStorage.getItem(key);
      if (text) this.memory = JSON.parse(text) as Stored;
    } catch {
      // Blocked or corrupt: start fresh in memory.
    }
  }

  get(): Stored {
    // Another tab may have written since: prefer what is stored.
    try {
      const text = localStorage.getItem(this.key);
      if (text) this.memory = JSON.parse(text) as Stored;
    } catch {
      // Keep memory.
    }
    return this.memory;
  }

  update(patch: Partial<Stored>): Stored {
    this.memory = { ...this.get(), ...patch };
    try {
      localStorage.setItem(this.key, JSON.stringify(this.memory));
    } catch {
      // Memory only.
    }
    return this.memory;
  }
}

/** A client message id: a UUID (crypto.randomUUID needs a secure context, so not only that). */
export function newClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
