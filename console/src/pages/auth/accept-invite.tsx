// Accepting an invitation (F3): the link's token says which company and role; a new member picks a
// name and password, someone with an account confirms with their password (and their two-factor
// code when they use it). Either way they are signed in to that company — after setting up
// two-factor sign-in when the company requires it.
import { Alert, Button, Descriptions, Form, Input, Result, Spin } from 'antd';
import { lazy, Suspense, useEffect, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { ApiError, api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { session, type SessionResponse } from '../../auth/session';
import { useI18n, withWords } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { AuthLayout } from './layout';

const AuthenticatorSetup = lazy(() => withWords(['settings'], import('./two-factor-setup')).then((m) => ({ default: m.AuthenticatorSetup })));
const RecoveryCodes = lazy(() => withWords(['settings'], import('./two-factor-setup')).then((m) => ({ default: m.RecoveryCodes })));

type Lookup = components['schemas']['InvitationLookup'];
type Values = { display_name?: string; password: string; two_factor_code?: string };

export function AcceptInvitePage() {
  const { t } = useI18n();
  const [form] = Form.useForm<Values>();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [lookup, setLookup] = useState<Lookup>();
  const [failed, setFailed] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [askCode, setAskCode] = useState(false);
  /** Joined a company that requires two-factor sign-in: set it up with this password, then sign in. */
  const [setupWith, setSetupWith] = useState<string>();
  const [codes, setCodes] = useState<SessionResponse>();

  useEffect(() => {
    call(api.GET('/api/v1/invitations/lookup', { params: { query: { token } } }))
      .then((found) => setLookup(found))
      .catch((e: unknown) => setFailed(describe(e, t)));
    // Once per token: after accepting, the token is spent and a second lookup would fail.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token]);

  function enter(answer: SessionResponse) {
    session.start(answer);
    navigate('/inbox', { replace: true });
  }

  async function submit(values: Values) {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await call(api.POST('/api/v1/invitations/accept', {
        body: {
          token, password: values.password, display_name: values.display_name?.trim() || null, token_delivery: 'cookie',
          two_factor_code: values.two_factor_code?.trim() || null,
        },
      }));
      enter(answer);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'two_factor_required') setAskCode(true);
      else if (e instanceof ApiError && e.code === 'two_factor_setup_required') setSetupWith(values.password);
      else if (!showFieldErrors(form, e, t, ['display_name', 'password'])) setError(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  /** After joining: the new authenticator's first code signs in to the company. */
  async function signInWith(code: string) {
    if (!lookup || setupWith === undefined) return;
    const answer = await call(api.POST('/api/v1/auth/login', {
      body: { email: lookup.email, password: setupWith, tenant: lookup.tenant_slug, token_delivery: 'cookie', two_factor_code: code },
    }));
    if (answer.recovery_codes?.length) setCodes(answer);
    else enter(answer);
  }

  if (codes) {
    return (
      <AuthLayout title={t('login.twoFactorSetupTitle')}>
        <Suspense fallback={<Spin />}><RecoveryCodes codes={codes.recovery_codes ?? []} onDone={() => enter(codes)} /></Suspense>
      </AuthLayout>
    );
  }

  if (lookup && setupWith !== undefined) {
    return (
      <AuthLayout title={t('login.twoFactorSetupTitle')}>
        <Alert type="info" title={t('login.twoFactorSetupRequired')} showIcon style={{ marginBottom: 16 }} />
        <Suspense fallback={<Spin />}><AuthenticatorSetup email={lookup.email} password={setupWith} onCode={signInWith} /></Suspense>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title={t('invite.title')}>
      {!lookup && !failed && <Spin />}
      {failed && <Result status="error" title={t('invite.invalid')} subTitle={failed} />}
      {lookup && (
        <>
          <Descriptions column={1} size="small" style={{ marginBottom: 16 }}
            items={[
              { key: 'company', label: t('invite.company'), children: lookup.company_name },
              { key: 'email', label: t('field.email'), children: lookup.email },
              { key: 'role', label: t('members.role'), children: t(`role.${lookup.role}` as 'role.agent') },
            ]} />
          <Form form={form} layout="vertical" onFinish={submit} requiredMark={false}>
            {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} />}
            {!lookup.account_exists && (
              <Form.Item name="display_name" label={t('signup.name')} rules={[{ required: true, max: 80, message: t('field.required') }]}>
                <Input autoComplete="name" autoFocus />
              </Form.Item>
            )}
            <Form.Item name="password" label={lookup.account_exists ? t('invite.existingPassword') : t('field.password')}
              extra={lookup.account_exists ? undefined : t('signup.passwordRule')}
              rules={[{ required: true, message: t('field.required') }]}>
              <Input.Password autoComplete={lookup.account_exists ? 'current-password' : 'new-password'} />
            </Form.Item>
            {askCode && (
              <Form.Item name="two_factor_code" label={t('login.twoFactorCode')} extra={t('login.twoFactorHelp')} rules={[{ required: true, message: t('field.required') }]}>
                <Input autoComplete="one-time-code" autoFocus maxLength={40} data-testid="two-factor-code" />
              </Form.Item>
            )}
            <Button type="primary" htmlType="submit" block loading={busy}>{t('invite.accept')}</Button>
          </Form>
        </>
      )}
    </AuthLayout>
  );
}
