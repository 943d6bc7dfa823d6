// Service hours (F21): when the team answers (business hours in a time zone: a weekly schedule
// and special days such as holidays) and the automatic replies sent on its behalf (a greeting
// while it answers, an away message while it does not). Admins edit them; saving reaches waiting
// visitors at once. Above the form, what the saved hours say now; a save over someone else's is
// refused (409) and offered a reload.
import { Alert, Button, Card, Form, Switch, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { browserZone, byDate, fieldPath, instantLabel, localTimeLabel, problemKey, toDocument, toForm, type FieldPath, type HoursForm } from './hours-form';
import { AutoCloseCard } from './hours-close';
import { AutoRepliesCard } from './hours-replies';
import { BusinessHoursFields } from './hours-schedule';

type View = components['schemas']['ServiceHoursView'];

/** What was last read or saved: the version to save over, and what it says now. */
interface Saved {
  version: number;
  now: View['now'];
  zone: string | null;
}

function savedOf(view: View): Saved {
  return { version: view.version, now: view.now ?? null, zone: view.service_hours.business_hours?.timezone ?? null };
}

export function HoursPage() {
  const { t } = useI18n();
  const { message } = useApp();
  // Untyped: the api's errors land on paths computed at run time (`fieldPath`).
  const [form] = Form.useForm();
  const [saved, setSaved] = useState<Saved>();
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  // Fields the api's errors were put on, cleared before the next save.
  const marked = useRef<FieldPath[]>([]);
  const enabled = Form.useWatch('enabled', form) as boolean | undefined;

  const show = useCallback((view: View) => {
    form.resetFields();
    form.setFieldsValue(toForm(view.service_hours, browserZone()));
    marked.current = [];
    setSaved(savedOf(view));
    setConflict(false);
    setProblems([]);
  }, [form]);

  const load = useCallback(async () => show(await call(api.GET('/api/v1/service-hours'))), [show]);

  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  // "Now" moves with the clock: re-read it every minute (the form is left as it is).
  useEffect(() => {
    const timer = setInterval(() => {
      call(api.GET('/api/v1/service-hours'))
        .then((view) => setSaved((s) => s && { ...s, now: view.now ?? null, zone: savedOf(view).zone }))
        .catch(() => undefined);
    }, 60_000);
    return () => clearInterval(timer);
  }, []);

  async function save() {
    if (!saved) return;
    const values = form.getFieldsValue(true) as HoursForm;
    // Saved in date order; the rows follow, so the api's errors name the rows as shown.
    const sent: HoursForm = { ...values, special: byDate(values.special ?? []) };
    form.setFields([...marked.current.map((name) => ({ name, errors: [] })), { name: 'special', value: sent.special }]);
    marked.current = [];
    setProblems([]);
    setSaving(true);
    try {
      const view = await call(api.PUT('/api/v1/service-hours', { body: { service_hours: toDocument(sent), version: saved.version } }));
      show(view);
      message.success(t('hours.saved'));
    } catch (e) {
      if (e instanceof ApiError && e.code === 'version_conflict') {
        setConflict(true);
        message.error(t('hours.conflict'));
      }
      else if (e instanceof ApiError && e.fields.length > 0) place(e, sent);
      else message.error(describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  /** Puts the api's field errors on their fields; the others are listed above the form. */
  function place(error: ApiError, sent: HoursForm) {
    const onFields = new Map<string, { name: FieldPath; errors: string[] }>();
    const listed: string[] = [];
    for (const f of error.fields) {
      const key = problemKey(f.field, f.code);
      const path = fieldPath(f.field, sent);
      if (!path) {
        listed.push(key ? t(key) : `${f.field.replace(/^service_hours\./, '')}: ${f.message}`);
        continue;
      }
      const at = onFields.get(path.join('.')) ?? { name: path, errors: [] };
      at.errors.push(key ? t(key) : f.message);
      onFields.set(path.join('.'), at);
    }
    const fields = [...onFields.values()];
    form.setFields(fields);
    marked.current = fields.map((f) => f.name);
    setProblems(listed);
    if (fields[0]) {
      message.error(t('hours.fixFields'));
      form.scrollToField(fields[0].name, { block: 'center' });
    } else message.error(t('hours.invalid'));
  }

  return (
    <div className="page hours-page">
      <Typography.Paragraph type="secondary" className="hours-intro">{t('hours.intro')}</Typography.Paragraph>
      {saved && <NowLine saved={saved} />}
      {conflict && (
        <Alert type="error" showIcon title={t('hours.conflict')} data-testid="hours-conflict"
          action={<Button size="small" onClick={() => void load().catch((e: unknown) => message.error(describe(e, t)))}>{t('hours.reload')}</Button>} />
      )}
      {problems.length > 0 && (
        <Alert type="error" showIcon title={t('hours.invalid')} data-testid="hours-problems"
          description={<ul className="problems">{problems.map((p) => <li key={p}>{p}</li>)}</ul>} />
      )}
      <Form form={form} layout="vertical" onFinish={() => void save()} disabled={!saved} className="hours-form" data-testid="hours-form">
        <Card title={t('hours.businessHours')} size="small">
          <Form.Item name="enabled" label={t('hours.enabled')} valuePropName="checked" extra={t('hours.enabledHelp')}>
            <Switch data-testid="hours-enabled" />
          </Form.Item>
          {enabled && <BusinessHoursFields />}
        </Card>
        <AutoRepliesCard />
        <AutoCloseCard />
        <div>
          {/* Not a submit button: Enter in a date or a time search must not save the form. */}
          <Button type="primary" onClick={() => form.submit()} loading={saving} data-testid="hours-save">{t('common.save')}</Button>
        </div>
      </Form>
    </div>
  );
}

/** What the saved hours say now: open (their local time), or closed and when they open. */
function NowLine({ saved }: { saved: Saved }) {
  const { t, lang } = useI18n();
  const now = saved.now;
  if (!now) return <Alert type="info" showIcon title={t('hours.nowAlways')} data-testid="hours-now" data-open="always" />;
  const zone = saved.zone ?? 'UTC';
  const title = now.open
    ? t('hours.openNow', { time: localTimeLabel(now.local_time, lang) })
    : now.opens_at
      ? t('hours.closedNow', { when: instantLabel(now.opens_at, lang, zone) })
      : t('hours.closedLong');
  return (
    <Alert type={now.open ? 'success' : 'warning'} showIcon title={title} description={t('hours.nowHelp', { zone })}
      data-testid="hours-now" data-open={String(now.open)} />
  );
}
