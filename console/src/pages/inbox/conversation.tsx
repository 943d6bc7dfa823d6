// One conversation (F14/F15): the transcript with scroll-back, live messages, typing, read
// receipts and private notes set apart; claim and close; the composer.
import { ArrowLeftOutlined, CheckOutlined, ClockCircleOutlined, ExclamationCircleOutlined, LockOutlined, RobotOutlined, UserOutlined } from '@ant-design/icons';
import { Button, Space, Spin, Tooltip } from 'antd';
import { Chip, Heading5, Text } from '../../ui/text';
import { Fragment, useEffect, useLayoutEffect, useMemo, useRef, useState, type RefObject } from 'react';
import type { MessageView } from '../../api/protocol';
import { useI18n } from '../../i18n';
import { useConsole, type ConsoleStore } from '../../state/store';
import { EMPTY } from '../../state/transcript';
import { Attachment } from './attachment';
import { useConversationActions, InviteButton, TagEditor, TransferButton } from './actions';
import { Composer, type ComposerHandle } from './composer';
import { timeLabel, visitorLabel } from './names';
import { firedText } from '../admin/rules-text';
import { atLeast } from '../../ui/roles';

export function ConversationView({ store, id, onBack, onVisitor, composer }: {
  store: ConsoleStore;
  id: string;
  onBack(): void;
  onVisitor(): void;
  composer: RefObject<ComposerHandle | null>;
}) {
  const { t, lang } = useI18n();
  const item = useConsole(store, (s) => s.items.get(id));
  const transcript = useConsole(store, (s) => s.transcripts.get(id)) ?? EMPTY;
  const typing = useConsole(store, (s) => s.typing.get(id));
  const visitorRead = useConsole(store, (s) => s.visitorRead.get(id)) ?? 0;
  const members = useConsole(store, (s) => s.members);
  const [loading, setLoading] = useState(true);
  const [failed, setFailed] = useState<string>();
  const scroller = useRef<HTMLDivElement>(null);
  const anchor = useRef<{ height: number; top: number; first: number | undefined } | null>(null);
  const stick = useRef(true);
  const names = useMemo(() => new Map(members.map((m) => [m.user_id, m.display_name])), [members]);
  const teamList = useConsole(store, (s) => s.teams);
  const teams = useMemo(() => new Map(teamList.map((team) => [team.id, team.name])), [teamList]);
  const actions = useConversationActions(store, item);

  useEffect(() => {
    setLoading(true);
    setFailed(undefined);
    stick.current = true;
    store.open(id).then(() => setLoading(false), (e: unknown) => {
      setLoading(false);
      setFailed(e instanceof Error ? e.message : String(e));
    });
    return () => store.close(id);
  }, [store, id]);

  useEffect(() => {
    const seen = () => document.visibilityState === 'visible' && store.markSeen(id);
    document.addEventListener('visibilitychange', seen);
    return () => document.removeEventListener('visibilitychange', seen);
  }, [store, id]);

  // Keep the view where it was when older messages are put above it, and follow new ones at the
  // bottom while the member is there.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const first = transcript.messages[0]?.seq;
    if (anchor.current && anchor.current.first !== first) {
      el.scrollTop = anchor.current.top + (el.scrollHeight - anchor.current.height);
      anchor.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [transcript, typing]);

  function scrolled() {
    const el = scroller.current;
    if (!el) return;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 60;
    if (el.scrollTop < 80 && transcript.hasOlder && !anchor.current) {
      anchor.current = { height: el.scrollHeight, top: el.scrollTop, first: transcript.messages[0]?.seq };
      store.loadOlder(id).catch(() => {
        anchor.current = null;
      });
    }
  }

  const open = item?.status === 'open';
  const mine = item?.assignee === store.me;
  // The server's rule (docs/decisions.md "Who may act in a colleague's conversation"): replies in a
  // conversation someone has come from its assignee, its participants and supervisors and up.
  const myRole = members.find((m) => m.user_id === store.me)?.role ?? 'agent';
  const mayReply = !item?.assignee || mine || item.participants.includes(store.me) || atLeast(myRole, 'supervisor');
  const lastOwn = [...transcript.messages].reverse().find((m) => m.sender.kind === 'agent' && !m.private);
  const name = item ? visitorLabel(item, t('visitor.anonymous')) : '';

  return (
    <div className="conversation" data-testid="conversation" data-id={id}>
      <div className="conversation-header">
        <Space size={8} className="conversation-title">
          <Button type="text" icon={<ArrowLeftOutlined />} onClick={onBack} className="only-phone" aria-label={t('conversation.back')} />
          <Heading5>{name}</Heading5>
          {item && <Chip color={open ? 'green' : 'default'} data-testid="conversation-status">{t(`status.${open ? 'open' : 'closed'}`)}</Chip>}
          {item?.assignee && <Chip icon={<UserOutlined />} data-testid="conversation-assignee">{names.get(item.assignee) ?? t('conversation.someone')}</Chip>}
          {item?.rating != null && (
            <Chip color={item.rating >= 4 ? 'gold' : item.rating <= 2 ? 'red' : 'default'} data-testid="conversation-rating">
              {t('conversation.rating', { stars: '★'.repeat(item.rating) + '☆'.repeat(Math.max(0, 5 - item.rating)) })}
            </Chip>
          )}
        </Space>
        <Space size={4} wrap>
          {open && !item?.assignee && (
            <Button type="primary" size="small" onClick={() => store.claim(id)} data-testid="claim">{t('conversation.claim')}</Button>
          )}
          {open && item && <TransferButton store={store} item={item} />}
          {open && item && <InviteButton store={store} item={item} />}
          {open && <Button size="small" onClick={() => store.closeConversation(id)} data-testid="close">{t('conversation.close')}</Button>}
          {item && !open && <Button size="small" type="primary" onClick={() => void actions.reopen()} data-testid="reopen">{t('conversation.reopen')}</Button>}
          <Button size="small" onClick={onVisitor} className="hide-wide" data-testid="visitor-toggle">{t('conversation.visitor')}</Button>
        </Space>
      </div>
      {item && (
        <div className="conversation-subheader">
          <TagEditor store={store} item={item} />
          {item.team_id && <Chip color="blue" data-testid="conversation-team">{teams.get(item.team_id) ?? t('nav.teams')}</Chip>}
          {item.participants.length > 0 && (
            <Text type="secondary" data-testid="participants">
              {t('conversation.with', { names: item.participants.map((p) => names.get(p) ?? '?').join(', ') })}
            </Text>
          )}
        </div>
      )}
      <div className="conversation-messages" ref={scroller} onScroll={scrolled} data-testid="messages">
        {loading && <div className="conversation-loading"><Spin /></div>}
        {failed && <Text type="danger">{failed}</Text>}
        {transcript.hasOlder && !loading && <div className="conversation-older"><Spin size="small" /></div>}
        {transcript.messages.map((m, i) => (
          <Fragment key={m.seq}>
            {dayChanged(transcript.messages[i - 1], m) && <div className="message-day">{new Date(m.created_at).toLocaleDateString(lang)}</div>}
            <Message message={m} lang={lang} seen={m === lastOwn && visitorRead >= m.seq} t={t} names={names} teams={teams} />
          </Fragment>
        ))}
        {transcript.pending.map((p) => (
          <div key={p.client_id} className={`message message-out${p.private ? ' message-note' : ''} message-pending`} data-testid="pending">
            <div className="message-bubble">{p.body}</div>
            <div className="message-meta">
              {p.state === 'failed' ? (
                <Space size={4}>
                  <Text type="danger"><ExclamationCircleOutlined /> {p.error ?? t('conversation.notSent')}</Text>
                  <Button size="small" type="link" onClick={() => store.retry(id, p.client_id)}>{t('conversation.retry')}</Button>
                  <Button size="small" type="link" onClick={() => store.discard(id, p.client_id)}>{t('conversation.discard')}</Button>
                </Space>
              ) : t('conversation.sending')}
            </div>
          </div>
        ))}
        {typing && typing.until > Date.now() && (
          <div className="message message-in" data-testid="typing"><div className="message-bubble message-typing">{typing.name ? t('conversation.agentTyping', { name: typing.name }) : t('conversation.typing')}</div></div>
        )}
      </div>
      {item && !open && <div className="conversation-closed">{t('conversation.closedNotice')}</div>}
      <Composer ref={composer} store={store} conversationId={id} disabled={!open} notesOnly={!mayReply} />
      {open && !mine && item?.assignee && (
        <div className="conversation-hint" data-testid="not-yours">{t(mayReply ? 'conversation.notYours' : 'conversation.notesOnly')}</div>
      )}
    </div>
  );
}

function dayChanged(previous: MessageView | undefined, m: MessageView): boolean {
  return !previous || new Date(previous.created_at).toDateString() !== new Date(m.created_at).toDateString();
}

export type T = ReturnType<typeof useI18n>['t'];

/** What a system note says, in the member's language, from its structured event. */
export function systemText(m: MessageView, t: T, names: ReadonlyMap<string, string>, teams: ReadonlyMap<string, string>): { what: string; note?: string | undefined } {
  const e = m.event;
  const who = (id: string) => names.get(id) ?? t('conversation.someone');
  if (!e) return { what: m.body };
  switch (e.kind) {
    case 'transferred':
      return e.to_team
        ? { what: t('note.transferredToTeam', { by: who(e.by), to: teams.get(e.to_team) ?? t('nav.teams') }), note: e.note ?? undefined }
        : { what: t('note.transferredToAgent', { by: who(e.by), to: e.to_agent ? who(e.to_agent) : '?' }), note: e.note ?? undefined };
    case 'reopened':
      return { what: t('note.reopened', { by: who(e.by) }) };
    case 'participant_added':
      return { what: t('note.participantAdded', { by: who(e.by), user: who(e.user_id) }) };
    case 'bot_handoff':
      return { what: t(`note.botHandoff.${e.reason}`), note: e.reason === 'low_score' ? m.body : undefined };
    case 'rule_fired':
      return { what: firedText(e, t, teams, names) };
    case 'rated':
      return { what: t('note.rated', { stars: '★'.repeat(e.rating) + '☆'.repeat(Math.max(0, 5 - e.rating)), rating: e.rating }), note: e.comment ?? undefined };
  }
}

function Message({ message: m, lang, seen, t, names, teams }: {
  message: MessageView;
  lang: string;
  seen: boolean;
  t: T;
  names: ReadonlyMap<string, string>;
  teams: ReadonlyMap<string, string>;
}) {
  if (m.sender.kind === 'system') {
    const { what, note } = systemText(m, t, names, teams);
    return (
      <div className="message-system" data-testid="system-note" data-seq={m.seq} data-kind={m.event?.kind ?? ''}>
        <LockOutlined /> {what}
        {note && <div className="message-system-note">“{note}”</div>}
      </div>
    );
  }
  // Everything the team's side sends (people, the bot, automatic replies) is outgoing.
  const out = m.sender.kind !== 'visitor';
  return (
    <div className={`message ${out ? 'message-out' : 'message-in'}${m.private ? ' message-note' : ''}`} data-testid="message" data-seq={m.seq}
      data-private={m.private ? 'true' : 'false'}>
      {m.private && <div className="message-note-label"><LockOutlined /> {t('conversation.noteLabel')}</div>}
      <div className="message-bubble">
        {m.attachment ? <Attachment file={m.attachment} /> : m.body}
      </div>
      <div className="message-meta">
        {(m.sender.kind === 'agent' || m.sender.kind === 'bot') && (
          <span data-testid={m.sender.kind === 'bot' ? 'bot-sender' : undefined}>
            {m.sender.kind === 'bot' && <RobotOutlined />} {m.sender.name} ·{' '}
          </span>
        )}
        {m.sender.kind === 'auto' && (
          <span data-testid="auto-sender">
            <ClockCircleOutlined /> {m.sender.name} <span className="message-auto-label">{t('conversation.autoReply')}</span> ·{' '}
          </span>
        )}
        <Tooltip title={new Date(m.created_at).toLocaleString(lang)}><span>{timeLabel(m.created_at, lang)}</span></Tooltip>
        {seen && <span className="message-seen" data-testid="seen"> · <CheckOutlined /> {t('conversation.seen')}</span>}
      </div>
    </div>
  );
}
