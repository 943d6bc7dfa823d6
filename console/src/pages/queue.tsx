// The live queue (F19/F20): waiting conversations in the order they are served, with their
// place in their team's queue, how long they have waited and the estimate visitors are shown.
// Re-read whenever the agent socket says the queue moved (no polling). Agents claim; supervisors
// also assign to a colleague, set a priority, or move a conversation to the front.
import { Badge, Button, Card, Empty, InputNumber, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import { useApp } from '../ui/app';
import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { api, call } from '../api/client';
import type { components } from '../api/schema';
import type { StoredSession } from '../auth/session';
import { useI18n, type Key, type Vars } from '../i18n';
import { useConsole, type ConsoleStore } from '../state/store';
import { describe } from '../ui/errors';
import { atLeast } from '../ui/roles';

type Entry = components['schemas']['QueueEntry'];

/** The queue is read again at most this often while it moves. */
const REREAD_GAP_MS = 500;

export function QueuePage({ store, session }: { store: ConsoleStore; session: StoredSession }) {
  const { t } = useI18n();
  const { message } = useApp();
  const navigate = useNavigate();
  const version = useConsole(store, (s) => s.queueVersion);
  const members = useConsole(store, (s) => s.members);
  const teams = useConsole(store, (s) => s.teams);
  const agents = useConsole(store, (s) => s.agents);
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [waiting, setWaiting] = useState(0);
  const [now, setNow] = useState(() => Date.now());
  const supervisor = atLeast(session.role, 'supervisor');
  const reading = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });

  // One read at a time, at most one more after it, however fast the queue moves.
  useEffect(() => {
    const state = reading.current;
    if (state.busy) {
      state.again = true;
      return;
    }
    const read = async () => {
      state.busy = true;
      try {
        do {
          state.again = false;
          const queue = await call(api.GET('/api/v1/queue', { params: { query: { limit: 200 } } }));
          setEntries(queue.entries);
          setWaiting(queue.waiting);
          if (state.again) await new Promise((resolve) => setTimeout(resolve, REREAD_GAP_MS));
        } while (state.again);
      } catch (e) {
        message.error(describe(e, t));
      } finally {
        state.busy = false;
      }
    };
    void read();
  }, [version, message, t]);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);

  async function run(work: () => Promise<unknown>) {
    try {
      await work();
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  const setPriority = (id: string, priority: number) =>
    run(() => call(api.PUT('/api/v1/conversations/{conversation_id}/priority', { params: { path: { conversation_id: id } }, body: { priority } })));
  const assign = (id: string, to: string) =>
    run(() => call(api.POST('/api/v1/conversations/{conversation_id}/transfer', { params: { path: { conversation_id: id } }, body: { to, note: null } })));
  const top = Math.min(100, Math.max(0, ...(entries ?? []).map((e) => e.priority)) + 1);
  const teamName = (id?: string | null) => (id ? teams.find((team) => team.id === id)?.name ?? id : t('queue.anyTeam'));

  const columns = [
    { title: '#', dataIndex: 'position', width: 56, render: (p: number) => <span data-testid="queue-position">{p}</span> },
    {
      title: t('queue.visitor'),
      render: (_: unknown, e: Entry) => (
        <Space size={4} wrap>
          <Typography.Text strong>{e.visitor_name || t('queue.anonymous')}</Typography.Text>
          {e.tags.map((tag) => <Tag key={tag}>{tag}</Tag>)}
          {e.skills.map((skill) => <Tooltip key={`skill:${skill}`} title={t('queue.needsSkill')}><Tag color="blue">{skill}</Tag></Tooltip>)}
        </Space>
      ),
    },
    { title: t('queue.team'), render: (_: unknown, e: Entry) => teamName(e.team_id) },
    {
      title: t('queue.priority'),
      render: (_: unknown, e: Entry) => (
        <Tooltip title={e.priority > e.set_priority ? t('queue.priorityDerived') : undefined}>
          {supervisor
            ? <InputNumber size="small" min={0} max={100} defaultValue={e.set_priority} key={`${e.conversation_id}:${e.set_priority}`}
                style={{ width: 72 }} aria-label={t('queue.priority')} data-testid="queue-priority"
                onBlur={(ev) => { const v = Number(ev.target.value); if (Number.isInteger(v) && v !== e.set_priority && v >= 0 && v <= 100) void setPriority(e.conversation_id, v); }}
                onPressEnter={(ev) => (ev.target as HTMLInputElement).blur()} />
            : <span>{e.priority}</span>}
          {e.priority > e.set_priority && <Tag color="gold" style={{ marginLeft: 6 }}>{e.priority}</Tag>}
        </Tooltip>
      ),
    },
    { title: t('queue.waiting'), render: (_: unknown, e: Entry) => duration(Math.max(0, (now - Date.parse(e.created_at)) / 1000), t) },
    {
      title: t('queue.estimate'),
      render: (_: unknown, e: Entry) => (e.estimated_wait_secs == null ? '—' : `~${duration(e.estimated_wait_secs, t)}`),
    },
    {
      title: '',
      render: (_: unknown, e: Entry) => (
        <Space size={4} wrap>
          <Button size="small" type="primary" data-testid="queue-claim"
            onClick={() => { if (store.claim(e.conversation_id)) navigate(`/inbox/mine/${e.conversation_id}`); }}>
            {t('conversation.claim')}
          </Button>
          {supervisor && (
            <>
              <Button size="small" data-testid="queue-front" disabled={e.position === 1 && e.priority >= top - 1}
                onClick={() => void setPriority(e.conversation_id, top)}>{t('queue.toFront')}</Button>
              <Select size="small" placeholder={t('queue.assign')} style={{ width: 150 }} data-testid="queue-assign" showSearch optionFilterProp="label"
                onChange={(to: string) => void assign(e.conversation_id, to)} value={null}
                options={members.map((m) => ({
                  value: m.user_id,
                  label: m.display_name,
                  title: agents.get(m.user_id) ?? 'offline',
                }))}
                optionRender={(o) => <Space size={6}><Badge status={agents.get(String(o.value)) === 'online' ? 'success' : 'default'} />{o.label}</Space>} />
            </>
          )}
        </Space>
      ),
    },
  ];

  return (
    <Card title={<Space>{t('nav.queue')}<Typography.Text type="secondary" data-testid="queue-count">{t('queue.count', { n: waiting })}</Typography.Text></Space>} className="page">
      <Typography.Paragraph type="secondary">{t('queue.intro')}</Typography.Paragraph>
      <Table<Entry> rowKey="conversation_id" size="small" loading={entries === null} dataSource={entries ?? []} columns={columns}
        pagination={false} data-testid="queue-table" locale={{ emptyText: <Empty description={t('queue.empty')} /> }}
        scroll={{ x: true }} />
    </Card>
  );
}

function duration(secs: number, t: (key: Key, vars?: Vars) => string): string {
  if (secs < 60) return t('queue.seconds', { n: Math.round(secs) });
  if (secs < 3600) return t('queue.minutes', { n: Math.round(secs / 60) });
  return t('queue.hours', { n: Math.round((secs / 3600) * 10) / 10 });
}
