// The banner asking a member to verify their email address, loaded only for those who have not
// (antd's Alert is not in the first download: docs/console.md, "Weight").
import { Alert, Button } from 'antd';
import { useState } from 'react';
import { api, call } from './api/client';
import { useI18n } from './i18n';

export default function VerifyBanner() {
  const { t } = useI18n();
  const [sent, setSent] = useState(false);
  return (
    <Alert type="warning" banner title={t('verify.banner')} data-testid="verify-banner"
      action={<Button size="small" disabled={sent} onClick={() => void call(api.POST('/api/v1/auth/resend-verification')).then(() => setSent(true), () => undefined)}>
        {sent ? t('verify.resent') : t('verify.resend')}
      </Button>} />
  );
}
