// Log in; when the account belongs to several companies, pick one (the api lists their slugs).
import { Alert, Button, Form, Input } from 'antd';
import { useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { ApiError, api, call } from '../../api/client';
import { session } from '../../auth/session';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { AuthLayout } from './layout';

interface Values {
  email: string;
  password: string;
  tenant?: string;
}

export function LoginPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<string>();
  const [tenants, setTenants] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(values: Values) {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await call(api.POST('/api/v1/auth/login', { body: { email: values.email.trim(), password: values.password, tenant: values.tenant ?? null } }));
      session.start(answer);
      const back = (location.state as { from?: string } | null)?.from;
      navigate(back && back !== '/login' ? back : '/inbox', { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.code === 'tenant_selection_required') {
        // The detail lists the companies' slugs.
        setTenants(true);
        setError(`${t('login.pickTenant')} ${e.message}`);
      } else {
        setError(describe(e, t));
      }
    } finally {
      setBusy(false);
    }
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
    </AuthLayout>
  );
}
