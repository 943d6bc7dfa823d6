// The widget in headless Chromium, end to end: the demo shop (its own origin) embeds the
// snippet; the loader and chat UI come from the edge through a proxy this file can cut; an agent
// answers over the real protocol. Started by tests/tests/widget.rs (make test), which provides:
// KEFU_API, KEFU_EDGE, KEFU_PROXY_PORT, KEFU_DEMO_PORT, KEFU_SITE_KEY, KEFU_AGENT_TOKEN,
// KEFU_CHROMIUM.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startDemo } from '../scripts/demo-server.mjs';
import { Agent, cuttableProxy, until } from './support.mjs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run through make test)`);
  return value;
};
const API = env('KEFU_API');
const DEMO_PORT = Number(env('KEFU_DEMO_PORT'));

// Rules that would wreck a naive widget: every element hidden, reset, recoloured and shrunk.
const HOSTILE = `<style>
  * { all: unset !important; font-size: 40px !important; color: lime !important; }
  div, button, textarea, form, span, svg { display: none !important; transform: scale(0) !important; }
  html > div { visibility: hidden !important; width: 0 !important; }
  [data-kefu-widget] { display: none !important; opacity: 0 !important; }
</style>`;

let browser, proxy, demo, agent, context, page;
let conversation;

before(async () => {
  proxy = await cuttableProxy(Number(env('KEFU_PROXY_PORT')), env('KEFU_EDGE'));
  demo = await startDemo({ port: DEMO_PORT, edge: proxy.url, siteKey: env('KEFU_SITE_KEY'), variants: { '/hostile': HOSTILE } });
  agent = await Agent.connect(API, env('KEFU_AGENT_TOKEN'));
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

test('the snippet on another origin draws the launcher; the panel opens in zh-CN', async () => {
  await page.goto(`http://127.0.0.1:${DEMO_PORT}/`);
  await launcher().waitFor();
  const box = await launcher().boundingBox();
  assert.ok(box.width === 56 && box.height === 56, `launcher is 56×56, got ${JSON.stringify(box)}`);
  assert.ok(box.x > 1100 && box.y > 650, `launcher sits bottom right, got ${JSON.stringify(box)}`);
  await launcher().click();
  const panel = page.getByRole('dialog', { name: '在线客服' });
  await panel.waitFor();
  assert.ok(await panel.getByText('您好！请问有什么可以帮您？').isVisible(), 'the tenant greeting in zh-CN');
  assert.ok(await page.getByRole('button', { name: '发送' }).isVisible(), 'widget strings in zh-CN');
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
  assert.ok(await p.getByRole('button', { name: 'Send' }).isVisible(), 'English strings');
  await phone.close();
});
