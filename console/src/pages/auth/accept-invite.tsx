// Accepting an invitation (F3): the link's token says which company and role; a new member picks a
// name and password, someone with an account confirms with their password. Either way they are
// signed in to that company.
import { Alert, Button, Descriptions, Form, Input, Result, Spin } from 'antd';
import { useEffect, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { session } from '../../auth/session';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { AuthLayout } from './layout';

type Lookup = components['schemas']['InvitationLookup'];

export function AcceptInvitePage() {
  const { t } = useI18n();
  const [form] = Form.useForm<{ display_name?: string; password: string }>();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [lookup, setLookup] = useState<Lookup>();
  const [failed, setFailed] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call(api.GET('/api/v1/invitations/lookup', { params: { query: { token } } }))
      .then((found) => setLookup(found))
      .catch((e: unknown) => setFailed(describe(e, t)));
    // Once per token: after accepting, the token is spent and a second lookup would fail.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token]);

  async function submit(values: { display_name?: string; password: string }) {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await call(api.POST('/api/v1/invitations/accept', {
        body: { token, password: values.password, display_name: values.display_name?.trim() || null, token_delivery: 'cookie' },
      }));
      session.start(answer);
      navigate('/inbox', { replace: true });
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['display_name', 'password'])) setError(describe(e, t));
    } finally {
      setBusy(false);
    }
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
            <Button type="primary" htmlType="submit" block loading={busy}>{t('invite.accept')}</Button>
          </Form>
        </>
      )}
    </AuthLayout>
  );
}
