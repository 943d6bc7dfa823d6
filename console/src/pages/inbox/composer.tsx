// Writing in a conversation (F15): a reply or a private note, Enter to send, typing sent while
// writing, emoji, a file, and canned responses inserted by typing `/shortcut`.
import { LockOutlined, PaperClipOutlined, SendOutlined, SmileOutlined } from '@ant-design/icons';
import { Button, Popover, Segmented, Space, Tooltip } from 'antd';
// TextArea alone: antd's Input brings Password and OTP too (docs/console.md, "Weight").
import TextArea, { type TextAreaRef } from 'antd/es/input/TextArea';
import { useApp } from '../../ui/app';
import { forwardRef, useCallback, useImperativeHandle, useRef, useState } from 'react';
import { session } from '../../auth/session';
import { useI18n } from '../../i18n';
import type { ConsoleStore } from '../../state/store';
import { CannedPicker, cannedQuery, type Canned } from './canned';

const EMOJI = ['😀', '😊', '😂', '🙂', '😉', '😍', '🤔', '😅', '😢', '😮', '👍', '👎', '👏', '🙏', '💪', '🎉', '❤️', '🔥', '✅', '❌', '⚠️', '📦', '💳', '📞', '📧', '⏰', '👋', '🤝', '😄', '🙌'];
const TYPING_REPEAT_MS = 3000;
const TYPING_IDLE_MS = 4000;

export interface ComposerHandle {
  focus(): void;
}

async function upload(file: File): Promise<{ id: string; name: string }> {
  const token = await session.accessToken();
  const response = await fetch(`/api/v1/attachments?name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: file,
  });
  const body = (await response.json().catch(() => ({}))) as { id?: string; name?: string; detail?: string };
  if (!response.ok || !body.id) throw new Error(body.detail ?? `HTTP ${response.status}`);
  return { id: body.id, name: body.name ?? file.name };
}

/** `notesOnly`: a colleague's conversation this member may not reply in (private notes only). */
export const Composer = forwardRef<ComposerHandle, { store: ConsoleStore; conversationId: string; disabled: boolean; notesOnly: boolean }>(
  function Composer({ store, conversationId, disabled, notesOnly }, ref) {
    const { t } = useI18n();
    const { message } = useApp();
    const [text, setText] = useState('');
    const [chosen, setMode] = useState<'reply' | 'note'>('reply');
    const mode = notesOnly ? 'note' : chosen;
    const [uploading, setUploading] = useState(false);
    const input = useRef<TextAreaRef>(null);
    const file = useRef<HTMLInputElement>(null);
    const typing = useRef<{ sentAt: number; idle?: ReturnType<typeof setTimeout> }>({ sentAt: 0 });

    useImperativeHandle(ref, () => ({ focus: () => input.current?.focus() }), []);

    function stopTyping() {
      clearTimeout(typing.current.idle);
      if (typing.current.sentAt > 0) store.typing(conversationId, false);
      typing.current.sentAt = 0;
    }

    function changed(value: string) {
      setText(value);
      if (mode === 'note') return;
      const now = Date.now();
      if (now - typing.current.sentAt > TYPING_REPEAT_MS) {
        store.typing(conversationId, true);
        typing.current.sentAt = now;
      }
      clearTimeout(typing.current.idle);
      typing.current.idle = setTimeout(stopTyping, TYPING_IDLE_MS);
    }

    function send() {
      const body = text.trim();
      if (!body || disabled) return;
      stopTyping();
      store.write(conversationId, body, { note: mode === 'note' });
      setText('');
    }

    async function attach(picked: File | undefined) {
      if (!picked) return;
      setUploading(true);
      try {
        const uploaded = await upload(picked);
        store.write(conversationId, uploaded.name, { attachmentId: uploaded.id });
      } catch (e) {
        message.error(`${t('composer.uploadFailed')} ${e instanceof Error ? e.message : ''}`);
      } finally {
        setUploading(false);
        if (file.current) file.current.value = '';
      }
    }

    const canned = cannedQuery(text);
    const [matches, setMatches] = useState<Canned[]>([]);
    const [active, setActive] = useState(0);
    const onResults = useCallback((found: Canned[]) => {
      setMatches(found);
      setActive(0);
    }, []);

    function pick(chosen: Canned) {
      setText(chosen.body);
      setMatches([]);
      input.current?.focus();
    }

    return (
      <div className={`composer${mode === 'note' ? ' composer-note' : ''}`} data-testid="composer">
        <Segmented<'reply' | 'note'> size="small" value={mode} onChange={(m) => setMode(m)} data-testid="composer-mode"
          options={[
            { value: 'reply', label: t('composer.reply'), disabled: notesOnly },
            { value: 'note', label: <span><LockOutlined /> {t('composer.note')}</span> },
          ]} />
        <Popover open={canned !== null && !disabled} placement="topLeft" arrow={false}
          content={canned !== null ? <CannedPicker query={canned} active={active} onResults={onResults} onPick={pick} /> : null}>
          <TextArea ref={input} value={text} disabled={disabled} autoSize={{ minRows: 2, maxRows: 8 }} maxLength={4000}
            data-testid="composer-input" aria-label={mode === 'note' ? t('composer.notePlaceholder') : t('composer.placeholder')}
            placeholder={mode === 'note' ? t('composer.notePlaceholder') : t('composer.placeholder')}
            onChange={(e) => changed(e.target.value)} onBlur={stopTyping}
            onKeyDown={(e) => {
              if (canned !== null && matches.length > 0 && !e.nativeEvent.isComposing) {
                if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                  e.preventDefault();
                  setActive((i) => (i + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length);
                  return;
                }
                if (e.key === 'Enter' || e.key === 'Tab') {
                  e.preventDefault();
                  const chosen = matches[active];
                  if (chosen) pick(chosen);
                  return;
                }
              }
              if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing && canned === null) {
                e.preventDefault();
                send();
              }
              if (e.key === 'Escape') (e.target as HTMLTextAreaElement).blur();
            }} />
        </Popover>
        <div className="composer-actions">
          <Space size={4}>
            <Popover trigger="click" content={
              <div className="emoji-grid">
                {EMOJI.map((e) => <button type="button" key={e} onClick={() => { setText((v) => v + e); input.current?.focus(); }}>{e}</button>)}
              </div>}>
              <Button type="text" icon={<SmileOutlined />} aria-label={t('composer.emoji')} disabled={disabled} />
            </Popover>
            <Tooltip title={t('composer.attach')}>
              <Button type="text" icon={<PaperClipOutlined />} aria-label={t('composer.attach')} loading={uploading}
                disabled={disabled || mode === 'note'} onClick={() => file.current?.click()} />
            </Tooltip>
            <input ref={file} type="file" hidden onChange={(e) => void attach(e.target.files?.[0])} data-testid="composer-file" />
          </Space>
          <Button type="primary" icon={<SendOutlined />} onClick={send} disabled={disabled || !text.trim()} data-testid="composer-send">
            {mode === 'note' ? t('composer.addNote') : t('composer.send')}
          </Button>
        </div>
      </div>
    );
  },
);
