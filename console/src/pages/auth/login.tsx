// Log in; when the account belongs to several companies, pick one (the api lists their slugs).
// With two-factor sign-in, a second step asks for the authenticator's code (or a recovery code);
// a company that requires it and an account without it set it up here, then keep the recovery
// codes before going in.
import { Alert, Button, Form, Input, Spin } from 'antd';
import { lazy, Suspense, useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { ApiError, api, call } from '../../api/client';
import { session, type SessionResponse } from '../../auth/session';
import { useI18n, withWords } from '../../i18n';
import { describe } from '../../ui/errors';
import { AuthLayout } from './layout';
import { OtherRegions, useRegions } from './regions';

const AuthenticatorSetup = lazy(() => withWords(['settings'], import('./two-factor-setup')).then((m) => ({ default: m.AuthenticatorSetup })));
const RecoveryCodes = lazy(() => withWords(['settings'], import('./two-factor-setup')).then((m) => ({ default: m.RecoveryCodes })));

interface Values {
  email: string;
  password: string;
  tenant?: string;
}

type Step = { kind: 'password' } | { kind: 'code' } | { kind: 'setup' } | { kind: 'codes'; answer: SessionResponse };

export function LoginPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<string>();
  const [tenants, setTenants] = useState(false);
  const [busy, setBusy] = useState(false);
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [credentials, setCredentials] = useState<Values>();
  const regions = useRegions();

  function enter(answer: SessionResponse) {
    session.start(answer);
    const back = (location.state as { from?: string } | null)?.from;
    navigate(back && back !== '/login' ? back : '/inbox', { replace: true });
  }

  /** Signs in; the second step's code when there is one. Throws the api's refusal. */
  async function signIn(values: Values, code?: string) {
    const answer = await call(api.POST('/api/v1/auth/login', {
      body: { email: values.email.trim(), password: values.password, tenant: values.tenant ?? null, token_delivery: 'cookie', two_factor_code: code ?? null },
    }));
    if (answer.recovery_codes?.length) setStep({ kind: 'codes', answer });
    else enter(answer);
  }

  async function submit(values: Values) {
    setBusy(true);
    setError(undefined);
    setCredentials(values);
    try {
      await signIn(values);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'tenant_selection_required') {
        // The detail lists the companies' slugs.
        setTenants(true);
        setError(`${t('login.pickTenant')} ${e.message}`);
      } else if (e instanceof ApiError && e.code === 'two_factor_required') {
        setStep({ kind: 'code' });
      } else if (e instanceof ApiError && e.code === 'two_factor_setup_required') {
        setStep({ kind: 'setup' });
      } else {
        setError(describe(e, t));
      }
    } finally {
      setBusy(false);
    }
  }

  async function submitCode({ code }: { code: string }) {
    if (!credentials) return;
    setBusy(true);
    setError(undefined);
    try {
      await signIn(credentials, code.trim());
    } catch (e) {
      setError(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  if (step.kind === 'code') {
    return (
      <AuthLayout title={t('login.twoFactorTitle')}>
        <Form layout="vertical" onFinish={submitCode} requiredMark={false}>
          {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} role="alert" />}
          <Form.Item name="code" label={t('login.twoFactorCode')} extra={t('login.twoFactorHelp')} rules={[{ required: true, message: t('field.required') }]}>
            <Input autoComplete="one-time-code" autoFocus maxLength={40} data-testid="two-factor-code" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy}>{t('login.verify')}</Button>
        </Form>
        <div className="auth-links">
          <Button type="link" onClick={() => { setStep({ kind: 'password' }); setError(undefined); }}>{t('login.back')}</Button>
        </div>
      </AuthLayout>
    );
  }

  if (step.kind === 'setup' && credentials) {
    return (
      <AuthLayout title={t('login.twoFactorSetupTitle')}>
        <Alert type="info" title={t('login.twoFactorSetupRequired')} showIcon style={{ marginBottom: 16 }} />
        <Suspense fallback={<Spin />}>
          <AuthenticatorSetup email={credentials.email.trim()} password={credentials.password} onCode={(code) => signIn(credentials, code)} />
        </Suspense>
      </AuthLayout>
    );
  }

  if (step.kind === 'codes') {
    return (
      <AuthLayout title={t('login.twoFactorSetupTitle')}>
        <Suspense fallback={<Spin />}>
          <RecoveryCodes codes={step.answer.recovery_codes ?? []} onDone={() => enter(step.answer)} />
        </Suspense>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title={t('login.title')}>
      <Form<Values> layout="vertical" onFinish={submit} requiredMark={false}>
        {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} role="alert" />}
        <Form.Item name="email" label={t('field.email')} rules={[{ required: true, type: 'email', message: t('field.invalid_email') }]}>
          <Input autoComplete="username" autoFocus />
        </Form.Item>
        <Form.Item name="password" label={t('field.password')} rules={[{ required: true, message: t('field.required') }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        {tenants && (
          <Form.Item name="tenant" label={t('login.tenant')} rules={[{ required: true, message: t('field.required') }]}>
            <Input />
          </Form.Item>
        )}
        <Button type="primary" htmlType="submit" block loading={busy}>{t('login.submit')}</Button>
      </Form>
      <div className="auth-links">
        <Link to="/forgot-password">{t('login.forgot')}</Link>
        <Link to="/signup">{t('login.signup')}</Link>
      </div>
      <OtherRegions regions={regions} />
    </AuthLayout>
  );
}
