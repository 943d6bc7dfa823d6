// The signed-in session: tokens, user, tenant and role, kept in localStorage so every tab shares
// one session. Access tokens are refreshed silently shortly before they expire; refresh tokens are
// single-use and reusing one revokes the session, so a refresh runs under a Web Lock and first
// re-reads what another tab may already have refreshed.

export interface SessionUser {
  id: string;
  email: string;
  display_name: string;
  email_verified: boolean;
  /** The language the api knows the member reads Kefu in (mails use it). */
  language?: string | null;
}

export interface SessionTenant {
  id: string;
  slug: string;
  name: string;
}

/** What the api answers to signup, login and refresh (`SessionResponse`). */
export interface SessionResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  user: SessionUser;
  tenant: SessionTenant;
  role: string;
}

export interface StoredSession {
  accessToken: string;
  /** Epoch milliseconds. */
  accessExpiresAt: number;
  refreshToken: string;
  user: SessionUser;
  tenant: SessionTenant;
  role: string;
}

const KEY = 'kefu.session';
/** Refresh this long before the access token expires. */
const MARGIN_MS = 60_000;

/** Storage seam so the logic is unit-testable without a browser. */
export interface SessionStorage {
  get(): string | null;
  set(value: string | null): void;
}

export type Refresher = (refreshToken: string) => Promise<SessionResponse | 'revoked'>;

type Lock = <T>(name: string, work: () => Promise<T>) => Promise<T>;

function browserLock(): Lock {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  // `request` types its answer as a promise of what the callback returns (here a promise); awaited, it is `work`'s.
  if (locks) return async <T,>(name: string, work: () => Promise<T>): Promise<T> => await locks.request(name, work);
  return (_name, work) => work();
}

export function fromResponse(response: SessionResponse, now: number): StoredSession {
  return {
    accessToken: response.access_token,
    accessExpiresAt: now + response.expires_in * 1000,
    refreshToken: response.refresh_token,
    user: response.user,
    tenant: response.tenant,
    role: response.role,
  };
}

export class Session {
  private listeners = new Set<() => void>();
  private inflight: Promise<string | null> | null = null;
  private cached: StoredSession | null = null;
  private cachedRaw: string | null = null;

  constructor(
    private readonly storage: SessionStorage,
    private readonly refresher: Refresher,
    private readonly lock: Lock = browserLock(),
    private readonly now: () => number = Date.now,
  ) {}

  /** The stored session, or null when signed out. */
  current(): StoredSession | null {
    const raw = this.storage.get();
    if (raw !== this.cachedRaw) {
      this.cachedRaw = raw;
      try {
        this.cached = raw ? (JSON.parse(raw) as StoredSession) : null;
      } catch {
        this.cached = null;
      }
    }
    return this.cached;
  }

  start(response: SessionResponse): void {
    this.write(fromResponse(response, this.now()));
  }

  /** Updates the user part after a profile change or email verification. */
  updateUser(user: Partial<SessionUser>): void {
    const current = this.current();
    if (current) this.write({ ...current, user: { ...current.user, ...user } });
  }

  /** Signed out here and in every tab. */
  expire(): void {
    this.write(null);
  }

  /** A valid access token, refreshing first when it is about to expire; null when signed out. */
  async accessToken(): Promise<string | null> {
    const current = this.current();
    if (!current) return null;
    if (current.accessExpiresAt - this.now() > MARGIN_MS) return current.accessToken;
    return this.refresh();
  }

  /** Refreshes now (deduplicated within the tab, serialised across tabs). */
  refresh(): Promise<string | null> {
    this.inflight ??= this.lock('kefu.session.refresh', () => this.refreshLocked()).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async refreshLocked(): Promise<string | null> {
    // Another tab may have refreshed while this one waited for the lock.
    const current = this.current();
    if (!current) return null;
    if (current.accessExpiresAt - this.now() > MARGIN_MS) return current.accessToken;
    const answer = await this.refresher(current.refreshToken);
    if (answer === 'revoked') {
      this.expire();
      return null;
    }
    const next = fromResponse(answer, this.now());
    this.write(next);
    return next.accessToken;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Call when another tab changed the storage. */
  changedElsewhere(): void {
    for (const listener of this.listeners) listener();
  }

  private write(value: StoredSession | null): void {
    this.storage.set(value ? JSON.stringify(value) : null);
    this.changedElsewhere();
  }
}

async function refreshOverHttp(refreshToken: string): Promise<SessionResponse | 'revoked'> {
  const response = await fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  if (response.ok) return (await response.json()) as SessionResponse;
  if (response.status === 401) return 'revoked';
  throw new Error(`refresh failed: HTTP ${response.status}`);
}

const localStore: SessionStorage = {
  get: () => (typeof localStorage === 'undefined' ? null : localStorage.getItem(KEY)),
  set: (value) => {
    if (typeof localStorage === 'undefined') return;
    if (value === null) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, value);
  },
};

export const session = new Session(localStore, refreshOverHttp);

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (event) => {
    if (event.key === KEY || event.key === null) session.changedElsewhere();
  });
}
