// The FAQ bot (F20): its settings (on/off, the answer threshold, the matcher, its name; admins
// change them, supervisors see them), "test a question" with the scores the bot would see, and
// the knowledge base it answers from (supervisors and up edit, import and export it).
import { Alert, Button, Card, Col, Form, Input, InputNumber, Row, Select, Slider, Switch, Tooltip, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import type { StoredSession } from '../../auth/session';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { atLeast } from '../../ui/roles';
import { BotTestCard } from './bot-test';
import { KnowledgeBase } from './kb-table';

type BotView = components['schemas']['BotView'];
type Settings = Pick<BotView, 'enabled' | 'threshold' | 'matcher' | 'name'>;

/** The threshold as people read it (the api keeps a float: 0.7 comes back as 0.699999…). */
const round2 = (n: number) => Math.round(n * 100) / 100;

export function BotPage({ session }: { session: StoredSession }) {
  const { t } = useI18n();
  const { message } = useApp();
  const [bot, setBot] = useState<BotView>();

  const refresh = useCallback(async () => setBot(await call(api.GET('/api/v1/bot'))), []);
  useEffect(() => {
    refresh().catch((e: unknown) => message.error(describe(e, t)));
  }, [refresh, message, t]);

  return (
    <div className="page bot-page">
      <Typography.Paragraph type="secondary">{t('bot.intro')}</Typography.Paragraph>
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          <SettingsCard bot={bot} admin={atLeast(session.role, 'admin')} onSaved={setBot} />
        </Col>
        <Col xs={24} xl={12}>
          <BotTestCard />
        </Col>
        <Col span={24}>
          <KnowledgeBase full={!!bot && bot.entries >= bot.entry_limit} onChanged={() => void refresh().catch(() => undefined)} />
        </Col>
      </Row>
    </div>
  );
}

interface SettingsProps {
  bot: BotView | undefined;
  admin: boolean;
  onSaved(bot: BotView): void;
}

function SettingsCard({ bot, admin, onSaved }: SettingsProps) {
  const { t } = useI18n();
  const { message } = useApp();
  const [form] = Form.useForm<Settings>();
  const [saving, setSaving] = useState(false);

  // The form follows the saved settings, not the entry count that changes beside it.
  const savedAt = bot?.updated_at;
  useEffect(() => {
    if (bot) form.setFieldsValue({ enabled: bot.enabled, threshold: round2(bot.threshold), matcher: bot.matcher, name: bot.name });
  }, [form, savedAt]);

  async function save(values: Settings) {
    setSaving(true);
    try {
      const saved = await call(api.PUT('/api/v1/bot', {
        body: { enabled: values.enabled, threshold: round2(values.threshold), matcher: values.matcher, name: values.name?.trim() ?? '' },
      }));
      onSaved(saved);
      message.success(t('bot.saved'));
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['enabled', 'threshold', 'matcher', 'name'])) message.error(describe(e, t));
    } finally {
      setSaving(false);
    }
  }

  const semantic = bot?.semantic_available ?? false;
  return (
    <Card title={t('bot.settings')} size="small"
      extra={bot && <Typography.Text type="secondary" data-testid="bot-entries">{t('bot.entries', { count: bot.entries, limit: bot.entry_limit })}</Typography.Text>}>
      {!admin && <Alert type="info" showIcon title={t('bot.adminsOnly')} style={{ marginBottom: 16 }} data-testid="bot-read-only" />}
      <Form form={form} layout="vertical" onFinish={save} disabled={!bot || !admin} data-testid="bot-form">
        <Form.Item name="enabled" label={t('bot.enabled')} valuePropName="checked" extra={t('bot.enabledHelp')}>
          <Switch data-testid="bot-enabled" />
        </Form.Item>
        <Form.Item label={t('bot.threshold')} extra={t('bot.thresholdHelp')} required>
          <div className="bot-threshold">
            <Form.Item name="threshold" noStyle>
              <Slider min={0} max={1} step={0.05} className="bot-threshold-slider" />
            </Form.Item>
            <Form.Item name="threshold" noStyle rules={[{ required: true, type: 'number', min: 0, max: 1 }]}>
              <InputNumber min={0} max={1} step={0.05} precision={2} aria-label={t('bot.threshold')} data-testid="bot-threshold" />
            </Form.Item>
          </div>
        </Form.Item>
        <Form.Item name="matcher" label={t('bot.matcher')} extra={semantic ? undefined : t('bot.semanticUnavailable')}>
          <Select data-testid="bot-matcher" options={[
            { value: 'lexical', label: t('bot.lexical') },
            {
              value: 'semantic',
              disabled: !semantic,
              label: semantic ? t('bot.semantic') : <Tooltip title={t('bot.semanticUnavailable')} placement="right"><span>{t('bot.semantic')}</span></Tooltip>,
            },
          ]} />
        </Form.Item>
        <Form.Item name="name" label={t('bot.name')} extra={t('bot.nameHelp')} rules={[{ max: 60 }]}>
          <Input placeholder={t('bot.namePlaceholder')} maxLength={60} data-testid="bot-name" />
        </Form.Item>
        {admin && <Button type="primary" htmlType="submit" loading={saving} data-testid="bot-save">{t('common.save')}</Button>}
      </Form>
    </Card>
  );
}
