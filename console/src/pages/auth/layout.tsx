// The frame of the signed-out pages: a centred card with the product name and a language switch.
import { Card, Flex, Select, Typography } from 'antd';
import type { ReactNode } from 'react';
import { LANGS, useI18n } from '../../i18n';

export function AuthLayout({ title, children }: { title: string; children: ReactNode }) {
  const { lang, setLang } = useI18n();
  return (
    <Flex className="auth-page" vertical align="center" justify="center">
      <Card className="auth-card" title={<Typography.Title level={3} style={{ margin: 0 }}>{title}</Typography.Title>}
        extra={<Select size="small" value={lang} onChange={setLang} aria-label="Language" options={LANGS.map((l) => ({ value: l.lang, label: l.label }))} />}>
        {children}
      </Card>
      <Typography.Text type="secondary" className="auth-brand">Kefu 客服</Typography.Text>
    </Flex>
  );
}
