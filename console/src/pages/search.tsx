// Searching the history (F23, docs/search.md): keywords and filters kept in the URL, hits newest
// first or best match first with the matches marked, more on demand, a hit opening its
// conversation in the inbox.
import { DownloadOutlined, SearchOutlined } from '@ant-design/icons';
import { Alert, Button, Card, DatePicker, Dropdown, Empty, Input, Modal, Segmented, Select, Space, Spin, Tag, Typography } from 'antd';
import { useApp } from '../ui/app';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { ApiError, api, call } from '../api/client';
import { session, type StoredSession } from '../auth/session';
import type { components } from '../api/schema';
import { useI18n, type Key } from '../i18n';
import { useConsole, type ConsoleStore } from '../state/store';
import { describe } from '../ui/errors';
import { atLeast } from '../ui/roles';
import { systemText } from './inbox/conversation';
import { ExportJobs } from './search-exports';
import { apiQuery, conversationPath, fromUrl, isEmpty, SENDERS, toUrl, type SearchParams } from './search-query';

type Hit = components['schemas']['SearchHit'];

interface Results {
  hits: Hit[];
  next?: string;
  unindexed: number;
}

export function SearchPage({ store, session: current }: { store: ConsoleStore; session: StoredSession }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [modal, modalHolder] = Modal.useModal();
  const navigate = useNavigate();
  const [jobsVersion, setJobsVersion] = useState(0);
  const [url, setUrl] = useSearchParams();
  const params = useMemo(() => fromUrl(url), [url]);
  const members = useConsole(store, (s) => s.members);
  const teams = useConsole(store, (s) => s.teams);
  const names = useMemo(() => new Map(members.map((m) => [m.user_id, m.display_name])), [members]);
  const teamNames = useMemo(() => new Map(teams.map((team) => [team.id, team.name])), [teams]);
  const [draft, setDraft] = useState(params.q ?? '');
  const [results, setResults] = useState<Results | null>(null);
  const [loading, setLoading] = useState(false);
  const [queryError, setQueryError] = useState<string>();
  const [failure, setFailure] = useState<string>();
  const latest = useRef(0);

  const page = async (after?: string) => {
    const ticket = ++latest.current;
    setLoading(true);
    try {
      const found = await call(api.GET('/api/v1/search', { params: { query: apiQuery(params, after) } }));
      if (ticket !== latest.current) return;
      const hits = found.hits;
      setResults((previous) => ({
        hits: after && previous ? [...previous.hits, ...hits] : hits,
        next: found.next_after ?? undefined,
        unindexed: found.unindexed,
      }));
      setQueryError(undefined);
      setFailure(undefined);
    } catch (e) {
      if (ticket !== latest.current) return;
      const field = e instanceof ApiError ? e.fields[0] : undefined;
      if (field) {
        const key = `search.error.${field.field}.${field.code}`;
        setQueryError(key in FIELD_KEYS ? t(key as Key) : field.message);
        setResults(null);
      } else {
        setFailure(describe(e, t));
      }
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  };

  useEffect(() => {
    setDraft(params.q ?? '');
    if (isEmpty(params)) {
      latest.current++;
      setResults(null);
      setQueryError(undefined);
      setLoading(false);
      return;
    }
    void page();
    // `page` reads `params`, which is derived from `url`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url]);

  /** The search's filters as the export endpoints take them (no order, page size or cursor). */
  const exportFilters = () =>
    Object.fromEntries(Object.entries(apiQuery(params)).filter(([k]) => k !== 'limit' && k !== 'order' && k !== 'after').map(([k, v]) => [k, String(v)]));

  /** Queues a background export of what this search finds (over 1,000 conversations). */
  async function exportInBackground(format: 'json' | 'csv') {
    try {
      await call(api.POST('/api/v1/export/jobs', { body: { format, filters: exportFilters() } }));
      message.success(t('exports.queued'));
      setJobsVersion((v) => v + 1);
    } catch (e) {
      const field = e instanceof ApiError ? e.fields[0] : undefined;
      message.error(field?.code === 'too_many_conversations' ? field.message : describe(e, t));
    }
  }

  /** Downloads the conversations this search finds, as the JSON archive or CSV (docs/export.md);
   * over 1,000 conversations, offers a background export instead. */
  async function exportAs(format: 'json' | 'csv') {
    try {
      const token = await session.accessToken();
      const query = new URLSearchParams(exportFilters());
      query.set('format', format);
      const response = await fetch(`/api/v1/export/conversations?${query}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!response.ok) {
        const problem = (await response.json().catch(() => null)) as { errors?: { code: string }[] } | null;
        if (problem?.errors?.[0]?.code === 'too_many_conversations') {
          modal.confirm({
            title: t('exports.offerTitle'),
            content: t('exports.offer'),
            okText: t('exports.start'),
            cancelText: t('common.cancel'),
            onOk: () => exportInBackground(format),
          });
          return;
        }
        throw new Error(`HTTP ${response.status}`);
      }
      const link = document.createElement('a');
      link.href = URL.createObjectURL(await response.blob());
      link.download = `conversations-${new Date().toISOString().slice(0, 10)}.${format}`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    } catch (e) {
      message.error(e instanceof Error && e.message && !e.message.startsWith('HTTP') ? e.message : describe(e, t));
    }
  }

  const change = (patch: Partial<SearchParams>) => setUrl(toUrl({ ...params, ...patch }));
  const range: [Dayjs, Dayjs] | null =
    params.from && params.to ? [dayjs(params.from), dayjs(params.to).subtract(1, 'day')] : null;
  const time = (iso: string) => new Date(iso).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
  const senderLabel = (m: Hit['message']) => (m.private ? t('search.sender.note') : t(`search.sender.${m.sender.kind}` as Key));

  return (
    <Card title={t('nav.search')} className="page search-page"
      extra={atLeast(current.role, 'supervisor') && results && results.hits.length > 0 && (
        <Dropdown trigger={['click']} menu={{
          items: [
            { key: 'json', label: t('search.exportJson') },
            { key: 'csv', label: t('search.exportCsv') },
            { type: 'group', key: 'background', label: t('exports.background'), children: [
              { key: 'background-json', label: t('exports.backgroundJson') },
              { key: 'background-csv', label: t('exports.backgroundCsv') },
            ] },
          ],
          onClick: ({ key }) => void (key.startsWith('background-')
            ? exportInBackground(key === 'background-csv' ? 'csv' : 'json')
            : exportAs(key as 'json' | 'csv')),
        }}>
          <Button icon={<DownloadOutlined />} data-testid="search-export">{t('search.export')}</Button>
        </Dropdown>
      )}>
      <Space direction="vertical" size={12} style={{ width: '100%' }}>
        {modalHolder}
        {atLeast(current.role, 'supervisor') && <ExportJobs version={jobsVersion} />}
        <div>
          <Input.Search value={draft} onChange={(e) => setDraft(e.target.value)} allowClear enterButton={<SearchOutlined />}
            placeholder={t('search.placeholder')} aria-label={t('search.placeholder')} data-testid="search-input" maxLength={200}
            status={queryError ? 'error' : undefined} onSearch={(q) => change({ q })} />
          {queryError && <Typography.Text type="danger" data-testid="search-error">{queryError}</Typography.Text>}
          <Typography.Paragraph type="secondary" className="search-help">{t('search.help')}</Typography.Paragraph>
        </div>
        <div className="search-filters">
          <DatePicker.RangePicker value={range} allowEmpty={[false, false]} aria-label={t('search.when')} data-testid="search-range"
            onChange={(days) => {
              const [start, end] = days ?? [];
              change(start && end
                ? { from: start.startOf('day').toISOString(), to: end.add(1, 'day').startOf('day').toISOString() }
                : { from: undefined, to: undefined });
            }} />
          <Select allowClear placeholder={t('search.agent')} value={params.agent} style={{ width: 160 }} data-testid="search-agent"
            showSearch optionFilterProp="label" onChange={(agent?: string) => change({ agent })}
            options={members.map((m) => ({ value: m.user_id, label: m.display_name }))} />
          <Select allowClear placeholder={t('search.team')} value={params.team} style={{ width: 140 }} data-testid="search-team"
            onChange={(team?: string) => change({ team })} options={teams.map((team) => ({ value: team.id, label: team.name }))} />
          <Input allowClear placeholder={t('search.tag')} defaultValue={params.tag} key={`tag:${params.tag ?? ''}`} style={{ width: 120 }}
            data-testid="search-tag" onBlur={(e) => { if ((e.target.value.trim() || undefined) !== params.tag) change({ tag: e.target.value }); }}
            onPressEnter={(e) => (e.target as HTMLInputElement).blur()} />
          <Select allowClear placeholder={t('search.status')} value={params.status} style={{ width: 120 }} data-testid="search-status"
            onChange={(status?: 'open' | 'closed') => change({ status })}
            options={[{ value: 'open', label: t('search.status.open') }, { value: 'closed', label: t('search.status.closed') }]} />
          <Select mode="multiple" allowClear placeholder={t('search.rating')} value={params.rating ?? []} style={{ minWidth: 130 }}
            data-testid="search-rating" onChange={(rating: number[]) => change({ rating })}
            options={[1, 2, 3, 4, 5].map((r) => ({ value: r, label: '★'.repeat(r) }))} />
          <Select allowClear placeholder={t('search.sender')} value={params.sender} style={{ width: 150 }} data-testid="search-sender"
            onChange={(sender?: string) => change({ sender })}
            options={SENDERS.map((s) => ({ value: s, label: t(`search.sender.${s}` as Key) }))} />
          <Segmented value={params.order ?? 'newest'} data-testid="search-order" disabled={!params.q}
            onChange={(order) => change({ order: order as 'newest' | 'relevance' })}
            options={[{ value: 'newest', label: t('search.newest') }, { value: 'relevance', label: t('search.relevance') }]} />
        </div>
        {failure && <Alert type="error" showIcon title={failure} />}
        {results && results.unindexed > 0 && (
          <Typography.Text type="secondary" data-testid="search-unindexed">{t('search.unindexed', { n: results.unindexed })}</Typography.Text>
        )}
        {results === null ? (
          loading ? <Spin /> : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('search.start')} />
        ) : results.hits.length === 0 ? (
          <Empty description={t('search.none')} data-testid="search-none" />
        ) : (
          <ol className="search-hits" data-testid="search-hits">
            {results.hits.map((hit) => (
              <li key={hit.message.message_id} className="search-hit" data-testid="search-hit">
                <button type="button" className="search-hit-button"
                  onClick={() => navigate(conversationPath(hit.conversation.conversation_id, hit.conversation.status))}>
                  <span className="search-hit-head">
                    <Typography.Text strong>{hit.visitor_name || hit.visitor_email || t('queue.anonymous')}</Typography.Text>
                    <Tag color={hit.conversation.status === 'open' ? 'green' : undefined}>{t(`search.status.${hit.conversation.status}` as Key)}</Tag>
                    {hit.conversation.tags.map((tag) => <Tag key={tag}>{tag}</Tag>)}
                    <Typography.Text type="secondary" className="search-hit-meta">
                      {senderLabel(hit.message)}{hit.message.sender.kind === 'agent' && hit.message.sender.name ? ` · ${hit.message.sender.name}` : ''} · {time(hit.message.created_at)}
                    </Typography.Text>
                  </span>
                  <span className="search-hit-text" data-testid="search-snippet">
                    {hit.message.sender.kind === 'system' && hit.message.event
                      // Kefu's own notes read in the member's language, as in the transcript.
                      ? (() => {
                          const { what, note } = systemText(hit.message, t, names, teamNames);
                          return note ? `${what} “${note}”` : what;
                        })()
                      : hit.snippet.map((s, i) => (s.hit ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
                  </span>
                </button>
              </li>
            ))}
          </ol>
        )}
        {results?.next && (
          <Button onClick={() => void page(results.next)} loading={loading} data-testid="search-more">{t('search.more')}</Button>
        )}
      </Space>
    </Card>
  );
}

/** Field errors the page words itself (others show the api's sentence). */
const FIELD_KEYS: Record<string, true> = {
  'search.error.q.too_long': true,
  'search.error.q.too_many_terms': true,
  'search.error.q.only_exclusions': true,
  'search.error.q.no_words': true,
};
