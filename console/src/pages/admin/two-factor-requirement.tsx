// Whether every member must use two-factor sign-in (F31), on the members page. Turning it on signs
// out the members without it (they set it up at their next sign-in), so it says how many first;
// the api refuses it to an admin who does not use two-factor sign-in themself.
import { Card, Modal, Space, Switch, Typography } from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { useApp } from '../../ui/app';
import { describe } from '../../ui/errors';

type MemberRow = components['schemas']['MemberView'];

export function TwoFactorRequirement({ members, onChanged }: { members: MemberRow[]; onChanged: () => void }) {
  const { t } = useI18n();
  const { message } = useApp();
  const [required, setRequired] = useState<boolean>();
  const [busy, setBusy] = useState(false);
  const without = members.filter((m) => !m.two_factor).length;

  const load = useCallback(async () => setRequired((await call(api.GET('/api/v1/tenant'))).require_two_factor), []);
  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  async function change(next: boolean) {
    setBusy(true);
    try {
      const tenant = await call(api.PATCH('/api/v1/tenant', { body: { require_two_factor: next } }));
      setRequired(tenant.require_two_factor);
      message.success(t('common.saved'));
      onChanged();
    } catch (e) {
      message.error(describe(e, t));
    } finally {
      setBusy(false);
    }
  }

  function toggle(next: boolean) {
    if (next && without > 0) {
      Modal.confirm({
        title: t('members.requireTwoFactor'),
        content: t('members.requireTwoFactorConfirm', { count: without }),
        okText: t('members.requireTwoFactorOk'),
        cancelText: t('common.cancel'),
        onOk: () => change(true),
      });
    } else {
      void change(next);
    }
  }

  return (
    <Card title={t('members.security')}>
      <Space direction="vertical" size={8}>
        <Space>
          <Switch checked={required ?? false} loading={busy || required === undefined} onChange={toggle} data-testid="require-two-factor" />
          <Typography.Text>{t('members.requireTwoFactor')}</Typography.Text>
        </Space>
        <Typography.Text type="secondary">{t('members.requireTwoFactorHelp')}</Typography.Text>
      </Space>
    </Card>
  );
}
