// The chat panel: header, transcript, typing and connection lines, composer with emoji.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { KefuConfig, WidgetTexts } from '../config';
import type { MessageFrame } from '../protocol';
import type { Chat, ChatState } from './chat';
import { Rating, VisitorForm } from './forms';
import type { Strings } from './i18n';
import { prefilled } from './jsapi';
import { Text } from './text';

const EMOJI = '😀 😂 😊 😍 🤔 😅 😢 😮 👍 👎 🙏 👏 🎉 ❤️ 🔥 ✅ ❌ 👋 💯 🙂 😉 😎 🤝 💡 📦 🚚 💳 🛒 ⭐ ⏰ 📷 🙌'.split(' ');

interface Props {
  chat: Chat;
  config: KefuConfig;
  texts: WidgetTexts;
  language: string;
  t: Strings;
  open: boolean;
  /** A message from the page's `openChat`, for the composer (a new object for each call). */
  prefill: { text: string } | null;
  onClose: () => void;
}

export function App({ chat, config, texts, language, t, open, prefill, onClose }: Props) {
  const [state, setState] = useState<ChatState>(chat.state);
  const [draft, setDraft] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const [emoji, setEmoji] = useState(false);
  // After the offline form: whether the answer will also come by email (an address was left).
  const [offlineSent, setOfflineSent] = useState<false | 'email' | 'here'>(false);
  const list = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  // The last text `openChat` put in the composer: replaced by the next while the visitor leaves it.
  const prefilledText = useRef<string | null>(null);

  useEffect(() => chat.subscribe(setState), [chat]);
  useEffect(() => {
    if (!prefill) return;
    const next = prefilled(draft, prefilledText.current, prefill.text);
    if (next !== draft) setDraft((prefilledText.current = next));
  }, [prefill]);
  useEffect(() => {
    if (open) input.current?.focus();
  }, [open]);
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [state.messages.length, state.outbox.length, open]);

  if (!open) return null;

  const submit = () => {
    const refused = chat.send(draft);
    if (refused === 'too_long') {
      setNotice(t.tooLong);
      return;
    }
    setNotice(null);
    setDraft('');
    chat.typing(false);
    input.current?.focus();
  };

  const lastMine = [...state.messages].reverse().find((m) => m.sender.kind === 'visitor');
  // The bot's buttons belong to its latest message, while nothing was written after it.
  const latest = state.messages[state.messages.length - 1];
  const lastBot = latest && latest.sender.kind === 'bot' && state.outbox.length === 0 ? latest : null;
  const { pre_chat: preChat, offline_form: offlineForm } = config.settings;
  const fresh = state.messages.length === 0 && state.outbox.length === 0;
  // With the bot on, a visitor chats with it whatever the team's availability.
  const teamAway = state.agents === 'offline' && !state.botOn;
  // The month's conversations used up: a new one is an offline message, whoever is online.
  const paused = state.quotaReached && fresh;
  const showOffline = ((offlineForm.enabled && teamAway) || paused) && fresh && !offlineSent;
  // A visitor who can only leave a message gets one form, the offline form (it asks for the
  // name and address the answer goes to), not the pre-chat form first.
  const showPreChat = preChat.enabled && preChat.fields.length > 0 && !state.preChatDone && fresh && !showOffline;
  const queue = state.queue;
  const waiting = queue
    ? (queue.position <= 1 ? t.queueNext : t.queueAhead(queue.position - 1)) +
      (queue.estimated_wait_secs ? t.queueWait(Math.max(1, Math.round(queue.estimated_wait_secs / 60))) : '')
    : null;
  const status =
    state.status === 'failed'
      ? t.failed
      : state.status === 'reconnecting'
        ? t.reconnecting
        : state.status === 'connecting' && state.outbox.length > 0
          ? t.connecting
          : null;

  return (
    <div
      class={config.link ? 'p pg' : 'p'}
      role="dialog"
      aria-label={texts.title}
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <div class="h">
        {config.settings.logo_url ? (
          <img src={config.settings.logo_url} alt="" />
        ) : (
          <span class="av" aria-hidden="true">
            {[...(state.agent || texts.title)][0]}
          </span>
        )}
        <div class="t">
          <b>{texts.title}</b>
          {state.agent && <small>{state.agent}</small>}
        </div>
        <button class="ib" type="button" title={t.transcript} aria-label={t.transcript} onClick={() => download(state.messages, t, texts.title)}>
          <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
            <path d="M12 3v12m0 0l-5-5m5 5l5-5M4 21h16" />
          </svg>
        </button>
        {!config.link && <button class="ib" type="button" title={t.close} aria-label={t.close} onClick={onClose}>
          <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
            <path d="M6 6l12 12M18 6L6 18" />
          </svg>
        </button>}
      </div>
      {status && <div class={state.status === 'failed' ? 's f' : 's'} role="status">{status}</div>}
      {state.agents === 'offline' && state.opensAt && (
        <div class="s" data-opens-at="">
          {t.backAt(
            new Date(state.opensAt).toLocaleString(language, {
              weekday: 'short',
              month: 'short',
              day: 'numeric',
              hour: '2-digit',
              minute: '2-digit',
            }),
          )}
        </div>
      )}
      {state.bot && (
        <div class="s b">
          {t.botAnswering}
          <button type="button" onClick={() => chat.human()}>
            {t.talkToHuman}
          </button>
        </div>
      )}
      <div class="l" ref={list} role="log" aria-live="polite" aria-label={t.messages}>
        {texts.greeting && !showOffline && <div class="m a">{texts.greeting}</div>}
        {paused ? (
          <div class="m a" data-paused="">{t.paused}</div>
        ) : (
          (showOffline || (teamAway && fresh)) && <div class="m a">{texts.offline_message}</div>
        )}
        {state.messages.map((m, i) => (
          <Bubble
            key={m.seq}
            message={m}
            t={t}
            named={'name' in m.sender && !sameSender(state.messages[i - 1], m)}
            url={(id) => chat.attachmentUrl(id)}
            read={m === lastMine && state.agentReadSeq >= m.seq}
          />
        ))}
        {lastBot && state.bot && <BotOffers message={lastBot} answered={state.feedback.includes(lastBot.message_id)} t={t} chat={chat} />}
        {state.outbox.map((o) => (
          <div key={o.client_id} class={o.failed ? 'm v x' : 'm v q'} data-pending="">
            <Text body={o.body} />
            {o.failed ? (
              <>
                <span class="sr">{t.failedMessage}</span>
                {explains(o.failed) && <small> · {o.failed}</small>}
                {(!o.file || o.attachment_id) && (
                  <button type="button" onClick={() => chat.retry(o.client_id)}>
                    {t.retry}
                  </button>
                )}
                <button type="button" onClick={() => chat.discard(o.client_id)}>{t.discard}</button>
              </>
            ) : o.uploading ? (
              <small> · {t.uploading}</small>
            ) : (
              <span class="sr">{t.pending}</span>
            )}
          </div>
        ))}
        {offlineSent && <div class="m y">{offlineSent === 'email' ? t.offlineSent : t.offlineSentHere}</div>}
        {state.closed && (
          <>
            <div class="m y">{t.ended}</div>
            <Rating t={t} rated={state.rated} onRate={(rating, comment) => chat.rate(rating, comment)} />
          </>
        )}
      </div>
      {waiting && !state.closed && (
        <div class="s q" role="status">
          {waiting}
          {state.agents === 'busy' ? ' ' + t.busy : ''}
        </div>
      )}
      <div class="w" aria-live="polite">{state.agentTyping ? t.typing(state.agentTyping) : notice || ''}</div>
      {showPreChat ? (
        <VisitorForm
          form={preChat}
          language={language}
          t={t}
          intro={t.preChatIntro}
          submit={t.startChat}
          withMessage={false}
          onSubmit={(profile) => chat.setProfile(profile, true)}
        />
      ) : showOffline ? (
        <VisitorForm
          form={offlineForm}
          language={language}
          t={t}
          intro=""
          submit={t.leaveMessage}
          withMessage={true}
          message={draft}
          onSubmit={(profile, message) => {
            chat.setProfile(profile, false);
            chat.send(message);
            setOfflineSent(profile.email ? 'email' : 'here');
          }}
        />
      ) : (
      <form
        class="c"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        {emoji && (
          <div class="e" role="menu" aria-label={t.emoji}>
            {EMOJI.map((e) => (
              <button
                type="button"
                role="menuitem"
                key={e}
                onClick={() => {
                  setDraft((d) => d + e);
                  setEmoji(false);
                  input.current?.focus();
                }}
              >
                {e}
              </button>
            ))}
          </div>
        )}
        <input
          ref={picker}
          type="file"
          hidden
          accept="image/*,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.zip,.txt"
          onChange={(e) => {
            const input = e.target as HTMLInputElement;
            for (const file of Array.from(input.files || [])) void chat.sendFile(file, t.fileTooBig);
            input.value = '';
          }}
        />
        <button class="ib" type="button" aria-label={t.attach} title={t.attach} onClick={() => picker.current?.click()}>
          <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
            <path d="M21 11.5l-8.6 8.6a5 5 0 0 1-7.1-7.1l8.6-8.6a3.3 3.3 0 0 1 4.7 4.7l-8.6 8.6a1.7 1.7 0 0 1-2.4-2.4l7.9-7.9" />
          </svg>
        </button>
        <button class="ib" type="button" aria-label={t.emoji} aria-expanded={emoji} onClick={() => setEmoji(!emoji)}>
          <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">
            <circle cx="12" cy="12" r="9" />
            <path d="M8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01" />
          </svg>
        </button>
        <textarea
          ref={input}
          rows={1}
          value={draft}
          placeholder={texts.input_placeholder}
          aria-label={t.composer}
          maxLength={4000}
          onInput={(e) => {
            const value = (e.target as HTMLTextAreaElement).value;
            setDraft(value);
            chat.typing(value.length > 0);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
          onBlur={() => chat.typing(false)}
          onPaste={(e) => {
            const files = Array.from(e.clipboardData?.files || []);
            if (files.length === 0) return;
            e.preventDefault();
            for (const file of files) void chat.sendFile(file, t.fileTooBig);
          }}
        />
        <button class="sb" type="submit" disabled={!draft.trim()}>
          {t.send}
        </button>
      </form>
      )}
    </div>
  );
}

function sameSender(previous: MessageFrame | undefined, message: MessageFrame): boolean {
  if (!previous || previous.sender.kind !== message.sender.kind) return false;
  return !('id' in previous.sender) || !('id' in message.sender) || previous.sender.id === message.sender.id;
}

interface BubbleProps {
  message: MessageFrame;
  t: Strings;
  /** The download URL of an attachment. */
  url: (id: string) => string | null;
  /** Show the agent's name above (the first of a run of their messages). */
  named: boolean;
  read: boolean;
}

function Bubble({ message, t, named, read, url }: BubbleProps) {
  const kind = message.sender.kind === 'visitor' ? 'v' : message.sender.kind === 'system' ? 'y' : 'a';
  const file = message.attachment;
  const href = file ? url(file.id) : null;
  return (
    <>
      {named && 'name' in message.sender && <div class="n">{message.sender.name}</div>}
      <div class={'m ' + kind} data-seq={message.seq}>
        {file && href ? (
          <a class="fa" href={href} target="_blank" rel="noopener noreferrer" title={t.openFile(file.name)}>
            {file.content_type.startsWith('image/') ? (
              <img src={href} alt={file.name} loading="lazy" />
            ) : (
              <span class="fc">📄 {file.name} · {size(file.size)}</span>
            )}
          </a>
        ) : (
          <Text body={message.body} />
        )}
      </div>
      {read && <div class="n r">{t.read}</div>}
    </>
  );
}

interface BotOffersProps {
  message: MessageFrame;
  /** The visitor already said whether it helped. */
  answered: boolean;
  t: Strings;
  chat: Chat;
}

/** Under the bot's latest answer: "Did this help?" and related questions as one-tap replies. */
function BotOffers({ message, answered, t, chat }: BotOffersProps) {
  const offer = message.bot;
  if (!offer) return null;
  return (
    <div class="bo">
      {offer.ask_feedback && !answered && (
        <div class="bf">
          <span>{t.didThisHelp}</span>
          <button type="button" onClick={() => chat.feedback(message.message_id, true)}>
            {t.helpful}
          </button>
          <button type="button" onClick={() => chat.feedback(message.message_id, false)}>
            {t.notHelpful}
          </button>
        </div>
      )}
      {offer.related.length > 0 && (
        <div class="rq" aria-label={t.related}>
          {offer.related.map((q) => (
            <button key={q} type="button" onClick={() => chat.send(q)}>
              {q}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** Whether a failure is a sentence for people (an upload refusal, the size limit) rather than a
 * protocol code, which the generic "not sent" covers. */
function explains(failed: string): boolean {
  return failed.includes(' ');
}

function size(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${Math.round(bytes / 1024)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

/** The transcript as a text file. */
function download(messages: MessageFrame[], t: Strings, title: string): void {
  const lines = messages.map((m) => {
    const who = 'name' in m.sender ? m.sender.name : m.sender.kind === 'visitor' ? t.you : title;
    return `[${new Date(m.created_at).toLocaleString()}] ${who}: ${m.body}`;
  });
  const url = URL.createObjectURL(new Blob([lines.join('\n') + '\n'], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'chat-transcript.txt';
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
