// Handing a conversation on (F17): transfer to a colleague or a team with a note, invite a
// colleague in, reopen a closed one, and its tags. All through REST; the results come back to
// every console as `conversation_updated` and, for the first three, a system note.
import { App, Button, Input, Modal, Select, Space, Tooltip } from 'antd';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import type { InboxItem } from '../../state/inbox';
import { useConsole, type ConsoleStore } from '../../state/store';
import { describe } from '../../ui/errors';

export function useConversationActions(store: ConsoleStore, item: InboxItem | undefined) {
  const { t } = useI18n();
  const { message } = App.useApp();

  async function run(work: () => Promise<unknown>) {
    try {
      const summary = await work();
      if (summary && typeof summary === 'object' && 'conversation_id' in summary) store.applySummary(summary as InboxItem);
      return true;
    } catch (e) {
      message.error(describe(e, t));
      return false;
    }
  }

  return {
    reopen: () => item && run(() => call(api.POST('/api/v1/conversations/{conversation_id}/reopen', { params: { path: { conversation_id: item.conversation_id } } }))),
    transfer: (to: string, note: string) => item
      ? run(() => call(api.POST('/api/v1/conversations/{conversation_id}/transfer', {
          params: { path: { conversation_id: item.conversation_id } },
          body: { to, note: note.trim() || null },
        })))
      : Promise.resolve(false),
    invite: (userId: string) => item
      ? run(() => call(api.POST('/api/v1/conversations/{conversation_id}/participants', {
          params: { path: { conversation_id: item.conversation_id } },
          body: { user_id: userId },
        })))
      : Promise.resolve(false),
    tag: (tags: string[]) => item && run(() => call(api.PUT('/api/v1/conversations/{conversation_id}/tags', {
      params: { path: { conversation_id: item.conversation_id } },
      body: { tags },
    }))),
  };
}

export function TransferButton({ store, item }: { store: ConsoleStore; item: InboxItem }) {
  const { t } = useI18n();
  const members = useConsole(store, (s) => s.members);
  const teams = useConsole(store, (s) => s.teams);
  const agents = useConsole(store, (s) => s.agents);
  const actions = useConversationActions(store, item);
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState<string>();
  const [note, setNote] = useState('');
  const [missing, setMissing] = useState(false);

  async function submit() {
    if (!to) {
      setMissing(true);
      return;
    }
    if (await actions.transfer(to, note)) {
      setOpen(false);
      setTo(undefined);
      setNote('');
    }
  }

  // Plain controlled fields (no antd Form): the inbox stays light (docs/console.md, "Weight").
  return (
    <>
      <Button size="small" onClick={() => setOpen(true)} data-testid="transfer">{t('conversation.transfer')}</Button>
      <Modal open={open} title={t('conversation.transfer')} onCancel={() => setOpen(false)} onOk={() => void submit()}
        okText={t('conversation.transfer')} cancelText={t('common.cancel')} okButtonProps={{ id: 'transfer-submit' }} destroyOnHidden>
        <div className="transfer-field">
          <label htmlFor="transfer-to">{t('transfer.to')}</label>
          <Select id="transfer-to" showSearch optionFilterProp="label" data-testid="transfer-to" placeholder={t('transfer.pick')}
            value={to} status={missing ? 'error' : undefined} style={{ width: '100%' }}
            onChange={(value: string) => { setTo(value); setMissing(false); }}
            options={[
              {
                label: t('transfer.agents'),
                options: members.filter((m) => m.user_id !== item.assignee).map((m) => ({
                  value: m.user_id,
                  label: `${m.display_name} · ${t(`presence.${agents.get(m.user_id) ?? 'offline'}`)}`,
                })),
              },
              { label: t('nav.teams'), options: teams.map((team) => ({ value: team.id, label: team.name })) },
            ]} />
          {missing && <div className="transfer-error" role="alert">{t('field.required')}</div>}
        </div>
        <div className="transfer-field">
          <label htmlFor="transfer-note">{t('transfer.note')}</label>
          <Input.TextArea id="transfer-note" autoSize={{ minRows: 2, maxRows: 6 }} maxLength={4000} value={note}
            onChange={(e) => setNote(e.target.value)} placeholder={t('transfer.notePlaceholder')} data-testid="transfer-note" />
        </div>
      </Modal>
    </>
  );
}

export function InviteButton({ store, item }: { store: ConsoleStore; item: InboxItem }) {
  const { t } = useI18n();
  const members = useConsole(store, (s) => s.members);
  const actions = useConversationActions(store, item);
  const [open, setOpen] = useState(false);
  const [chosen, setChosen] = useState<string>();
  const candidates = members.filter((m) => m.user_id !== item.assignee && !item.participants.includes(m.user_id));

  return (
    <>
      <Tooltip title={t('conversation.inviteHelp')}>
        <Button size="small" onClick={() => setOpen(true)} data-testid="invite-colleague">{t('conversation.invite')}</Button>
      </Tooltip>
      <Modal open={open} title={t('conversation.invite')} onCancel={() => setOpen(false)} cancelText={t('common.cancel')}
        okText={t('conversation.invite')} okButtonProps={{ disabled: !chosen }}
        onOk={async () => {
          if (chosen && (await actions.invite(chosen))) {
            setOpen(false);
            setChosen(undefined);
          }
        }}>
        <Select showSearch optionFilterProp="label" value={chosen} onChange={setChosen} style={{ width: '100%' }} placeholder={t('transfer.pick')}
          options={candidates.map((m) => ({ value: m.user_id, label: m.display_name }))} />
      </Modal>
    </>
  );
}

export function TagEditor({ store, item }: { store: ConsoleStore; item: InboxItem }) {
  const { t } = useI18n();
  const actions = useConversationActions(store, item);
  const items = useConsole(store, (s) => s.items);
  const known = [...new Set([...items.values()].flatMap((i) => i.tags))].sort();
  return (
    <Space.Compact className="tag-editor">
      <Select mode="tags" size="small" value={item.tags} placeholder={t('conversation.tags')} aria-label={t('conversation.tags')}
        style={{ minWidth: 160, maxWidth: 360 }} tokenSeparators={[',', '，']} maxCount={20} data-testid="tags"
        options={known.map((tag) => ({ value: tag, label: tag }))}
        onChange={(tags: string[]) => void actions.tag(tags)} />
    </Space.Compact>
  );
}
