// The member's own settings: name and 工号, two-factor sign-in, language, sound and desktop
// notifications.
import { Button, Card, Form, Input, Select, Space, Switch, Typography } from 'antd';
import { useApp } from '../ui/app';
import { useState } from 'react';
import { api, call } from '../api/client';
import { session, type StoredSession } from '../auth/session';
import { LANGS, useI18n } from '../i18n';
import { notifier } from '../state/notify';
import { describe, showFieldErrors } from '../ui/errors';
import { TwoFactorCard } from './two-factor-card';

export function SettingsPage({ session: current }: { session: StoredSession }) {
  const { t, lang, setLang } = useI18n();
  const { message } = useApp();
  const [form] = Form.useForm<{ display_name: string }>();
  const [sound, setSound] = useState(notifier.soundOn());
  const [permission, setPermission] = useState(typeof Notification === 'undefined' ? 'denied' : Notification.permission);

  async function save({ display_name }: { display_name: string }) {
    try {
      await call(api.PATCH('/api/v1/members/{user_id}/profile', { params: { path: { user_id: current.user.id } }, body: { display_name: display_name.trim() } }));
      session.updateUser({ display_name: display_name.trim() });
      message.success(t('common.saved'));
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['display_name'])) message.error(describe(e, t));
    }
  }

  return (
    <Space direction="vertical" size={16} className="page">
      <Card title={t('settings.profile')}>
        <Form form={form} layout="vertical" onFinish={save} initialValues={{ display_name: current.user.display_name }} style={{ maxWidth: 400 }}>
          <Form.Item label={t('field.email')}><Typography.Text>{current.user.email}</Typography.Text></Form.Item>
          <Form.Item name="display_name" label={t('members.name')} rules={[{ required: true, max: 80 }]}><Input /></Form.Item>
          <Button type="primary" htmlType="submit">{t('common.save')}</Button>
        </Form>
      </Card>
      <TwoFactorCard session={current} />
      <Card title={t('settings.preferences')}>
        <Form layout="vertical" style={{ maxWidth: 400 }}>
          <Form.Item label={t('settings.language')}>
            <Select value={lang} onChange={setLang} options={LANGS.map((l) => ({ value: l.lang, label: l.label }))} data-testid="settings-language" />
          </Form.Item>
          <Form.Item label={t('settings.sound')}>
            <Switch checked={sound} onChange={(on) => { notifier.setSound(on); setSound(on); }} />
          </Form.Item>
          <Form.Item label={t('settings.desktop')} extra={permission === 'denied' ? t('settings.desktopDenied') : undefined}>
            {permission === 'granted' ? <Typography.Text type="success">{t('settings.desktopOn')}</Typography.Text> : (
              <Button onClick={() => void notifier.enable().then(setPermission)} disabled={permission === 'denied'}>{t('settings.desktopEnable')}</Button>
            )}
          </Form.Item>
        </Form>
      </Card>
    </Space>
  );
}
