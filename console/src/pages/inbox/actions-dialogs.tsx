// The parts of a conversation's actions that use antd's Select and Modal, loaded on demand
// (actions.tsx; docs/console.md, "Weight").
import { Input, Modal, Select, Space } from 'antd';
import { useState } from 'react';
import { useI18n } from '../../i18n';
import type { InboxItem } from '../../state/inbox';
import { useConsole, type ConsoleStore } from '../../state/store';
import { useConversationActions } from './actions';

export function TransferDialog({ store, item, open, onClose }: { store: ConsoleStore; item: InboxItem; open: boolean; onClose(): void }) {
  const { t } = useI18n();
  const members = useConsole(store, (s) => s.members);
  const teams = useConsole(store, (s) => s.teams);
  const agents = useConsole(store, (s) => s.agents);
  const actions = useConversationActions(store, item);
  const [to, setTo] = useState<string>();
  const [note, setNote] = useState('');
  const [missing, setMissing] = useState(false);

  async function submit() {
    if (!to) {
      setMissing(true);
      return;
    }
    if (await actions.transfer(to, note)) {
      onClose();
      setTo(undefined);
      setNote('');
    }
  }

  // Plain controlled fields (no antd Form): the inbox stays light (docs/console.md, "Weight").
  return (
    <>
      <Modal open={open} title={t('conversation.transfer')} onCancel={onClose} onOk={() => void submit()}
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

export function InviteDialog({ store, item, open, onClose }: { store: ConsoleStore; item: InboxItem; open: boolean; onClose(): void }) {
  const { t } = useI18n();
  const members = useConsole(store, (s) => s.members);
  const actions = useConversationActions(store, item);
  const [chosen, setChosen] = useState<string>();
  const candidates = members.filter((m) => m.user_id !== item.assignee && !item.participants.includes(m.user_id));

  return (
    <>
      <Modal open={open} title={t('conversation.invite')} onCancel={onClose} cancelText={t('common.cancel')}
        okText={t('conversation.invite')} okButtonProps={{ disabled: !chosen }}
        onOk={async () => {
          if (chosen && (await actions.invite(chosen))) {
            onClose();
            setChosen(undefined);
          }
        }}>
        <Select showSearch optionFilterProp="label" value={chosen} onChange={setChosen} style={{ width: '100%' }} placeholder={t('transfer.pick')}
          options={candidates.map((m) => ({ value: m.user_id, label: m.display_name }))} />
      </Modal>
    </>
  );
}

export function TagSelect({ store, item }: { store: ConsoleStore; item: InboxItem }) {
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
