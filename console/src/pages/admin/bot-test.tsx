// "Test a question": what the bot would do with a visitor's question under the saved settings:
// the matcher that scored it, answer or hand off, and the best entries with their scores, each
// bar marked where the threshold is.
import { Alert, Button, Card, Empty, Input, Progress, Space, Tag, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';

type TestResult = components['schemas']['TestResult'];

/** Scores at or above the threshold are drawn in the colour of an answer. */
const ANSWER_COLOUR = '#16a34a';

export function BotTestCard() {
  const { t } = useI18n();
  const { message } = useApp();
  const [question, setQuestion] = useState('');
  const [result, setResult] = useState<TestResult>();
  const [testing, setTesting] = useState(false);

  async function run() {
    if (!question.trim()) return;
    setTesting(true);
    try {
      setResult(await call(api.POST('/api/v1/bot/test', { body: { question: question.trim() } })));
    } catch (e) {
      message.error(describe(e, t));
    } finally {
      setTesting(false);
    }
  }

  return (
    <Card title={t('bot.test')} size="small">
      <Typography.Paragraph type="secondary">{t('bot.testIntro')}</Typography.Paragraph>
      <Space.Compact style={{ width: '100%' }}>
        <Input value={question} onChange={(e) => setQuestion(e.target.value)} onPressEnter={() => void run()} maxLength={1000}
          placeholder={t('bot.testPlaceholder')} aria-label={t('bot.test')} data-testid="bot-test-question" />
        <Button type="primary" onClick={() => void run()} loading={testing} disabled={!question.trim()} data-testid="bot-test-run">
          {t('bot.testRun')}
        </Button>
      </Space.Compact>
      {result && <Verdict result={result} />}
    </Card>
  );
}

function Verdict({ result }: { result: TestResult }) {
  const { t } = useI18n();
  const matcher = result.matcher === 'semantic' ? t('bot.semantic') : t('bot.lexical');
  return (
    <div className="bot-verdict" data-testid="bot-test-result" data-answers={String(result.answers)} data-matcher={result.matcher}>
      <Alert type={result.answers ? 'success' : 'warning'} showIcon
        title={result.answers ? t('bot.wouldAnswer') : t('bot.wouldHandOff')}
        description={t('bot.scoredBy', { matcher, threshold: result.threshold.toFixed(2) })} />
      {result.results.length === 0 ? (
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('bot.noResults')} />
      ) : (
        <ol className="bot-results">
          {result.results.map((r, i) => {
            const reaches = r.score >= result.threshold;
            return (
              <li key={r.entry_id} className="bot-result" data-testid="bot-test-entry" data-score={r.score.toFixed(2)}>
                <div className="bot-result-question">
                  <Tag>{r.language}</Tag>
                  <Typography.Text strong={i === 0} ellipsis={{ tooltip: r.question }}>{r.question}</Typography.Text>
                </div>
                <div className="bot-result-score">
                  <div className="bot-result-bar">
                    <Progress percent={Math.round(r.score * 100)} size="small" showInfo={false} strokeColor={reaches ? ANSWER_COLOUR : undefined} />
                    <span className="bot-result-threshold" style={{ left: `${result.threshold * 100}%` }} title={t('bot.threshold')} />
                  </div>
                  <Typography.Text strong={reaches} type={reaches ? 'success' : 'secondary'} title={t('bot.score')} data-testid="bot-test-score">
                    {r.score.toFixed(2)}
                  </Typography.Text>
                </div>
                {i === 0 && result.answers && (
                  <Typography.Paragraph type="secondary" ellipsis={{ rows: 3, tooltip: r.answer }} className="bot-result-answer">{r.answer}</Typography.Paragraph>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
