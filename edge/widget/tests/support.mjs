// Helpers for the browser scenarios: a proxy in front of the edge whose network can be cut and
// restored, an agent speaking the real WebSocket protocol, polling, and the operator's command line.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';

/** A TCP proxy `listenPort` → `target` that can drop every connection and refuse new ones. */
export async function cuttableProxy(listenPort, target) {
  const { hostname, port } = new URL(target);
  const sockets = new Set();
  let up = true;
  const server = createServer((client) => {
    if (!up) return client.destroy();
    const upstream = connect(Number(port), hostname);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  });
  // Port 0 lets the system choose one (no race with other processes taking it meanwhile).
  await new Promise((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      up = true;
    },
    close() {
      this.cut();
      server.close();
    },
  };
}

/**
 * Asks the Rust harness (tests/tests/widget.rs) to do something to the processes it owns
 * (`kill-api`, `start-api`) and waits until it says it is done.
 */
export async function harness(command, ms = 90_000) {
  const dir = process.env.KEFU_CONTROL_DIR;
  if (!dir) throw new Error('KEFU_CONTROL_DIR is not set (run through make test)');
  writeFileSync(join(dir, command), '');
  await until(`the harness to ${command}`, () => existsSync(join(dir, `${command}.done`)), ms);
}

/** Polls `check` (sync or async) until it returns a truthy value or `ms` pass. */
export async function until(what, check, ms = 15_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An agent on `/ws/agent`, keeping every frame it received. */
export class Agent {
  static async connect(api, token) {
    const agent = new Agent(api, token);
    await agent.open();
    return agent;
  }

  constructor(api, token) {
    this.api = api;
    this.token = token;
    this.frames = [];
  }

  /** A new connection after the old one died (frames start over). */
  async reconnect() {
    this.ws.onclose = null;
    this.ws.close();
    this.frames = [];
    await this.open();
  }

  async open() {
    this.ws = new WebSocket(`${this.api.replace(/^http/, 'ws')}/ws/agent?token=${encodeURIComponent(this.token)}`);
    this.ws.onmessage = (event) => this.frames.push(JSON.parse(event.data));
    await new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error('agent socket failed'));
    });
    this.send({ type: 'hello', protocol: 1 });
    await this.next((f) => f.type === 'welcome');
    this.send({ type: 'subscribe_inbox' });
  }

  send(frame) {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame (received so far or later) matching `pred`. */
  next(pred, ms) {
    return until('an agent frame', () => this.frames.find(pred), ms);
  }

  say(conversationId, body) {
    const client_id = randomUUID();
    this.send({ type: 'send', conversation_id: conversationId, client_id, body });
    return this.next((f) => f.type === 'ack' && f.client_id === client_id);
  }

  /** The conversation's public messages as the api stores them, in order. */
  async transcript(conversationId) {
    const response = await fetch(`${this.api}/api/v1/conversations/${conversationId}/messages?after_seq=0&limit=200`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!response.ok) throw new Error(`transcript: ${response.status} ${await response.text()}`);
    const page = await response.json();
    return page.messages.filter((m) => !m.private);
  }

  close() {
    this.ws.close();
  }

  async rest(method, path, body) {
    const response = await fetch(`${this.api}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** Edits the widget settings the way the console's editor does. */
  async editWidget(change) {
    const current = await this.rest('GET', '/api/v1/widget');
    const settings = structuredClone(current.settings);
    change(settings);
    return this.rest('PUT', '/api/v1/widget', { settings, version: current.version });
  }
}

/** What the widget keeps in the page's localStorage for a site key. */
export async function widgetStorage(page, siteKey) {
  return page.evaluate((key) => JSON.parse(localStorage.getItem(`kefu:${key}`) || '{}'), siteKey);
}

/**
 * The operator's command line (`kefu plans set …`), as the harness provides it: KEFU_BIN,
 * KEFU_OPERATOR_DATABASE_URL, KEFU_OPERATOR_SIGNING_KEYS, KEFU_OPERATOR_VISITOR_KEYS. Only what the command reads is passed:
 * the scenarios' own KEFU_* variables are not its settings.
 */
export function operator(...args) {
  const need = (name) => {
    if (!process.env[name]) throw new Error(`${name} is not set (run through make test)`);
    return process.env[name];
  };
  return execFileSync(need('KEFU_BIN'), args, {
    env: { PATH: process.env.PATH, DATABASE_URL: need('KEFU_OPERATOR_DATABASE_URL'), KEFU_AUTH__SIGNING_KEYS: need('KEFU_OPERATOR_SIGNING_KEYS'), KEFU_AUTH__VISITOR_KEYS: need('KEFU_OPERATOR_VISITOR_KEYS') },
    encoding: 'utf8',
  });
}
