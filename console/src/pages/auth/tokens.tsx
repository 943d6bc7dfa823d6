// Pages reached from mailed links (verify email, reset password) and the forgotten-password form.
import { Alert, Button, Form, Input, Result, Spin } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, call } from '../../api/client';
import { session } from '../../auth/session';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { AuthLayout } from './layout';

export function VerifyEmailPage() {
  const { t } = useI18n();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [outcome, setOutcome] = useState<{ ok: boolean; text?: string }>();
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    call(api.POST('/api/v1/auth/verify-email', { body: { token } }))
      .then(() => {
        session.updateUser({ email_verified: true });
        setOutcome({ ok: true });
      })
      .catch((e: unknown) => setOutcome({ ok: false, text: describe(e, t) }));
  }, [token, t]);

  return (
    <AuthLayout title={t('verify.title')}>
      {!outcome && <Spin />}
      {outcome?.ok && (
        <Result status="success" title={t('verify.done')}
          extra={<Link to={session.current() ? '/inbox' : '/login'}><Button type="primary">{t('verify.continue')}</Button></Link>} />
      )}
      {outcome && !outcome.ok && <Result status="error" title={t('verify.failed')} subTitle={outcome.text} />}
    </AuthLayout>
  );
}

export function ForgotPasswordPage() {
  const { t } = useI18n();
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit({ email }: { email: string }) {
    setBusy(true);
    setError(undefined);
    try {
      await call(api.POST('/api/v1/auth/password-reset', { body: { email: email.trim() } }));
      setSent(true);
    } catch (e) {
      setError(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title={t('forgot.title')}>
      {sent ? (
        <Result status="info" title={t('forgot.sent')} extra={<Link to="/login">{t('forgot.back')}</Link>} />
      ) : (
        <Form layout="vertical" onFinish={submit} requiredMark={false}>
          {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} />}
          <Form.Item name="email" label={t('field.email')} rules={[{ required: true, type: 'email', message: t('field.invalid_email') }]}>
            <Input autoComplete="email" autoFocus />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy}>{t('forgot.submit')}</Button>
          <div className="auth-links"><Link to="/login">{t('forgot.back')}</Link></div>
        </Form>
      )}
    </AuthLayout>
  );
}

export function ResetPasswordPage() {
  const { t } = useI18n();
  const [form] = Form.useForm<{ password: string }>();
  const [params] = useSearchParams();
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit({ password }: { password: string }) {
    setBusy(true);
    setError(undefined);
    try {
      await call(api.POST('/api/v1/auth/password-reset/confirm', { body: { token: params.get('token') ?? '', password } }));
      session.expire();
      setDone(true);
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['password'])) setError(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title={t('reset.title')}>
      {done ? (
        <Result status="success" title={t('reset.done')} extra={<Link to="/login"><Button type="primary">{t('login.submit')}</Button></Link>} />
      ) : (
        <Form form={form} layout="vertical" onFinish={submit} requiredMark={false}>
          {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} />}
          <Form.Item name="password" label={t('reset.password')} extra={t('signup.passwordRule')}
            rules={[{ required: true, min: 10, max: 128, message: t('signup.passwordRule') }]}>
            <Input.Password autoComplete="new-password" autoFocus />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy}>{t('reset.submit')}</Button>
        </Form>
      )}
    </AuthLayout>
  );
}
