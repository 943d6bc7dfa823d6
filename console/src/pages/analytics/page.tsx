// Analytics (F25, docs/analytics.md): the period's figures against the previous period,
// conversations and response times over time, the weekday × hour heat map, agents and teams,
// sources, the bot's hand-off reasons and the site's visits; the period and filters in the URL;
// each table downloadable as CSV. The charts load as a chunk of their own.
import { DownloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, DatePicker, Dropdown, Empty, Progress, Segmented, Select, Space, Spin, Statistic, Table, Typography } from 'antd';
import { useApp } from '../../ui/app';
import dayjs from 'dayjs';
import { lazy, Suspense, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { session } from '../../auth/session';
import { useI18n, type Key } from '../../i18n';
import { useConsole, type ConsoleStore } from '../../state/store';
import { describe } from '../../ui/errors';
import { change, duration, percent, presetRange, type Preset } from './format';
import { ReportsCard } from './reports-card';

const Charts = {
  Volume: lazy(() => import('./charts').then((m) => ({ default: m.VolumeChart }))),
  Response: lazy(() => import('./charts').then((m) => ({ default: m.ResponseChart }))),
  Heat: lazy(() => import('./charts').then((m) => ({ default: m.HeatChart }))),
  Visits: lazy(() => import('./charts').then((m) => ({ default: m.VisitsChart }))),
};

type Dashboard = components['schemas']['Dashboard'];
type Metrics = components['schemas']['Metrics'];
type Share = components['schemas']['ShareView'];

const PRESETS: readonly Preset[] = ['today', '7d', '30d', '90d', '365d'];
const TABLES = ['series', 'agents', 'teams', 'sources', 'visits'] as const;
const DIMENSIONS = ['referrer', 'utm_source', 'utm_campaign', 'country', 'device', 'handoff_reason'] as const;

interface Filters {
  from: string;
  to: string;
  team?: string;
  agent?: string;
}

function filtersOf(url: URLSearchParams): Filters {
  const [from, to] = presetRange('7d');
  return {
    from: url.get('from') ?? from,
    to: url.get('to') ?? to,
    team: url.get('team') ?? undefined,
    agent: url.get('agent') ?? undefined,
  };
}

function queryOf(filters: Filters): Record<string, string> {
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v)) as Record<string, string>;
}

/** A figure with its change against the previous period; `lowerIsBetter` colours a fall green. */
function Figure({ title, value, now, before, lowerIsBetter, testId }: {
  title: string; value: string; now?: number | null; before?: number | null; lowerIsBetter?: boolean; testId: string;
}) {
  const { t } = useI18n();
  const delta = change(now, before);
  const good = delta === undefined || delta === 0 ? undefined : (delta < 0) === Boolean(lowerIsBetter);
  return (
    <Card size="small" className="analytics-figure" data-testid={testId}>
      <Statistic title={title} value={value} />
      <Typography.Text type={good === undefined ? 'secondary' : good ? 'success' : 'danger'} className="analytics-delta">
        {delta === undefined ? t('analytics.noComparison') : t('analytics.vsPrevious', { n: `${delta > 0 ? '+' : ''}${delta}%` })}
      </Typography.Text>
    </Card>
  );
}

function ChartCard({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Card size="small" title={title} className="analytics-chart">
      <Suspense fallback={<div className="analytics-chart-loading"><Spin /></div>}>{children}</Suspense>
    </Card>
  );
}

/** The value of a breakdown as people read it. */
function shareLabel(share: Share, t: (key: Key) => string): string {
  if (share.dimension === 'handoff_reason') return t(`analytics.reason.${share.value}` as Key) || share.value;
  if (!share.value) return share.dimension === 'referrer' || share.dimension.startsWith('utm') ? t('analytics.direct') : t('analytics.unknown');
  return share.value;
}

function Breakdown({ title, shares, testId }: { title: string; shares: Share[]; testId: string }) {
  const { t } = useI18n();
  const total = shares.reduce((sum, s) => sum + s.count, 0);
  return (
    <Card size="small" title={title} data-testid={testId}>
      {shares.length === 0 ? <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('analytics.nothing')} /> : (
        <ul className="analytics-shares">
          {shares.map((s) => (
            <li key={s.value}>
              <span className="analytics-share-label" title={s.value}>{shareLabel(s, t)}</span>
              <Progress percent={total ? Math.round((s.count / total) * 100) : 0} size="small" showInfo={false} />
              <span className="analytics-share-count">{s.count}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function AnalyticsPage({ store, canEditReports }: { store: ConsoleStore; canEditReports: boolean }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [url, setUrl] = useSearchParams();
  const filters = useMemo(() => filtersOf(url), [url]);
  const members = useConsole(store, (s) => s.members);
  const teams = useConsole(store, (s) => s.teams);
  const [dashboard, setDashboard] = useState<Dashboard | null>(null);
  const [failure, setFailure] = useState<string>();
  const [loading, setLoading] = useState(false);
  const latest = useRef(0);

  useEffect(() => {
    const ticket = ++latest.current;
    setLoading(true);
    setFailure(undefined);
    call(api.GET('/api/v1/analytics', { params: { query: queryOf(filters) } }))
      .then((board) => { if (ticket === latest.current) setDashboard(board); })
      .catch((e: unknown) => { if (ticket === latest.current) setFailure(describe(e, t)); })
      .finally(() => { if (ticket === latest.current) setLoading(false); });
  }, [filters, t]);

  const update = (next: Partial<Filters>) => setUrl(queryOf({ ...filters, ...next }));
  const preset = PRESETS.find((p) => {
    const [from, to] = presetRange(p);
    return from === filters.from && to === filters.to;
  });

  async function download(table: (typeof TABLES)[number]) {
    try {
      const token = await session.accessToken();
      const params = new URLSearchParams({ ...queryOf(filters), table });
      const response = await fetch(`/api/v1/analytics/export?${params}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const link = document.createElement('a');
      link.href = URL.createObjectURL(await response.blob());
      link.download = `analytics-${table}-${filters.from}-${filters.to}.csv`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  const now: Metrics | undefined = dashboard?.totals;
  const before: Metrics | undefined = dashboard?.previous;
  const performance = (rows: { key: string; name: string; metrics: Metrics }[], testId: string, title: string) => (
    <Card size="small" title={title}>
      <Table size="small" pagination={false} data-testid={testId} rowKey="key" dataSource={rows} scroll={{ x: true }}
        columns={[
          { title: t('analytics.name'), dataIndex: 'name' },
          { title: t('analytics.conversations'), render: (_, r) => r.metrics.conversations, align: 'right' },
          { title: t('analytics.firstResponse'), render: (_, r) => duration(r.metrics.first_response_secs, lang), align: 'right' },
          { title: t('analytics.responseTime'), render: (_, r) => duration(r.metrics.response_secs, lang), align: 'right' },
          { title: t('analytics.duration'), render: (_, r) => duration(r.metrics.duration_secs, lang), align: 'right' },
          { title: t('analytics.resolution'), render: (_, r) => percent(r.metrics.resolution_rate), align: 'right' },
          { title: t('analytics.missed'), render: (_, r) => r.metrics.missed, align: 'right' },
          { title: 'CSAT', render: (_, r) => percent(r.metrics.csat), align: 'right' },
        ]} />
    </Card>
  );

  return (
    <div className="analytics-page">
      <Card size="small" className="analytics-filters">
        <Space wrap>
          <Segmented<Preset | 'custom'> value={preset ?? 'custom'} data-testid="analytics-preset"
            options={[...PRESETS.map((p) => ({ value: p, label: t(`analytics.preset.${p}` as Key) })), { value: 'custom', label: t('analytics.preset.custom'), disabled: true }]}
            onChange={(p) => {
              if (p === 'custom') return;
              const [from, to] = presetRange(p);
              update({ from, to });
            }} />
          <DatePicker.RangePicker allowClear={false} value={[dayjs(filters.from), dayjs(filters.to)]} aria-label={t('analytics.period')}
            disabledDate={(d) => d.isAfter(dayjs(), 'day')}
            onChange={(range) => {
              if (range?.[0] && range[1]) update({ from: range[0].format('YYYY-MM-DD'), to: range[1].format('YYYY-MM-DD') });
            }} />
          <Select allowClear placeholder={t('analytics.allTeams')} style={{ minWidth: 150 }} value={filters.team} aria-label={t('analytics.team')}
            data-testid="analytics-team" onChange={(team) => update({ team })}
            options={teams.map((team) => ({ value: team.id, label: team.name }))} />
          <Select allowClear showSearch optionFilterProp="label" placeholder={t('analytics.allAgents')} style={{ minWidth: 150 }} value={filters.agent}
            aria-label={t('analytics.agent')} data-testid="analytics-agent" onChange={(agent) => update({ agent })}
            options={members.map((m) => ({ value: m.user_id, label: m.display_name }))} />
          <Dropdown menu={{ items: TABLES.map((table) => ({ key: table, label: t(`analytics.table.${table}` as Key) })), onClick: ({ key }) => void download(key as (typeof TABLES)[number]) }}>
            <Button icon={<DownloadOutlined />} data-testid="analytics-download">{t('analytics.download')}</Button>
          </Dropdown>
        </Space>
        {dashboard && (
          <Typography.Paragraph type="secondary" className="analytics-freshness" data-testid="analytics-freshness">
            {t('analytics.timezone', { zone: dashboard.timezone })}
            {dashboard.freshness.through && ` · ${t('analytics.countedUpTo', { time: new Date(dashboard.freshness.through).toLocaleString(lang, { dateStyle: 'short', timeStyle: 'short' }) })}`}
          </Typography.Paragraph>
        )}
      </Card>
      {failure && <Alert type="error" showIcon title={failure} />}
      {dashboard && !dashboard.freshness.complete && <Alert type="info" showIcon title={t('analytics.catchingUp')} data-testid="analytics-catching-up" />}
      {!dashboard && loading && <div className="analytics-loading"><Spin /></div>}
      {dashboard && now && before && (
        <Spin spinning={loading}>
          <div className="analytics-figures">
            <Figure testId="figure-conversations" title={t('analytics.conversations')} value={String(now.conversations)} now={now.conversations} before={before.conversations} />
            <Figure testId="figure-first-response" title={t('analytics.firstResponse')} value={duration(now.first_response_secs, lang)} now={now.first_response_secs} before={before.first_response_secs} lowerIsBetter />
            <Figure testId="figure-response" title={t('analytics.responseTime')} value={duration(now.response_secs, lang)} now={now.response_secs} before={before.response_secs} lowerIsBetter />
            <Figure testId="figure-duration" title={t('analytics.duration')} value={duration(now.duration_secs, lang)} now={now.duration_secs} before={before.duration_secs} />
            <Figure testId="figure-resolution" title={t('analytics.resolution')} value={percent(now.resolution_rate)} now={now.resolution_rate} before={before.resolution_rate} />
            <Figure testId="figure-missed" title={t('analytics.missed')} value={String(now.missed)} now={now.missed} before={before.missed} lowerIsBetter />
            <Figure testId="figure-reopen" title={t('analytics.reopenRate')} value={percent(now.reopen_rate)} now={now.reopen_rate} before={before.reopen_rate} lowerIsBetter />
            <Figure testId="figure-csat" title={t('analytics.csat', { n: now.rated })} value={percent(now.csat)} now={now.csat} before={before.csat} />
            <Figure testId="figure-rating" title={t('analytics.rating')} value={now.rating_average == null ? '–' : `${now.rating_average.toFixed(1)} ★`} now={now.rating_average} before={before.rating_average} />
            <Figure testId="figure-bot" title={t('analytics.botResolution', { n: now.bot_involved })} value={percent(now.bot_resolution_rate)} now={now.bot_resolution_rate} before={before.bot_resolution_rate} />
          </div>
          {now.conversations === 0 && dashboard.visits.visits === 0 ? (
            <Card><Empty description={t('analytics.empty')} /></Card>
          ) : (
            <>
              <div className="analytics-grid">
                <ChartCard title={t('analytics.volume')}><Charts.Volume dashboard={dashboard} /></ChartCard>
                <ChartCard title={t('analytics.responseTimes')}><Charts.Response dashboard={dashboard} /></ChartCard>
              </div>
              <ChartCard title={t('analytics.heatmap')}><Charts.Heat dashboard={dashboard} /></ChartCard>
              {performance(dashboard.agents.map((a) => ({ key: a.user_id ?? 'none', name: a.name ?? (a.user_id ? t('audit.formerMember') : t('analytics.unassigned')), metrics: a.metrics })), 'analytics-agents', t('analytics.byAgent'))}
              {performance(dashboard.teams.map((team) => ({ key: team.team_id ?? 'none', name: team.name ?? t('analytics.noTeam'), metrics: team.metrics })), 'analytics-teams', t('analytics.byTeam'))}
              <Typography.Title level={5}>{t('analytics.sources')}</Typography.Title>
              <Typography.Paragraph type="secondary">{t('analytics.sourcesScope')}</Typography.Paragraph>
              <div className="analytics-grid analytics-grid-3">
                {DIMENSIONS.map((d) => (
                  <Breakdown key={d} testId={`breakdown-${d}`} title={t(`analytics.dimension.${d}` as Key)}
                    shares={dashboard.conversation_sources.filter((s) => s.dimension === d)} />
                ))}
              </div>
              <Typography.Title level={5}>{t('analytics.visitsTitle')}</Typography.Title>
              <div className="analytics-figures">
                <Card size="small" className="analytics-figure"><Statistic title={t('analytics.visits')} value={dashboard.visits.visits} /></Card>
                <Card size="small" className="analytics-figure"><Statistic title={t('analytics.visitDuration')} value={duration(dashboard.visits.average_secs, lang)} /></Card>
                <Card size="small" className="analytics-figure"><Statistic title={t('analytics.pagesPerVisit')} value={dashboard.visits.pages_per_visit == null ? '–' : dashboard.visits.pages_per_visit.toFixed(1)} /></Card>
              </div>
              <ChartCard title={t('analytics.visitsPerDay')}><Charts.Visits dashboard={dashboard} /></ChartCard>
              <div className="analytics-grid analytics-grid-3">
                {(['referrer', 'utm_source', 'country'] as const).map((d) => (
                  <Breakdown key={d} testId={`visits-${d}`} title={t(`analytics.dimension.${d}` as Key)}
                    shares={dashboard.visits.sources.filter((s) => s.dimension === d)} />
                ))}
              </div>
            </>
          )}
        </Spin>
      )}
      <ReportsCard store={store} canEdit={canEditReports} />
    </div>
  );
}
