// Self-service signup (F1): company, name, email, password, and the data region when the
// deployment has several (regions.tsx). The api creates the tenant and mails a verification link;
// the new owner is signed in at once.
import { Alert, Button, Form, Input } from 'antd';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, call } from '../../api/client';
import { session } from '../../auth/session';
import { useI18n } from '../../i18n';
import { describe, showFieldErrors } from '../../ui/errors';
import { AuthLayout } from './layout';
import { RegionChoice, regionUrl, useRegions } from './regions';

interface Values {
  company_name: string;
  display_name: string;
  email: string;
  password: string;
}

export function SignupPage() {
  const { t } = useI18n();
  const [form] = Form.useForm<Values>();
  const navigate = useNavigate();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const regions = useRegions();
  const [params] = useSearchParams();
  const [moving, setMoving] = useState<string>();

  /** Another region's console signs up its workspaces: go there with what was typed so far. */
  function elsewhere(name: string) {
    const target = regions?.regions.find((r) => r.name === name);
    if (!target || name === regions?.current) return;
    const typed = form.getFieldsValue(['company_name', 'display_name', 'email']);
    setMoving(target.label);
    window.location.assign(regionUrl(target.app_url, 'signup', { company: typed.company_name, name: typed.display_name, email: typed.email }));
  }

  async function submit(values: Values) {
    setBusy(true);
    setError(undefined);
    try {
      const answer = await call(api.POST('/api/v1/auth/signup', {
        body: { company_name: values.company_name.trim(), display_name: values.display_name.trim(), email: values.email.trim(), password: values.password, token_delivery: 'cookie', region: regions?.current },
      }));
      session.start(answer);
      navigate('/inbox', { replace: true });
    } catch (e) {
      if (!showFieldErrors(form, e, t, ['company_name', 'display_name', 'email', 'password'])) setError(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title={t('signup.title')}>
      <Form<Values> form={form} layout="vertical" onFinish={submit} requiredMark={false}
        initialValues={{ company_name: params.get('company') ?? '', display_name: params.get('name') ?? '', email: params.get('email') ?? '' }}>
        {error && <Alert type="error" title={error} showIcon style={{ marginBottom: 16 }} role="alert" />}
        {moving && <Alert type="info" title={t('signup.regionMoving', { region: moving })} showIcon style={{ marginBottom: 16 }} />}
        {regions && <RegionChoice regions={regions} onElsewhere={elsewhere} />}
        <Form.Item name="company_name" label={t('signup.company')} rules={[{ required: true, max: 120, message: t('field.required') }]}>
          <Input autoComplete="organization" autoFocus />
        </Form.Item>
        <Form.Item name="display_name" label={t('signup.name')} rules={[{ required: true, max: 80, message: t('field.required') }]}>
          <Input autoComplete="name" />
        </Form.Item>
        <Form.Item name="email" label={t('field.email')} rules={[{ required: true, type: 'email', message: t('field.invalid_email') }]}>
          <Input autoComplete="email" />
        </Form.Item>
        <Form.Item name="password" label={t('field.password')} extra={t('signup.passwordRule')}
          rules={[{ required: true, min: 10, max: 128, message: t('signup.passwordRule') }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" block loading={busy}>{t('signup.submit')}</Button>
      </Form>
      <div className="auth-links">
        <Link to="/login">{t('signup.haveAccount')}</Link>
      </div>
    </AuthLayout>
  );
}
