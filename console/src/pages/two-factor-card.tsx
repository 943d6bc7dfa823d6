// The member's two-factor sign-in on their settings page: its state, turning it on (password, QR
// code, first code, recovery codes), new recovery codes, and turning it off (refused while a
// company of theirs requires it).
import { Alert, Button, Card, Form, Input, Modal, Space, Tag, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../api/client';
import type { components } from '../api/schema';
import type { StoredSession } from '../auth/session';
import { useI18n } from '../i18n';
import { useApp } from '../ui/app';
import { describe } from '../ui/errors';
import { AuthenticatorSetup, RecoveryCodes } from './auth/two-factor-setup';

type Status = components['schemas']['TwoFactorStatus'];
/** What the open dialog does with the password it asks for. */
type Asking = 'enable' | 'codes' | 'disable';

export function TwoFactorCard({ session: current }: { session: StoredSession }) {
  const { t } = useI18n();
  const { message } = useApp();
  const [status, setStatus] = useState<Status>();
  const [asking, setAsking] = useState<Asking>();
  const [setupPassword, setSetupPassword] = useState<string>();
  const [codes, setCodes] = useState<string[]>();
  const [error, setError] = useState<string>();
  const [form] = Form.useForm<{ password: string }>();

  const load = useCallback(async () => setStatus(await call(api.GET('/api/v1/me/two-factor'))), []);
  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  function close() {
    setAsking(undefined);
    setSetupPassword(undefined);
    setCodes(undefined);
    setError(undefined);
    form.resetFields();
    void load();
  }

  async function withPassword({ password }: { password: string }) {
    setError(undefined);
    try {
      if (asking === 'enable') {
        setSetupPassword(password);
      } else if (asking === 'codes') {
        setCodes((await call(api.POST('/api/v1/me/two-factor/recovery-codes', { body: { password } }))).codes);
      } else if (asking === 'disable') {
        await call(api.POST('/api/v1/me/two-factor/disable', { body: { password } }));
        message.success(t('settings.twoFactorDisabled'));
        close();
      }
    } catch (e) {
      setError(describe(e, t));
    }
  }

  async function confirm(code: string) {
    const answer = await call(api.POST('/api/v1/me/two-factor/confirm', { body: { code } }));
    setSetupPassword(undefined);
    setCodes(answer.codes);
    message.success(t('settings.twoFactorEnabled'));
  }

  const required = status?.required_by ?? [];
  return (
    <Card title={t('settings.twoFactor')} data-testid="two-factor-card"
      extra={status && <Tag color={status.enabled ? 'green' : 'default'}>{status.enabled ? t('settings.twoFactorOnTag') : t('settings.twoFactorOffTag')}</Tag>}>
      {status && (
        <Space direction="vertical" size={12}>
          <Typography.Text>{status.enabled ? t('settings.twoFactorOn') : t('settings.twoFactorOff')}</Typography.Text>
          {status.enabled && <Typography.Text type="secondary">{t('settings.recoveryLeft', { count: status.recovery_codes_left })}</Typography.Text>}
          {required.length > 0 && <Alert type="info" showIcon title={t('settings.twoFactorRequiredBy', { companies: required.join(', ') })} />}
          <Space wrap>
            {!status.enabled && <Button type="primary" onClick={() => setAsking('enable')} data-testid="two-factor-enable">{t('settings.twoFactorEnable')}</Button>}
            {status.enabled && <Button onClick={() => setAsking('codes')}>{t('settings.newRecoveryCodes')}</Button>}
            {status.enabled && <Button danger disabled={required.length > 0} onClick={() => setAsking('disable')}>{t('settings.twoFactorDisable')}</Button>}
          </Space>
        </Space>
      )}
      <Modal open={asking !== undefined} title={t('settings.twoFactor')} footer={null} onCancel={close} destroyOnHidden>
        {codes ? (
          <RecoveryCodes codes={codes} onDone={close} />
        ) : setupPassword !== undefined ? (
          <AuthenticatorSetup email={current.user.email} password={setupPassword} onCode={confirm} />
        ) : (
          <Form form={form} layout="vertical" onFinish={withPassword} requiredMark={false}>
            {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} role="alert" />}
            <Form.Item name="password" label={t('settings.confirmPassword')} rules={[{ required: true, message: t('field.required') }]}>
              <Input.Password autoComplete="current-password" autoFocus data-testid="two-factor-password" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block danger={asking === 'disable'}>
              {asking === 'disable' ? t('settings.twoFactorDisable') : t('settings.continue')}
            </Button>
          </Form>
        )}
      </Modal>
    </Card>
  );
}
