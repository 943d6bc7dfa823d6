// The widget in headless Chromium, end to end: the demo shop (its own origin) embeds the
// snippet; the loader and chat UI come from the edge through a proxy this file can cut; an agent
// answers over the real protocol. Started by tests/tests/widget.rs (make test), which provides:
// KEFU_API, KEFU_EDGE, KEFU_PROXY_PORT, KEFU_DEMO_PORT, KEFU_SITE_KEY, KEFU_AGENT_TOKEN,
// KEFU_CHROMIUM, and the operator's command line (KEFU_BIN, KEFU_OPERATOR_DATABASE_URL,
// KEFU_OPERATOR_SIGNING_KEYS, KEFU_OPERATOR_VISITOR_KEYS).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startDemo } from '../scripts/demo-server.mjs';
import { Agent, cuttableProxy, harness, operator, until, widgetStorage } from './support.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through make test)`);
  return value;
};
const API = env('KEFU_API');
const DEMO_PORT = Number(env('KEFU_DEMO_PORT'));
const SITE_KEY = env('KEFU_SITE_KEY');

// Rules that would wreck a naive widget: every element hidden, reset, recoloured and shrunk.
const HOSTILE = `<style>
  * { all: unset !important; font-size: 40px !important; color: lime !important; }
  div, button, textarea, form, span, svg { display: none !important; transform: scale(0) !important; }
  html > div { visibility: hidden !important; width: 0 !important; }
  [data-kefu-widget] { display: none !important; opacity: 0 !important; }
</style>`;

let browser, proxy, demo, agent, context, page;
let conversation;
/** The offline form's conversation (its visitor left an email address). */
let leftMessage;

before(async () => {
  proxy = await cuttableProxy(Number(env('KEFU_PROXY_PORT')), env('KEFU_EDGE'));
  demo = await startDemo({ port: DEMO_PORT, edge: proxy.url, siteKey: SITE_KEY, variants: { '/hostile': HOSTILE } });
  // REST only for now: the agent connects (and the team comes online) after the offline test.
  agent = new Agent(API, env('KEFU_AGENT_TOKEN'));
  browser = await chromium.launch({
    executablePath: env('KEFU_CHROMIUM'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error));
});

after(async () => {
  await browser?.close();
  agent?.close();
  demo?.close();
  proxy?.close();
});

const launcher = () => page.getByRole('button', { name: '在线客服' });
const composer = () => page.getByRole('textbox', { name: '输入消息' });

/** The widget's confirmed messages, in the order shown. */
async function shown(p = page) {
  return p.locator('[role=log] [data-seq]').evaluateAll((els) =>
    els.map((el) => ({ seq: Number(el.getAttribute('data-seq')), body: el.textContent })),
  );
}

async function pending(p = page) {
  return p.locator('[role=log] [data-pending]').count();
}

async function visitorSays(text) {
  await composer().fill(text);
  await composer().press('Enter');
}

test('with nobody online the offline form takes a message, validated, and the team gets it', async () => {
  const offline = await browser.newContext({ locale: 'en-US' });
  const p = await offline.newPage();
  await p.goto(`http://127.0.0.1:${DEMO_PORT}/`);
  await p.getByRole('button', { name: 'Chat with us' }).click();
  await p.getByText("We're away right now").waitFor();
  await p.getByLabel(/^Name/).fill('Ada Lovelace');
  await p.getByLabel(/^Email/).fill('not-an-email');
  await p.getByLabel(/^Message\b/).fill('Do you ship to Shanghai?');
  await p.getByRole('button', { name: 'Send message' }).click();
  await p.getByText('Enter a valid email address.').waitFor();
  if (process.env.KEFU_SCREENSHOTS) await p.screenshot({ path: `${process.env.KEFU_SCREENSHOTS}/widget-offline-form.png` });
  await p.getByLabel(/^Email/).fill('ada@example.com');
  await p.getByRole('button', { name: 'Send message' }).click();
  await p.getByText('Thanks! We got your message').waitFor();
  await until('the message stored', async () => (await widgetStorage(p, SITE_KEY)).conversation_id && (await shown(p)).length === 1);
  const stored = await widgetStorage(p, SITE_KEY);
  leftMessage = stored.conversation_id;
  const visitor = await agent.rest('GET', `/api/v1/visitors/${stored.visitor_id}`);
  assert.equal(visitor.name, 'Ada Lovelace');
  assert.equal(visitor.email, 'ada@example.com');
  const transcript = await agent.transcript(stored.conversation_id);
  assert.deepEqual(transcript.map((m) => m.body), ['Do you ship to Shanghai?']);
  await offline.close();
});

test('the snippet on another origin draws the launcher; the panel opens in zh-CN', async () => {
  await agent.open();
  // Listeners registered through the queue stub before any widget code runs, as a host page would.
  await page.addInitScript(() => {
    window.kefuEvents = [];
    window.Kefu = window.Kefu || function () { (window.Kefu.q = window.Kefu.q || []).push(arguments); };
    for (const name of ['ready', 'open', 'close', 'agent_status', 'status']) {
      window.Kefu('on', name, (data) => window.kefuEvents.push([name, data === undefined ? null : data]));
    }
  });
  await page.goto(`http://127.0.0.1:${DEMO_PORT}/`);
  await launcher().waitFor();
  const box = await launcher().boundingBox();
  assert.ok(box.width === 56 && box.height === 56, `launcher is 56×56, got ${JSON.stringify(box)}`);
  assert.ok(box.x > 1100 && box.y > 650, `launcher sits bottom right, got ${JSON.stringify(box)}`);
  await launcher().click();
  const panel = page.getByRole('dialog', { name: '在线客服' });
  await panel.waitFor();
  assert.ok(await panel.getByText('您好！请问有什么可以帮您？').isVisible(), 'the tenant greeting in zh-CN');
  assert.ok(await page.getByRole('button', { name: '发送', exact: true }).isVisible(), 'widget strings in zh-CN');
  assert.equal(await launcher().getAttribute('aria-expanded'), 'true');
  const [panelBox, logBox] = [await panel.boundingBox(), await page.getByRole('log').boundingBox()];
  assert.ok(logBox.width === panelBox.width && logBox.height > 300, `the transcript fills the panel: ${JSON.stringify(logBox)}`);
  if (process.env.KEFU_SCREENSHOTS) await page.screenshot({ path: `${process.env.KEFU_SCREENSHOTS}/widget-open.png` });
});

test('visitor and agent chat live: messages, typing both ways, read receipt', async () => {
  await visitorSays('你好，我想退款 <b>not bold</b>');
  const updated = await agent.next((f) => f.type === 'conversation_updated');
  conversation = updated.conversation_id;
  agent.send({ type: 'join', conversation_id: conversation, last_seq: 0 });
  const first = await agent.next((f) => f.type === 'message' && f.conversation_id === conversation);
  assert.equal(first.body, '你好，我想退款 <b>not bold</b>');
  // Waiting for an agent: the queue place (the offline visitor's message is ahead); the team is online.
  await page.getByText('您前面还有 1 位。').waitFor();
  const events = await page.evaluate(() => window.kefuEvents);
  assert.deepEqual(events.map(([name]) => name).filter((n) => !n.includes('status')).slice(0, 2), ['ready', 'open'], JSON.stringify(events));
  assert.ok(events.some(([name, data]) => name === 'agent_status' && data === 'online'), JSON.stringify(events));
  // The status event in the shape of the JS API: first after `ready`, from the server's frame.
  const firstStatus = events.findIndex(([name]) => name === 'status');
  assert.ok(firstStatus > events.findIndex(([name]) => name === 'ready'), JSON.stringify(events));
  assert.equal(events[firstStatus][1].team, 'online', JSON.stringify(events));
  // The host page's context reaches the team.
  await page.evaluate(() => Kefu('setContext', { order: 'A-1001', error: 'payment declined' }));
  await agent.next((f) => f.type === 'visitor_updated');
  const { visitor_id } = await widgetStorage(page, SITE_KEY);
  await until('the context stored', async () => {
    const visitor = await agent.rest('GET', `/api/v1/visitors/${visitor_id}`);
    return visitor.attributes.context?.error === 'payment declined';
  });
  // The conversation ahead is taken: the widget is told it moved up, pushed (it never polls).
  const queue = await agent.rest('GET', '/api/v1/queue');
  const ahead = queue.entries.find((e) => e.conversation_id !== conversation);
  assert.ok(ahead && queue.entries[0].conversation_id === ahead.conversation_id, JSON.stringify(queue));
  agent.send({ type: 'claim', conversation_id: ahead.conversation_id });
  await page.getByText('下一位就是您。').waitFor();
  agent.send({ type: 'claim', conversation_id: conversation });
  await page.getByText('下一位就是您。').waitFor({ state: 'detached' });
  await until('the visitor message confirmed', async () => (await shown()).length === 1 && (await pending()) === 0);
  assert.equal(await page.locator('[role=log] b').count(), 0, 'message text never becomes HTML');

  agent.send({ type: 'typing', conversation_id: conversation, typing: true });
  await page.getByText('正在输入').waitFor();
  await agent.say(conversation, '您好，请提供订单号。详情见 https://shop.example/refund');
  await until('the agent reply', async () => (await shown()).length === 2);
  const link = page.locator('[role=log] a');
  assert.equal(await link.getAttribute('href'), 'https://shop.example/refund');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');

  await composer().pressSequentially('12', { delay: 20 });
  await agent.next((f) => f.type === 'typing' && f.conversation_id === conversation && f.typing === true);
  await composer().fill('');

  agent.send({ type: 'read', conversation_id: conversation, seq: 1 });
  await page.getByText('已读').waitFor();
});

test('a network cut mid-conversation loses nothing and duplicates nothing', async () => {
  proxy.cut();
  await page.getByText('连接已断开').waitFor({ timeout: 30_000 });
  await visitorSays('断网时发的第一条');
  await visitorSays('断网时发的第二条');
  assert.equal(await pending(), 2, 'typed offline: shown as pending');
  await agent.say(conversation, '客服在断网期间回复 1');
  await agent.say(conversation, '客服在断网期间回复 2');
  await new Promise((r) => setTimeout(r, 1500));
  proxy.restore();

  await until('the widget caught up', async () => (await shown()).length === 6 && (await pending()) === 0, 30_000);
  const stored = await agent.transcript(conversation);
  const widget = await shown();
  assert.deepEqual(
    widget,
    stored.map((m) => ({ seq: m.seq, body: m.body })),
    'the widget shows exactly what the api stored, in order',
  );
  const visitorBodies = stored.filter((m) => m.sender.kind === 'visitor').map((m) => m.body);
  assert.deepEqual(visitorBodies, ['你好，我想退款 <b>not bold</b>', '断网时发的第一条', '断网时发的第二条']);
  assert.deepEqual(
    stored.map((m) => m.seq),
    [1, 2, 3, 4, 5, 6],
    'stored once each, gap-free',
  );
});

test('a reload shows the same transcript once', async () => {
  const before = await shown();
  await page.reload();
  await launcher().click();
  await until('the transcript after reload', async () => (await shown()).length === before.length);
  assert.deepEqual(await shown(), before);
});

test('with the panel closed, agent messages raise the badge and the unread event', async () => {
  await page.getByRole('button', { name: '关闭对话' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  await agent.say(conversation, '还在吗？');
  const badge = page.locator('[data-kefu-widget] .kb');
  await until('the badge', async () => (await badge.textContent()) === '1' && (await badge.isVisible()));
  // The demo page follows Kefu('on', 'unread', …) and shows the count on its own button.
  await page.getByText('Messages (1)').waitFor();
  await launcher().click();
  await until('the badge cleared', async () => !(await badge.isVisible()));
  await until('the new message shown', async () => (await shown()).length === 7);
  if (process.env.KEFU_SCREENSHOTS) await page.screenshot({ path: `${process.env.KEFU_SCREENSHOTS}/widget-chat.png` });
});

test('hostile host CSS does not break the widget', async () => {
  const hostile = await context.newPage();
  await hostile.goto(`http://127.0.0.1:${DEMO_PORT}/hostile`);
  const button = hostile.getByRole('button', { name: '在线客服' });
  await button.waitFor();
  const box = await button.boundingBox();
  assert.ok(box && box.width === 56 && box.height === 56, `launcher intact: ${JSON.stringify(box)}`);
  await button.click();
  const panel = hostile.getByRole('dialog', { name: '在线客服' });
  await panel.waitFor();
  const panelBox = await panel.boundingBox();
  assert.ok(panelBox.width === 370, `panel keeps its width: ${JSON.stringify(panelBox)}`);
  await until('the transcript in the second tab', async () => (await shown(hostile)).length === 7);
  const font = await hostile.locator('[role=log] [data-seq]').first().evaluate((el) => getComputedStyle(el).fontSize);
  assert.equal(font, '14px', 'the page font size does not leak in');
  await hostile.close();
});

test('on a phone the panel fills the screen', async () => {
  const phone = await browser.newContext({ locale: 'en-US', viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  await p.goto(`http://127.0.0.1:${DEMO_PORT}/`);
  const button = p.getByRole('button', { name: 'Chat with us' });
  await button.click();
  const panel = p.getByRole('dialog', { name: 'Chat with us' });
  await panel.waitFor();
  const box = await panel.boundingBox();
  assert.deepEqual([box.x, box.y, box.width, box.height], [0, 0, 375, 667], 'full screen');
  assert.ok(await p.getByRole('button', { name: 'Send', exact: true }).isVisible(), 'English strings');
  await phone.close();
});

test('an api node killed and restarted mid-conversation loses nothing', async () => {
  const before = (await shown()).length;
  await harness('kill-api');
  await page.getByText('连接已断开').waitFor({ timeout: 30_000 });
  await visitorSays('节点重启期间发的消息');
  assert.equal(await pending(), 1);
  await harness('start-api');
  await agent.reconnect();
  agent.send({ type: 'join', conversation_id: conversation, last_seq: 0 });
  await agent.next((f) => f.type === 'message' && f.body === '节点重启期间发的消息', 30_000);
  await agent.say(conversation, '节点重启后客服回复');
  await until('the widget caught up', async () => (await shown()).length === before + 2 && (await pending()) === 0, 30_000);
  const stored = await agent.transcript(conversation);
  assert.deepEqual(await shown(), stored.map((m) => ({ seq: m.seq, body: m.body })));
  assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), 'gap-free, each once');
});

test('a visitor sends an image: previewed through the edge, received by the agent byte for byte', async () => {
  // A 2×2 PNG.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR4nGP8z8DwnwEJMDEgAZwMABm4AgNCT7hDAAAAAElFTkSuQmCC',
    'base64',
  );
  await page.locator('[data-kefu-widget] input[type=file]').setInputFiles({ name: '收据.png', mimeType: 'image/png', buffer: png });
  const received = await agent.next((f) => f.type === 'message' && f.attachment && f.conversation_id === conversation, 20_000);
  assert.equal(received.attachment.name, '收据.png');
  assert.equal(received.attachment.content_type, 'image/png');
  const preview = page.locator('[role=log] img[alt="收据.png"]');
  await preview.waitFor();
  await until('the preview loaded through the edge', () => preview.evaluate((img) => img.complete && img.naturalWidth === 2));
  const response = await fetch(`${API}/api/v1/attachments/${received.attachment.id}`, {
    headers: { authorization: `Bearer ${env('KEFU_AGENT_TOKEN')}` },
  });
  assert.equal(response.status, 200);
  assert.deepEqual(Buffer.from(await response.arrayBuffer()), png);
  // An executable dressed as an image is refused, and the widget says so.
  await page
    .locator('[data-kefu-widget] input[type=file]')
    .setInputFiles({ name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from('4d5a90000300000004000000ffff0000', 'hex') });
  await page.getByText('This kind of file cannot be sent').waitFor();
  await page.getByRole('button', { name: '删除' }).click();
});

test('when the team closes the conversation the visitor rates it', async () => {
  agent.send({ type: 'close', conversation_id: conversation });
  await page.getByText('对话已结束，请为本次服务评分。').waitFor();
  await page.getByRole('radio', { name: '4 星（满分 5 星）' }).click();
  await page.getByLabel('还有什么想说的吗？（选填）').fill('回复很快');
  await page.getByRole('button', { name: '提交评价' }).click();
  await page.getByText('感谢您的评价！').waitFor();
  const summary = await agent.rest('GET', `/api/v1/conversations/${conversation}`);
  assert.equal(summary.rating, 4);
});

test('another customer signing in on the same browser starts afresh: the first one\'s chat is neither shown nor continued', async () => {
  // The site verifies identities: the shop's backend signs each customer's id with the secret.
  const { identity_secret: secret } = await agent.rest('POST', '/api/v1/widget/identity-secret');
  const identity = (id) => ({ id, hash: createHmac('sha256', secret).update(id).digest('hex') });
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the edge keeps a site for cache_secs = 1
  const ctx = await browser.newContext({ locale: 'zh-CN' });
  try {
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${DEMO_PORT}/`);
    await p.evaluate((who) => Kefu('identify', who), identity('alice'));
    await p.getByRole('button', { name: '在线客服' }).click();
    await p.getByRole('textbox', { name: '输入消息' }).fill('Alice 的退款进度');
    await p.getByRole('textbox', { name: '输入消息' }).press('Enter');
    await until('Alice\'s message confirmed', async () => (await shown(p)).length === 1 && (await pending(p)) === 0);
    const alice = await widgetStorage(p, SITE_KEY);
    // Bob signs in on the same page: a new visitor with nothing of Alice's on screen.
    await p.evaluate((who) => Kefu('identify', who), identity('bob'));
    await until('a new visitor for Bob', async () => (await widgetStorage(p, SITE_KEY)).visitor_id !== alice.visitor_id);
    await until('Alice\'s messages gone', async () => (await shown(p)).length === 0);
    await p.getByRole('textbox', { name: '输入消息' }).fill('Bob 的问题');
    await p.getByRole('textbox', { name: '输入消息' }).press('Enter');
    await until('Bob\'s message confirmed', async () => (await shown(p)).length === 1 && (await pending(p)) === 0);
    const bob = await widgetStorage(p, SITE_KEY);
    assert.notEqual(bob.conversation_id, alice.conversation_id);
    assert.deepEqual((await agent.transcript(bob.conversation_id)).map((m) => m.body), ['Bob 的问题']);
    assert.deepEqual((await agent.transcript(alice.conversation_id)).map((m) => m.body), ['Alice 的退款进度']);
    const [a, b] = await Promise.all([alice, bob].map((v) => agent.rest('GET', `/api/v1/visitors/${v.visitor_id}`)));
    assert.deepEqual([a.ext_user, b.ext_user], ['alice', 'bob']);
  } finally {
    await ctx.close();
  }
});

test('a saved pre-chat form reaches new visitors within seconds and fills the profile', async () => {
  await agent.editWidget((settings) => {
    settings.pre_chat = {
      enabled: true,
      fields: [
        { key: 'name', kind: 'name', required: true, label: { en: 'Name', 'zh-CN': '姓名' } },
        { key: 'order_no', kind: 'text', required: false, label: { en: 'Order number', 'zh-CN': '订单号' } },
      ],
    };
  });
  // Each try in a new context: a browser may keep the loader for its max-age (10 s).
  let fresh, p;
  await until(
    'the new settings at the edge',
    async () => {
      await fresh?.close();
      fresh = await browser.newContext({ locale: 'zh-CN' });
      p = await fresh.newPage();
      await p.goto(`http://127.0.0.1:${DEMO_PORT}/`);
      return p.evaluate(() => window.KefuConfig && window.KefuConfig.settings.pre_chat.enabled);
    },
    20_000,
  );
  await p.getByRole('button', { name: '在线客服' }).click();
  await p.getByRole('button', { name: '开始对话' }).click();
  await p.getByText('必填').waitFor();
  await p.getByLabel('姓名').fill('李雷');
  await p.getByLabel('订单号').fill('CN-2026-88');
  await p.getByRole('button', { name: '开始对话' }).click();
  await p.getByRole('textbox', { name: '输入消息' }).fill('我的订单还没到');
  await p.getByRole('textbox', { name: '输入消息' }).press('Enter');
  await until('the message confirmed', async () => (await shown(p)).length === 1 && (await pending(p)) === 0);
  const { visitor_id } = await widgetStorage(p, SITE_KEY);
  const visitor = await agent.rest('GET', `/api/v1/visitors/${visitor_id}`);
  assert.equal(visitor.name, '李雷');
  assert.equal(visitor.attributes.fields.order_no, 'CN-2026-88');
  await fresh.close();
});

test('the answer to a left message is mailed; its link opens the chat on any device and continues it', async () => {
  await agent.say(leftMessage, 'Yes, we ship to Shanghai within 3 days.');
  const mail = await until('the reply mailed to the visitor', async () => {
    const response = await fetch(`${API}/dev/mailbox.json?to=ada@example.com`);
    const mails = response.ok ? await response.json() : [];
    return mails.find((m) => m.body_text.includes('Yes, we ship to Shanghai'));
  }, 20000);
  assert.match(mail.subject, /replied to your message$/);
  const link = mail.body_text.match(/https?:\/\/\S+\/c\/\S+/)?.[0];
  assert.ok(link && link.startsWith(proxy.url), `a link to the public edge: ${mail.body_text}`);

  // Another browser (a phone, no storage of this site): the link opens the conversation itself.
  const phone = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 760 } });
  const p = await phone.newPage();
  p.on('pageerror', (error) => console.error('hosted page error:', error));
  const response = await p.goto(link);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['referrer-policy'], 'no-referrer');
  await p.getByText('Yes, we ship to Shanghai within 3 days.').waitFor();
  await p.getByText('Do you ship to Shanghai?').waitFor();
  assert.equal(await p.getByRole('button', { name: 'Close chat' }).count(), 0, 'the chat is the page: nothing to close');
  const box = await p.getByRole('dialog').boundingBox();
  assert.ok(box.width === 390 && box.height === 760, `the chat fills the page: ${JSON.stringify(box)}`);
  if (process.env.KEFU_SCREENSHOTS) await p.screenshot({ path: `${process.env.KEFU_SCREENSHOTS}/widget-hosted-page.png` });
  const box2 = p.getByRole('textbox', { name: 'Type your message' });
  await box2.fill('Great, thank you!');
  await box2.press('Enter');
  await until('the visitor\'s answer in the same conversation', async () =>
    (await agent.transcript(leftMessage)).some((m) => m.body === 'Great, thank you!'));

  // A forged link opens nothing.
  const forged = await p.goto(link.slice(0, -3) + 'abc');
  assert.equal(forged.status(), 404);
  await p.getByText('This chat link has expired').waitFor();
  await phone.close();
});

test('over the month\'s conversations a new visitor gets the offline form with a polite text, and the team still gets the message', async () => {
  // The operator lowers the workspace's plan to one conversation a month (used long ago):
  // `kefu plans set` decides the month again for the workspaces on it at once.
  operator('plans', 'set', 'pro', 'conversations_per_month=1');
  const ctx = await browser.newContext({ locale: 'en-US' });
  try {
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${DEMO_PORT}/`);
    await p.getByRole('button', { name: 'Chat with us' }).click();
    await p.getByText("We can't start a live chat right now. Leave us a message and we'll get back to you.").waitFor();
    assert.equal(await p.getByRole('dialog').getByText(/error|refused|quota|limit/i).count(), 0, 'no error, no jargon');
    if (process.env.KEFU_SCREENSHOTS) await p.screenshot({ path: `${process.env.KEFU_SCREENSHOTS}/widget-paused.png` });
    await p.getByLabel(/^Name/).fill('Grace Hopper');
    await p.getByLabel(/^Email/).fill('grace@example.com');
    await p.getByLabel(/^Message\b/).fill('Is the blue one back in stock?');
    await p.getByRole('button', { name: 'Send message' }).click();
    await p.getByText('Thanks! We got your message').waitFor();
    const stored = await until('the message stored', async () => {
      const kept = await widgetStorage(p, SITE_KEY);
      return kept.conversation_id ? kept : false;
    });
    const transcript = await agent.transcript(stored.conversation_id);
    assert.deepEqual(transcript.map((m) => m.body), ['Is the blue one back in stock?'], 'stored for the team like any message');
  } finally {
    await ctx.close();
    operator('plans', 'set', 'pro', 'conversations_per_month=20000');
  }
});

test('a host page\'s openChat before the UI loaded opens the panel with its message and context; the status event follows the team', async () => {
  const ctx = await browser.newContext({ locale: 'en-US' });
  try {
    const p = await ctx.newPage();
    p.on('pageerror', (error) => console.error('page error:', error));
    // As the page's error handler would, before any widget code ran; twice (nothing doubles).
    await p.addInitScript(() => {
      window.kefuEvents = [];
      window.Kefu = window.Kefu || function () { (window.Kefu.q = window.Kefu.q || []).push(arguments); };
      Kefu('on', 'ready', () => window.kefuEvents.push(['ready']));
      Kefu('on', 'status', (s) => window.kefuEvents.push(['status', s]));
      for (let i = 0; i < 2; i++) {
        Kefu('openChat', { context: { error: 'Error: payment declined (code 51)', page: 'checkout' }, message: 'My payment failed' });
      }
    });
    await p.goto(`http://127.0.0.1:${DEMO_PORT}/`);
    await p.getByRole('dialog', { name: 'Chat with us' }).waitFor();
    // The pre-chat form (on since an earlier scenario) comes first; the message waits for it.
    await p.getByLabel(/^Name/).fill('Zhang Wei');
    await p.getByRole('button', { name: 'Start chat' }).click();
    const box = p.getByRole('textbox', { name: 'Type your message' });
    const composerHolds = (text) => until(`the composer to hold ${text}`, async () => (await box.inputValue()) === text);
    await composerHolds('My payment failed'); // once
    const stored = await until('a session', async () => {
      const kept = await widgetStorage(p, SITE_KEY);
      return kept.visitor_id ? kept : false;
    });
    const context = async () => (await agent.rest('GET', `/api/v1/visitors/${stored.visitor_id}`)).attributes.context;
    await until('the context stored', async () => (await context())?.page === 'checkout');
    assert.deepEqual(await context(), { error: 'Error: payment declined (code 51)', page: 'checkout' });
    // Not sent: the visitor sends it.
    assert.equal(await pending(p), 0);
    assert.equal((await shown(p)).length, 0);
    assert.equal((await widgetStorage(p, SITE_KEY)).conversation_id, undefined);

    // The status event: first after `ready`, with what the server's `status` frame said.
    await until('the status event', () => p.evaluate(() => window.kefuEvents.some(([name]) => name === 'status')));
    let events = await p.evaluate(() => window.kefuEvents);
    assert.deepEqual(events.map(([name]) => name), ['ready', 'status'], JSON.stringify(events));
    assert.equal(events[1][1].team, 'online');
    assert.deepEqual(Object.keys(events[1][1]).sort(), ['bot', 'opens_at', 'team']);
    // A listener added once it is known gets the current value at once (the seed's name too).
    assert.equal((await p.evaluate(() => new Promise((resolve) => Kefu('onSessionChange', resolve)))).team, 'online');
    // Every change: the agent steps away (busy), comes back, leaves (offline), returns.
    const teams = () => p.evaluate(() => window.kefuEvents.filter(([name]) => name === 'status').map(([, s]) => s.team));
    agent.send({ type: 'set_presence', status: 'away' });
    await until('busy', async () => (await teams()).at(-1) === 'busy');
    agent.send({ type: 'set_presence', status: 'online' });
    await until('online again', async () => (await teams()).at(-1) === 'online');
    agent.close();
    // (A connection of the api node killed earlier may linger in presence up to 60 s.)
    await until('offline', async () => (await teams()).at(-1) === 'offline', 90_000);
    await agent.reconnect();
    await until('online once more', async () => (await teams()).at(-1) === 'online');
    assert.deepEqual(await teams(), ['online', 'busy', 'online', 'offline', 'online'], 'each change once');

    // Later calls: a string context becomes a note; a new message replaces the untouched one,
    // never what the visitor typed.
    await p.evaluate(() => Kefu('openChat', { context: 'TypeError: cart is undefined', message: 'The cart is empty' }));
    await composerHolds('The cart is empty');
    await until('the note stored', async () => (await context())?.note === 'TypeError: cart is undefined');
    assert.deepEqual(await context(), { note: 'TypeError: cart is undefined' });
    await box.fill('My own words');
    await p.evaluate(() => Kefu('openChat', { message: 'Overwritten?' }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await box.inputValue(), 'My own words');
    assert.equal(await pending(p), 0);
  } finally {
    await ctx.close();
  }
});
