// The audit log (F26): every admin change and every access to conversations (searches,
// transcripts read, attachment downloads, exports), filtered by who, what and when, newest first,
// more on demand, and downloadable as CSV with the same filters.
import { DownloadOutlined } from '@ant-design/icons';
import { Button, Card, DatePicker, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import { useApp } from '../../ui/app';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { session } from '../../auth/session';
import { useSession } from '../../auth/use-session';
import { useI18n, type Key } from '../../i18n';
import { useConsole, type ConsoleStore } from '../../state/store';
import { describe } from '../../ui/errors';
import { RetentionCard, WorkspaceArchiveCard } from './data-cards';

type Entry = components['schemas']['AuditEntry'];

interface Filters {
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
}

/** Actions and kinds of actions (ending with a dot) to filter by, with their labels. */
const ACTIONS: readonly (readonly [string, Key])[] = [
  ['search.performed', 'audit.kind.search'],
  ['transcript.read', 'audit.kind.transcript'],
  ['attachment.downloaded', 'audit.kind.attachment'],
  ['audit.exported', 'audit.kind.auditExport'],
  ['tenant.exported', 'audit.kind.tenantExport'],
  ['conversations.exported', 'audit.kind.export'],
  ['export.downloaded', 'audit.kind.exportDownload'],
  ['compliance.feed_read', 'audit.kind.feed'],
  ['retention.', 'audit.kind.retention'],
  ['visitor.erased', 'audit.kind.erasure'],
  ['member.', 'audit.kind.member'],
  ['invitation.', 'audit.kind.invitation'],
  ['team.', 'audit.kind.team'],
  ['conversation.', 'audit.kind.conversation'],
  ['canned.', 'audit.kind.canned'],
  ['kb.', 'audit.kind.kb'],
  ['bot.', 'audit.kind.bot'],
  ['routing.', 'audit.kind.routing'],
  ['rules.', 'audit.kind.rules'],
  ['service_hours.', 'audit.kind.hours'],
  ['widget.', 'audit.kind.widget'],
  ['site_key.', 'audit.kind.siteKey'],
  ['api_key.', 'audit.kind.apiKey'],
  ['tenant.', 'audit.kind.tenant'],
];

/** The label of an entry's action: its own, else its kind's. */
function kindOf(action: string): Key | undefined {
  return ACTIONS.find(([a]) => a === action)?.[1] ?? ACTIONS.find(([a]) => a.endsWith('.') && action.startsWith(a))?.[1];
}

function query(filters: Filters): Record<string, string> {
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v)) as Record<string, string>;
}

export function AuditPage({ store }: { store: ConsoleStore }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const members = useConsole(store, (s) => s.members);
  const role = useSession()?.role;
  const [filters, setFilters] = useState<Filters>({});
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [next, setNext] = useState<number>();
  const [loading, setLoading] = useState(false);
  const latest = useRef(0);

  const load = async (before?: number) => {
    const ticket = ++latest.current;
    setLoading(true);
    try {
      const page = await call(api.GET('/api/v1/audit-log', {
        params: { query: { ...query(filters), limit: 50, ...(before ? { before } : {}) } },
      }));
      if (ticket !== latest.current) return;
      const rows = page.entries;
      setEntries((previous) => (before && previous ? [...previous, ...rows] : rows));
      setNext(page.next_before ?? undefined);
    } catch (e) {
      if (ticket === latest.current) message.error(describe(e, t));
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  };

  useEffect(() => {
    void load();
    // `load` reads `filters`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filters]);

  async function download() {
    try {
      const token = await session.accessToken();
      const params = new URLSearchParams(query(filters));
      const response = await fetch(`/api/v1/audit-log/export?${params}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const link = document.createElement('a');
      link.href = URL.createObjectURL(await response.blob());
      link.download = `audit-log-${dayjs().format('YYYY-MM-DD')}.csv`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  const range: [Dayjs, Dayjs] | null =
    filters.from && filters.to ? [dayjs(filters.from), dayjs(filters.to).subtract(1, 'day')] : null;
  const time = (iso: string) => new Date(iso).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'medium' });
  const who = (e: Entry) =>
    e.actor_name ?? (e.actor_user_id ? t('audit.formerMember') : e.actor_api_key_id ? `${t('audit.apiKey')} ${e.actor_api_key_id}` : 'Kefu');

  return (
    <Space direction="vertical" size={16} className="page" style={{ width: '100%' }}>
    <RetentionCard />
    {role === 'owner' && <WorkspaceArchiveCard />}
    <Card title={t('nav.audit')} className="audit-page"
      extra={<Button icon={<DownloadOutlined />} onClick={() => void download()} data-testid="audit-download">{t('audit.download')}</Button>}>
      <Typography.Paragraph type="secondary">{t('audit.intro')}</Typography.Paragraph>
      <Space wrap className="audit-filters">
        <Select allowClear placeholder={t('audit.actor')} value={filters.actor} style={{ width: 180 }} data-testid="audit-actor"
          showSearch optionFilterProp="label" onChange={(actor?: string) => setFilters({ ...filters, actor })}
          options={members.map((m) => ({ value: m.user_id, label: m.display_name }))} />
        <Select allowClear placeholder={t('audit.action')} value={filters.action} style={{ width: 220 }} data-testid="audit-action"
          onChange={(action?: string) => setFilters({ ...filters, action })}
          options={ACTIONS.map(([value, label]) => ({ value, label: t(label) }))} />
        <DatePicker.RangePicker value={range} data-testid="audit-range"
          onChange={(days) => {
            const [start, end] = days ?? [];
            setFilters(start && end
              ? { ...filters, from: start.startOf('day').toISOString(), to: end.add(1, 'day').startOf('day').toISOString() }
              : { ...filters, from: undefined, to: undefined });
          }} />
      </Space>
      <Table<Entry> rowKey="id" size="small" loading={loading && entries === null} dataSource={entries ?? []} pagination={false}
        data-testid="audit-table" scroll={{ x: true }} className="audit-table"
        columns={[
          { title: t('audit.when'), dataIndex: 'occurred_at', width: 190, render: (at: string) => time(at) },
          { title: t('audit.actor'), render: (_: unknown, e: Entry) => who(e) },
          {
            title: t('audit.action'),
            render: (_: unknown, e: Entry) => {
              const kind = kindOf(e.action);
              return <Space size={4} wrap>{kind && <span>{t(kind)}</span>}<Tag>{e.action}</Tag></Space>;
            },
          },
          {
            title: t('audit.target'),
            dataIndex: 'target',
            render: (target?: string | null) => {
              if (!target) return null;
              const code = <Typography.Text code>{target}</Typography.Text>;
              // A conversation opens in the inbox.
              return target.startsWith('conv_') ? <Link to={`/inbox/closed/${target}`}>{code}</Link> : code;
            },
          },
          {
            title: t('audit.details'),
            render: (_: unknown, e: Entry) => {
              const text = JSON.stringify(e.details);
              return text === '{}' ? null : (
                <Tooltip title={text}><Typography.Text className="audit-details" ellipsis>{text}</Typography.Text></Tooltip>
              );
            },
          },
        ]} />
      {next !== undefined && (
        <Button onClick={() => void load(next)} loading={loading} style={{ marginTop: 12 }} data-testid="audit-more">{t('audit.more')}</Button>
      )}
    </Card>
    </Space>
  );
}
