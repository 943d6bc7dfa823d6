// The auto-close part of the service hours form: whether idle conversations close, after how many
// minutes, and the closing message per language (api/src/hours/auto_close.rs).
import { Card, Col, Form, Input, InputNumber, Row, Switch, Typography } from 'antd';
import { LANGS, useI18n } from '../../i18n';
import { MAX_CLOSE_MINUTES, MAX_REPLY, MIN_CLOSE_MINUTES, REPLY_LANGUAGES } from './hours-form';

export function AutoCloseCard() {
  const { t } = useI18n();
  return (
    <Card title={t('hours.autoClose')} size="small" data-testid="hours-auto-close">
      <Typography.Paragraph type="secondary">{t('hours.autoCloseHelp')}</Typography.Paragraph>
      <Row gutter={[32, 8]}>
        <Col xs={24} lg={8}>
          <Form.Item name={['autoClose', 'enabled']} label={t('hours.autoCloseEnabled')} valuePropName="checked">
            <Switch data-testid="hours-auto-close-enabled" />
          </Form.Item>
          <Form.Item name={['autoClose', 'after_minutes']} label={t('hours.autoCloseAfter')}
            rules={[{ type: 'number', min: MIN_CLOSE_MINUTES, max: MAX_CLOSE_MINUTES, message: t('hours.problem.closeMinutes') }]}>
            <InputNumber min={MIN_CLOSE_MINUTES} max={MAX_CLOSE_MINUTES} addonAfter={t('hours.minutes')}
              data-testid="hours-auto-close-minutes" />
          </Form.Item>
        </Col>
        <Col xs={24} lg={16}>
          {REPLY_LANGUAGES.map((language) => (
            <Form.Item key={language} name={['autoClose', 'texts', language]}
              label={`${t('hours.autoCloseMessage')} · ${LANGS.find((l) => l.lang === language)?.label ?? language}`}
              rules={[{ max: MAX_REPLY, message: t('hours.problem.tooLong') }]}>
              <Input.TextArea autoSize={{ minRows: 2, maxRows: 4 }} maxLength={MAX_REPLY} showCount />
            </Form.Item>
          ))}
        </Col>
      </Row>
    </Card>
  );
}
