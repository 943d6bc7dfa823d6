// The automatic replies of the service hours form: the greeting and the away message, each on or
// off with its text per language, and when each is sent (api/src/hours/auto_reply.rs).
import { Card, Col, Form, Input, Row, Switch, Typography } from 'antd';
import { LANGS, useI18n } from '../../i18n';
import { MAX_REPLY, REPLY_LANGUAGES } from './hours-form';

export function AutoRepliesCard() {
  const { t } = useI18n();
  return (
    <Card title={t('hours.replies')} size="small">
      <Typography.Paragraph type="secondary">{t('hours.repliesHelp')}</Typography.Paragraph>
      <Row gutter={[32, 8]}>
        <Col xs={24} lg={12}>
          <ReplyFields name="greeting" title={t('hours.greeting')} help={t('hours.greetingHelp')} />
        </Col>
        <Col xs={24} lg={12}>
          <ReplyFields name="away" title={t('hours.away')} help={t('hours.awayHelp')} />
        </Col>
      </Row>
    </Card>
  );
}

function ReplyFields({ name, title, help }: { name: 'greeting' | 'away'; title: string; help: string }) {
  const { t } = useI18n();
  return (
    <section className="hours-reply" data-testid={`hours-${name}`}>
      <div className="hours-reply-head">
        <Typography.Text strong>{title}</Typography.Text>
        <Form.Item name={[name, 'enabled']} valuePropName="checked" noStyle>
          <Switch size="small" aria-label={`${title}: ${t('hours.send')}`} data-testid={`hours-${name}-enabled`} />
        </Form.Item>
      </div>
      <Typography.Paragraph type="secondary" className="hours-reply-help">{help}</Typography.Paragraph>
      {REPLY_LANGUAGES.map((language, i) => (
        <Form.Item key={language} name={[name, 'texts', language]} label={LANGS.find((l) => l.lang === language)?.label ?? language}
          dependencies={i === 0 ? [[name, 'enabled'], [name, 'texts', REPLY_LANGUAGES[1]]] : undefined}
          rules={[
            { max: MAX_REPLY, message: t('hours.problem.tooLong') },
            // Sending needs a text in some language (the first field speaks for both).
            ...(i === 0
              ? [({ getFieldValue }: { getFieldValue(path: (string | number)[]): unknown }) => ({
                  validator: async () => {
                    const written = REPLY_LANGUAGES.some((l) => String(getFieldValue([name, 'texts', l]) ?? '').trim());
                    if (getFieldValue([name, 'enabled']) && !written) throw new Error(t('hours.problem.noText'));
                  },
                })]
              : []),
          ]}>
          <Input.TextArea autoSize={{ minRows: 2, maxRows: 6 }} maxLength={MAX_REPLY} showCount data-testid={`hours-${name}-${language}`} />
        </Form.Item>
      ))}
    </section>
  );
}
