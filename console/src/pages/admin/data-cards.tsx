// The audit page's data cards: retention (docs/retention.md) — how long conversation content is
// kept, within the plan's bound, and what the last daily run deleted and kept (an open
// conversation's old messages are kept, and the card says how many); and the owner's archive of
// the whole workspace (docs/export.md).
import { Button, Card, InputNumber, Space, Switch, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useApp } from '../../ui/app';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { ExportJobs } from '../search-exports';

type View = components['schemas']['RetentionView'];

export function RetentionCard() {
  const { t, lang } = useI18n();
  const { message } = useApp();
  const [view, setView] = useState<View>();
  const [limited, setLimited] = useState(false);
  const [days, setDays] = useState<number | null>(null);
  const [error, setError] = useState<string>();
  const [saving, setSaving] = useState(false);

  const show = (v: View) => {
    setView(v);
    setLimited(v.days != null);
    setDays(v.days ?? v.plan_max_days ?? 365);
  };
  useEffect(() => {
    call(api.GET('/api/v1/retention')).then(show).catch((e) => setError(describe(e, t)));
    // `t` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  async function save() {
    setSaving(true);
    setError(undefined);
    try {
      show(await call(api.PUT('/api/v1/retention', { body: { days: limited ? days : null } })));
      message.success(t('common.saved'));
    } catch (e) {
      const field = e instanceof ApiError ? e.field('days') : undefined;
      setError(field ? field.message : describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  if (!view) return error ? <Typography.Text type="danger">{error}</Typography.Text> : null;
  const last = view.last_run ?? null;
  const when = (iso: string) => new Date(iso).toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
  const plan = view.plan_max_days == null ? t('retention.planUnlimited') : t('retention.planMax', { days: view.plan_max_days });
  return (
    <Card size="small" title={t('retention.title')} data-testid="retention">
      <Space direction="vertical" size={8} style={{ width: '100%' }}>
        <Typography.Text type="secondary">{t('retention.intro')} {plan}</Typography.Text>
        <Space wrap>
          <Switch checked={limited} onChange={setLimited} aria-label={t('retention.limit')} data-testid="retention-limit" />
          <Typography.Text>{t('retention.limit')}</Typography.Text>
          <InputNumber min={1} max={view.plan_max_days ?? 36500} value={days} disabled={!limited} onChange={(v) => setDays(v)}
            addonAfter={t('retention.days')} style={{ width: 160 }} aria-label={t('retention.days')} data-testid="retention-days" />
          <Button type="primary" onClick={() => void save()} loading={saving} data-testid="retention-save">{t('common.save')}</Button>
        </Space>
        {error && <Typography.Text type="danger" data-testid="retention-error">{error}</Typography.Text>}
        <Typography.Text data-testid="retention-effective">
          {view.effective_days != null
            ? t('retention.effective', { days: view.effective_days })
            : view.plan_max_days != null
              ? t('retention.boundLater', { date: when(view.plan_bound_from), days: view.plan_max_days })
              : t('retention.keptForever')}
        </Typography.Text>
        {last && (
          <Typography.Text type="secondary" data-testid="retention-last">
            {last.error
              ? t('retention.lastFailed', { when: when(last.at) })
              : t('retention.last', { when: when(last.at), messages: last.messages, attachments: last.attachments, views: last.page_views })}
            {last.kept_open > 0 && ` ${t('retention.keptOpen', { n: last.kept_open })}`}
          </Typography.Text>
        )}
      </Space>
    </Card>
  );
}

/** The owner's archive of the whole workspace (docs/export.md, "The workspace's archive"). */
export function WorkspaceArchiveCard() {
  const { t } = useI18n();
  const { message } = useApp();
  const [version, setVersion] = useState(0);
  const [asking, setAsking] = useState(false);
  async function start() {
    setAsking(true);
    try {
      await call(api.POST('/api/v1/tenant/export/jobs'));
      message.success(t('exports.queued'));
      setVersion((v) => v + 1);
    } catch (e) {
      message.error(describe(e, t));
    } finally {
      setAsking(false);
    }
  }
  return (
    <Card size="small" title={t('exports.workspace')} data-testid="workspace-archive">
      <Space direction="vertical" size={8} style={{ width: '100%' }}>
        <Typography.Text type="secondary">{t('exports.workspaceIntro')}</Typography.Text>
        <Button onClick={() => void start()} loading={asking} data-testid="workspace-archive-start">{t('exports.workspaceStart')}</Button>
        <ExportJobs kind="tenant" version={version} />
      </Space>
    </Card>
  );
}
