import { describe, expect, it } from 'vitest';
import { Session, type SessionResponse, type SessionStorage } from './session';

function memory(): SessionStorage & { value: string | null } {
  const store = { value: null as string | null, get: () => store.value, set: (v: string | null) => void (store.value = v) };
  return store;
}

function answer(n: number): SessionResponse {
  return {
    access_token: `access-${n}`,
    expires_in: 900,
    refresh_token: `refresh-${n}`,
    user: { id: 'usr_1', email: 'a@example.com', display_name: 'A', email_verified: true },
    tenant: { id: 'tnt_1', slug: 'acme', name: 'Acme' },
    role: 'owner',
  };
}

/** Two tabs sharing one storage and one lock, as two browser tabs share localStorage and Web Locks. */
function tabs(refresher: (token: string) => Promise<SessionResponse | 'revoked'>, clock: { now: number }) {
  const storage = memory();
  let chain = Promise.resolve();
  const lock = <T,>(_name: string, work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work);
    chain = run.then(() => undefined, () => undefined);
    return run;
  };
  const make = () => new Session(storage, refresher, lock, () => clock.now);
  return { storage, a: make(), b: make() };
}

describe('session', () => {
  it('uses the access token while fresh and refreshes shortly before it expires', async () => {
    const clock = { now: 0 };
    const used: string[] = [];
    const { a } = tabs(async (token) => {
      used.push(token);
      return answer(2);
    }, clock);
    a.start(answer(1));
    expect(await a.accessToken()).toBe('access-1');
    clock.now = 850_000;
    expect(await a.accessToken()).toBe('access-2');
    expect(used).toEqual(['refresh-1']);
  });

  it('refreshes once when two tabs need a token at the same time (a reused refresh token would revoke the session)', async () => {
    const clock = { now: 0 };
    const used: string[] = [];
    const { a, b } = tabs(async (token) => {
      used.push(token);
      await new Promise((r) => setTimeout(r, 5));
      return answer(used.length + 1);
    }, clock);
    a.start(answer(1));
    clock.now = 890_000;
    const [ta, tb] = await Promise.all([a.accessToken(), b.accessToken()]);
    expect(used).toEqual(['refresh-1']);
    expect(ta).toBe('access-2');
    expect(tb).toBe('access-2');
  });

  it('ends the session when the refresh token is refused', async () => {
    const clock = { now: 0 };
    const { a, storage } = tabs(async () => 'revoked', clock);
    a.start(answer(1));
    clock.now = 899_000;
    expect(await a.accessToken()).toBeNull();
    expect(storage.value).toBeNull();
    expect(a.current()).toBeNull();
  });

  it('keeps the session when the network fails during a refresh', async () => {
    const clock = { now: 0 };
    const { a } = tabs(async () => {
      throw new Error('offline');
    }, clock);
    a.start(answer(1));
    clock.now = 899_000;
    await expect(a.accessToken()).rejects.toThrow('offline');
    expect(a.current()?.refreshToken).toBe('refresh-1');
  });
});
