// Background exports on the search page (docs/export.md, "Background exports"): the workspace's
// exports with their progress, polled while one is queued or running; Cancel; Download through a
// short-lived link the browser saves straight to disk.
import { DownloadOutlined, StopOutlined } from '@ant-design/icons';
import { Button, Card, Progress, Space, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../api/client';
import type { components } from '../api/schema';
import { useApp } from '../ui/app';
import { useI18n, type Key } from '../i18n';
import { describe } from '../ui/errors';

type Job = components['schemas']['ExportJobView'];

const ACTIVE = new Set(['queued', 'running']);
const STATUS_COLOURS: Record<string, string | undefined> = { done: 'green', running: 'blue', queued: 'gold', failed: 'red' };

/** A size in B, KB, MB or GB. */
export function size(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The filters of a job in a few words (`退款 · 2026-01-01 – 2026-02-01 · closed`). */
function summary(filters: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof filters.q === 'string') parts.push(`“${filters.q}”`);
  const day = (v: unknown) => (typeof v === 'string' ? v.slice(0, 10) : '…');
  if (filters.from || filters.to) parts.push(`${day(filters.from)} – ${day(filters.to)}`);
  for (const key of ['status', 'tag', 'rating', 'sender'] as const) {
    if (typeof filters[key] === 'string') parts.push(String(filters[key]));
  }
  return parts.join(' · ');
}

/** The exports list of a kind (conversations on the search page, the workspace's archives on
 * the audit page for the owner); `version` changes when the page queued a new one. */
export function ExportJobs({ version, kind = 'conversations' }: { version: number; kind?: 'conversations' | 'tenant' }) {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [jobs, setJobs] = useState<Job[]>([]);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stopped = false;
    call(api.GET('/api/v1/export/jobs', { params: { query: { kind } } }))
      .then((list) => {
        if (!stopped) setJobs(list.jobs);
      })
      .catch(() => {});
    return () => {
      stopped = true;
    };
  }, [version, tick, kind]);

  const active = jobs.some((job) => ACTIVE.has(job.status));
  useEffect(() => {
    if (!active) return;
    const timer = setTimeout(() => setTick((n) => n + 1), 1500);
    return () => clearTimeout(timer);
  }, [active, jobs]);

  if (jobs.length === 0) return null;

  async function cancel(job: Job) {
    try {
      await call(api.POST('/api/v1/export/jobs/{id}/cancel', { params: { path: { id: job.id } } }));
      setTick((n) => n + 1);
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  async function download(job: Job) {
    try {
      const link = await call(api.POST('/api/v1/export/jobs/{id}/link', { params: { path: { id: job.id } } }));
      // The answer is an attachment: the browser saves it and stays on this page.
      window.location.assign(link.url);
    } catch (e) {
      message.error(describe(e, t));
    }
  }

  const time = (iso: string) => new Date(iso).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
  return (
    <Card size="small" title={t(kind === 'tenant' ? 'exports.archives' : 'exports.title')} data-testid={kind === 'tenant' ? 'tenant-archives' : 'export-jobs'}>
      <ol className="export-jobs">
        {jobs.map((job) => {
          const percent = job.total > 0 ? Math.min(100, Math.floor((job.written * 100) / job.total)) : job.status === 'done' ? 100 : 0;
          return (
            <li key={job.id} className="export-job" data-testid="export-job" data-status={job.status}>
              <Space wrap size={8}>
                <Tag color={STATUS_COLOURS[job.status]}>{t(`exports.status.${job.status}` as Key)}</Tag>
                <Typography.Text strong>{job.format.toUpperCase()}</Typography.Text>
                <Typography.Text type="secondary">{time(job.created_at)}</Typography.Text>
                {kind === 'conversations' && (
                  <Typography.Text type="secondary">{summary(job.filters) || t('exports.everything')}</Typography.Text>
                )}
              </Space>
              <Progress percent={percent} size="small" status={job.status === 'failed' ? 'exception' : ACTIVE.has(job.status) ? 'active' : undefined}
                aria-label={t('exports.progress')} />
              <Space wrap size={8}>
                <Typography.Text type="secondary" data-testid="export-job-count">
                  {t(kind === 'tenant' ? 'exports.countParts' : 'exports.count', { written: job.written.toLocaleString(lang), total: job.total.toLocaleString(lang), size: size(job.bytes) })}
                </Typography.Text>
                {job.status === 'done' && job.expires_at && (
                  <Typography.Text type="secondary">{t('exports.until', { when: time(job.expires_at) })}</Typography.Text>
                )}
                {job.status === 'failed' && job.error && <Typography.Text type="danger">{job.error}</Typography.Text>}
                {ACTIVE.has(job.status) && (
                  <Button size="small" icon={<StopOutlined />} onClick={() => void cancel(job)} data-testid="export-job-cancel">{t('exports.cancel')}</Button>
                )}
                {job.status === 'done' && (
                  <Button size="small" type="primary" icon={<DownloadOutlined />} onClick={() => void download(job)} data-testid="export-job-download">
                    {t('exports.download')}
                  </Button>
                )}
              </Space>
            </li>
          );
        })}
      </ol>
    </Card>
  );
}
