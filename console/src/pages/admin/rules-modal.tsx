// One routing rule, new or edited: its name, when it runs, its conditions (what the visitor
// wrote, the page, their language, an attribute) and its actions (tag, team, priority, agent).
// Saving saves the whole list; the api's refusals of this rule land on its fields.
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, Button, Form, Input, InputNumber, Modal, Radio, Select, Switch } from 'antd';
import { useState } from 'react';
import type { FieldError, Rule } from '../../api/protocol';
import { useI18n, type Key } from '../../i18n';
import {
  ACTION_TYPES, FIELDS, MAX_KEY, MAX_NAME, MAX_PARTS, MAX_TAG, MAX_VALUE, NEW_ACTION, NEW_CONDITION, OPS, TRIGGERS,
  newRule, newRuleId, placeOf, problemKey, toForm, toRule, type RuleForm,
} from './rules-form';
import type { Outcome } from './rules';

interface Props {
  /** The rule edited; none for a new one. */
  rule: Rule | undefined;
  /** The ids in use (a new rule gets another). */
  ids: string[];
  teams: ReadonlyMap<string, string>;
  people: ReadonlyMap<string, string>;
  onClose(): void;
  onSave(rule: Rule): Promise<Outcome>;
}

export function RuleModal({ rule, ids, teams, people, onClose, onSave }: Props) {
  const { t } = useI18n();
  // Untyped: the api's errors land on paths computed at run time (`placeOf`).
  const [form] = Form.useForm();
  const [saving, setSaving] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const [marked, setMarked] = useState<(string | number)[][]>([]);

  async function save(values: RuleForm) {
    setSaving(true);
    form.setFields(marked.map((name) => ({ name, errors: [] })));
    setProblems([]);
    try {
      const id = rule?.id ?? newRuleId(values.name, ids);
      const outcome = await onSave(toRule(values, id));
      if (!outcome.saved) place(outcome.fields);
    } finally {
      setSaving(false);
    }
  }

  /** Puts the api's errors on their fields; those of the rule as a whole are listed on top. */
  function place(fields: FieldError[]) {
    const onFields = new Map<string, { name: (string | number)[]; errors: string[] }>();
    const listed: string[] = [];
    for (const f of fields) {
      const key = problemKey(f.code);
      const words = key ? t(key) : f.message;
      // A pattern's problem says what is wrong with it, in the regex engine's words.
      const text = f.code === 'invalid_pattern' ? `${words} ${f.message}` : words;
      const path = placeOf(f.field)?.path;
      if (!path) {
        listed.push(text);
        continue;
      }
      const at = onFields.get(path.join('.')) ?? { name: path, errors: [] };
      at.errors.push(text);
      onFields.set(path.join('.'), at);
    }
    const list = [...onFields.values()];
    form.setFields(list);
    setMarked(list.map((f) => f.name));
    setProblems(listed);
    if (list[0]) form.scrollToField(list[0].name, { block: 'center' });
  }

  const required = { required: true, whitespace: true, message: t('field.required') };
  const teamOptions = [...teams].map(([value, label]) => ({ value, label }));
  const agentOptions = [...people].map(([value, label]) => ({ value, label }));

  return (
    <Modal open title={rule ? t('common.edit') : t('rules.new')} onCancel={onClose} onOk={() => form.submit()} width={720}
      okText={t('common.save')} cancelText={t('common.cancel')} confirmLoading={saving} okButtonProps={{ id: 'rule-save' }} destroyOnHidden>
      {problems.length > 0 && (
        <Alert type="error" showIcon title={t('rules.invalid')} className="rules-alert" data-testid="rule-problems"
          description={<ul className="problems">{problems.map((p) => <li key={p}>{p}</li>)}</ul>} />
      )}
      <Form form={form} layout="vertical" initialValues={rule ? toForm(rule) : newRule()} onFinish={() => void save(form.getFieldsValue(true) as RuleForm)} data-testid="rule-form">
        <Form.Item name="name" label={t('rules.name')} rules={[required, { max: MAX_NAME }]}>
          <Input maxLength={MAX_NAME} data-testid="rule-name-input" />
        </Form.Item>
        <Form.Item name="enabled" label={t('rules.enabled')} valuePropName="checked">
          <Switch data-testid="rule-enabled-input" />
        </Form.Item>
        <Form.Item name="trigger" label={t('rules.trigger')}>
          <Radio.Group className="rules-trigger">
            {TRIGGERS.map((trigger) => <Radio key={trigger} value={trigger}>{t(`rules.trigger.${trigger}`)}</Radio>)}
          </Radio.Group>
        </Form.Item>
        <Form.Item label={t('rules.conditions')} extra={t('rules.valueHelp')} required>
          <Form.List name="conditions">
            {(rows, { add, remove }) => (
              <>
                {rows.map((row) => (
                  <div key={row.key} className="rules-row" data-testid="rule-condition">
                    <Form.Item name={[row.name, 'field']} className="rules-row-kind">
                      <Select aria-label={t('rules.when')} data-testid="rule-condition-field"
                        options={FIELDS.map((field) => ({ value: field, label: t(`rules.field.${field}` as Key) }))} />
                    </Form.Item>
                    <Form.Item noStyle dependencies={[['conditions', row.name, 'field'], ['conditions', row.name, 'op']]}>
                      {() => {
                        const field = form.getFieldValue(['conditions', row.name, 'field']) as string;
                        const op = form.getFieldValue(['conditions', row.name, 'op']) as string;
                        return (
                          <>
                            {field === 'attribute' && (
                              <Form.Item name={[row.name, 'key']} rules={[required, { max: MAX_KEY }]} className="rules-row-key">
                                <Input placeholder={t('rules.key')} maxLength={MAX_KEY} title={t('rules.keyHelp')} data-testid="rule-condition-key" />
                              </Form.Item>
                            )}
                            {field !== 'language' && (
                              <Form.Item name={[row.name, 'op']} className="rules-row-op">
                                <Select aria-label={t('rules.value')} data-testid="rule-condition-op"
                                  options={OPS.map((o) => ({ value: o, label: t(`rules.op.${o}` as Key) }))} />
                              </Form.Item>
                            )}
                            <Form.Item name={[row.name, 'value']} rules={[required, { max: MAX_VALUE }]} className="rules-row-value">
                              <Input placeholder={field === 'language' ? 'zh-CN' : op === 'matches' ? '(?i)refund|退款' : t('rules.value')}
                                maxLength={MAX_VALUE} title={field === 'language' ? t('rules.languageHelp') : undefined} data-testid="rule-condition-value" />
                            </Form.Item>
                          </>
                        );
                      }}
                    </Form.Item>
                    <Button type="text" icon={<DeleteOutlined />} disabled={rows.length <= 1} onClick={() => remove(row.name)}
                      aria-label={t('common.remove')} data-testid="rule-condition-remove" />
                  </div>
                ))}
                <Button type="dashed" icon={<PlusOutlined />} disabled={rows.length >= MAX_PARTS} onClick={() => add({ ...NEW_CONDITION })}
                  data-testid="rule-add-condition">{t('rules.addCondition')}</Button>
              </>
            )}
          </Form.List>
        </Form.Item>
        <Form.Item label={t('rules.actions')} extra={t('rules.actionsHelp')} required>
          <Form.List name="actions">
            {(rows, { add, remove }) => (
              <>
                {rows.map((row) => (
                  <div key={row.key} className="rules-row" data-testid="rule-action">
                    <Form.Item name={[row.name, 'type']} className="rules-row-kind">
                      <Select aria-label={t('rules.then')} data-testid="rule-action-type"
                        options={ACTION_TYPES.map((type) => ({ value: type, label: t(`rules.action.${type}` as Key) }))} />
                    </Form.Item>
                    <Form.Item noStyle dependencies={[['actions', row.name, 'type']]}>
                      {() => {
                        switch (form.getFieldValue(['actions', row.name, 'type']) as string) {
                          case 'team':
                            return (
                              <Form.Item name={[row.name, 'team_id']} rules={[{ required: true, message: t('field.required') }]} className="rules-row-value">
                                <Select placeholder={t('rules.pickTeam')} options={teamOptions} showSearch optionFilterProp="label" data-testid="rule-action-team" />
                              </Form.Item>
                            );
                          case 'priority':
                            return (
                              <Form.Item name={[row.name, 'priority']} rules={[{ required: true, message: t('field.required') }]} className="rules-row-value">
                                <InputNumber min={0} max={100} precision={0} data-testid="rule-action-priority" />
                              </Form.Item>
                            );
                          case 'assign':
                            return (
                              <Form.Item name={[row.name, 'user_id']} rules={[{ required: true, message: t('field.required') }]} className="rules-row-value">
                                <Select placeholder={t('rules.pickAgent')} options={agentOptions} showSearch optionFilterProp="label" data-testid="rule-action-agent" />
                              </Form.Item>
                            );
                          default:
                            return (
                              <Form.Item name={[row.name, 'tag']} rules={[required, { max: MAX_TAG }]} className="rules-row-value">
                                <Input placeholder={t('routing.tag')} maxLength={MAX_TAG} data-testid="rule-action-tag" />
                              </Form.Item>
                            );
                        }
                      }}
                    </Form.Item>
                    <Button type="text" icon={<DeleteOutlined />} disabled={rows.length <= 1} onClick={() => remove(row.name)}
                      aria-label={t('common.remove')} data-testid="rule-action-remove" />
                  </div>
                ))}
                <Button type="dashed" icon={<PlusOutlined />} disabled={rows.length >= MAX_PARTS} onClick={() => add({ ...NEW_ACTION })}
                  data-testid="rule-add-action">{t('rules.addAction')}</Button>
              </>
            )}
          </Form.List>
        </Form.Item>
      </Form>
    </Modal>
  );
}
