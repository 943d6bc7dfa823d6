// Setting up two-factor sign-in (F31): the authenticator's QR code and key, its first code, and
// the recovery codes shown once. Used by the settings page, and lazily (with the settings words)
// by the sign-in and invitation pages when a workspace requires it.
import { Alert, Button, Flex, Form, Input, QRCode, Space, Spin, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';

interface SetupProps {
  email: string;
  password: string;
  /** Proves the authenticator with its first code (the caller signs in or confirms with it);
   *  rejects with the api's error, shown here. */
  onCode: (code: string) => Promise<void>;
}

/** Starts setting up an authenticator, shows what to scan, and takes its first code. */
export function AuthenticatorSetup({ email, password, onCode }: SetupProps) {
  const { t } = useI18n();
  const [setup, setSetup] = useState<{ otpauth_uri: string; secret: string }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call(api.POST('/api/v1/auth/two-factor/setup', { body: { email, password } }))
      .then(setSetup)
      .catch((e: unknown) => setError(describe(e, t)));
    // Once per account: a new setup replaces the key just scanned.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [email, password]);

  async function submit({ code }: { code: string }) {
    setBusy(true);
    setError(undefined);
    try {
      await onCode(code.trim());
    } catch (e) {
      setError(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="two-factor-setup">
      <Typography.Paragraph>{t('twoFactor.scan')}</Typography.Paragraph>
      {error && <Alert type="error" title={error} showIcon role="alert" />}
      {!setup && !error && <Spin />}
      {setup && (
        <>
          <Flex justify="center"><QRCode value={setup.otpauth_uri} size={176} bordered={false} /></Flex>
          <Typography.Text type="secondary">{t('twoFactor.key')}</Typography.Text>
          <Typography.Text code copyable data-testid="two-factor-secret" style={{ wordBreak: 'break-all' }}>{setup.secret}</Typography.Text>
          <Form layout="vertical" onFinish={submit} requiredMark={false}>
            <Form.Item name="code" label={t('twoFactor.firstCode')} rules={[{ required: true, pattern: /^\s*\d{3}\s?\d{3}\s*$/, message: t('twoFactor.sixDigits') }]}>
              <Input inputMode="numeric" autoComplete="one-time-code" maxLength={7} autoFocus data-testid="two-factor-first-code" />
            </Form.Item>
            <Button type="primary" htmlType="submit" block loading={busy}>{t('twoFactor.turnOn')}</Button>
          </Form>
        </>
      )}
    </Space>
  );
}

/** The recovery codes, shown once: copy, download, then go on. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const text = codes.join('\n');
  function download() {
    const url = URL.createObjectURL(new Blob([`${text}\n`], { type: 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = 'kefu-recovery-codes.txt';
    link.click();
    URL.revokeObjectURL(url);
  }
  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }} data-testid="recovery-codes">
      <Typography.Title level={5} style={{ margin: 0 }}>{t('twoFactor.recoveryTitle')}</Typography.Title>
      <Typography.Paragraph>{t('twoFactor.recoveryHelp')}</Typography.Paragraph>
      <pre className="recovery-codes">{text}</pre>
      <Space>
        <Typography.Text copyable={{ text, tooltips: false }}>{t('twoFactor.copy')}</Typography.Text>
        <Button onClick={download}>{t('twoFactor.download')}</Button>
      </Space>
      <Button type="primary" block onClick={onDone} data-testid="recovery-codes-saved">{t('twoFactor.saved')}</Button>
    </Space>
  );
}
