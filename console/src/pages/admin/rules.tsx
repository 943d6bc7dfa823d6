// Routing rules (F19): conditions on a new conversation or a visitor's message leading to a tag,
// a team, a priority or an agent. Admins see the list in the order it runs, turn rules on and
// off, reorder, edit and delete them; every change saves the whole list at once (versioned: a
// save over someone else's is refused and offered a reload). The api checks patterns, teams and
// agents; its refusals land on the editor's fields.
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Empty, Popconfirm, Space, Switch, Tag, Typography } from 'antd';
import { useApp } from '../../ui/app';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, api, call } from '../../api/client';
import type { FieldError, Rule } from '../../api/protocol';
import { useI18n } from '../../i18n';
import { describe } from '../../ui/errors';
import { actionText, conditionText, MAX_RULES, moved, placeOf, problemKey } from './rules-form';
import { RuleModal } from './rules-modal';

/** What the editor is open on: a rule of the list by index, or a new one. */
type Editing = { index: number } | 'new';

/** How a save went: saved; refused with errors on the rule being edited; or refused otherwise. */
export type Outcome = { saved: true } | { saved: false; fields: FieldError[] };

export function RulesPage() {
  const { t } = useI18n();
  const { message } = useApp();
  const [rules, setRules] = useState<Rule[]>([]);
  const [version, setVersion] = useState<number>();
  const [teams, setTeams] = useState<Map<string, string>>(new Map());
  const [people, setPeople] = useState<Map<string, string>>(new Map());
  const [editing, setEditing] = useState<Editing>();
  const [busy, setBusy] = useState(false);
  const [conflict, setConflict] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);

  const load = useCallback(async () => {
    const [saved, teamList, members] = await Promise.all([
      call(api.GET('/api/v1/rules')),
      call(api.GET('/api/v1/teams')),
      call(api.GET('/api/v1/members')),
    ]);
    setRules(saved.rules);
    setVersion(saved.version);
    setTeams(new Map(teamList.map((team) => [team.id, team.name])));
    setPeople(new Map(members.map((m) => [m.user_id, m.display_name])));
    setConflict(false);
    setProblems([]);
  }, []);

  useEffect(() => {
    load().catch((e: unknown) => message.error(describe(e, t)));
  }, [load, message, t]);

  /**
   * Saves `next` over the loaded version. The field errors of the rule at `edited` go back to
   * its editor; any other problem is shown above the list.
   */
  async function commit(next: Rule[], edited?: number): Promise<Outcome> {
    if (version === undefined) return { saved: false, fields: [] };
    setBusy(true);
    setProblems([]);
    try {
      const saved = await call(api.PUT('/api/v1/rules', { body: { rules: next, version } }));
      setRules(saved.rules);
      setVersion(saved.version);
      message.success(t('rules.saved'));
      return { saved: true };
    } catch (e) {
      if (e instanceof ApiError && e.code === 'version_conflict') {
        setConflict(true);
        message.error(t('rules.conflict'));
        return { saved: false, fields: [] };
      }
      if (!(e instanceof ApiError) || e.fields.length === 0) {
        message.error(describe(e, t));
        return { saved: false, fields: [] };
      }
      const mine = e.fields.filter((f) => edited !== undefined && placeOf(f.field)?.rule === edited);
      const others = e.fields.filter((f) => !mine.includes(f));
      if (others.length > 0) {
        setProblems(others.map((f) => {
          const place = placeOf(f.field);
          const key = problemKey(f.code);
          const named = place ? next[place.rule]?.name ?? f.field : f.field;
          return `${named}: ${key ? t(key) : f.message}`;
        }));
        message.error(t('rules.invalid'));
      }
      return { saved: false, fields: mine };
    } finally {
      setBusy(false);
    }
  }

  const reload = () => void load().catch((e: unknown) => message.error(describe(e, t)));
  const full = rules.length >= MAX_RULES;

  return (
    <Card title={t('nav.rules')} className="page rules-page"
      extra={(
        <Button type="primary" icon={<PlusOutlined />} disabled={version === undefined || full || busy} title={full ? t('rules.limit') : undefined}
          onClick={() => setEditing('new')} data-testid="rule-new">{t('rules.new')}</Button>
      )}>
      <Typography.Paragraph type="secondary">{t('rules.intro')}</Typography.Paragraph>
      {conflict && (
        <Alert type="error" showIcon title={t('rules.conflict')} data-testid="rules-conflict" className="rules-alert"
          action={<Button size="small" onClick={reload}>{t('hours.reload')}</Button>} />
      )}
      {problems.length > 0 && (
        <Alert type="error" showIcon title={t('rules.invalid')} data-testid="rules-problems" className="rules-alert"
          description={<ul className="problems">{problems.map((p) => <li key={p}>{p}</li>)}</ul>} />
      )}
      {version !== undefined && rules.length === 0 && <Empty description={t('rules.none')} />}
      <ol className="rules-list" data-testid="rules-list">
        {rules.map((rule, i) => (
          <RuleItem key={rule.id} rule={rule} index={i} count={rules.length} busy={busy} teams={teams} people={people}
            onToggle={(enabled) => void commit(rules.map((r, j) => (j === i ? { ...r, enabled } : r)))}
            onMove={(to) => void commit(moved(rules, i, to))}
            onEdit={() => setEditing({ index: i })}
            onDelete={() => void commit(rules.filter((_, j) => j !== i))} />
        ))}
      </ol>
      {editing !== undefined && (
        <RuleModal
          rule={editing === 'new' ? undefined : rules[editing.index]}
          ids={rules.map((r) => r.id)}
          teams={teams}
          people={people}
          onClose={() => setEditing(undefined)}
          onSave={async (rule) => {
            const index = editing === 'new' ? rules.length : editing.index;
            const next = editing === 'new' ? [...rules, rule] : rules.map((r, j) => (j === index ? rule : r));
            const outcome = await commit(next, index);
            if (outcome.saved) setEditing(undefined);
            return outcome;
          }} />
      )}
    </Card>
  );
}

interface ItemProps {
  rule: Rule;
  index: number;
  count: number;
  busy: boolean;
  teams: ReadonlyMap<string, string>;
  people: ReadonlyMap<string, string>;
  onToggle(enabled: boolean): void;
  onMove(to: number): void;
  onEdit(): void;
  onDelete(): void;
}

/** One rule: its name and switch, when it runs, its conditions and actions in words. */
function RuleItem({ rule, index, count, busy, teams, people, onToggle, onMove, onEdit, onDelete }: ItemProps) {
  const { t } = useI18n();
  const when = useMemo(() => rule.conditions.map((c) => conditionText(c, t)).join(t('rules.and')), [rule, t]);
  const then = useMemo(() => rule.actions.map((a) => actionText(a, t, teams, people)).join(t('rules.separator')), [rule, t, teams, people]);
  return (
    <li className={`rules-item${rule.enabled ? '' : ' rules-item-off'}`} data-testid="rule" data-id={rule.id}>
      <div className="rules-item-head">
        <Switch size="small" checked={rule.enabled} disabled={busy} onChange={onToggle} aria-label={t('rules.enabled')} data-testid="rule-enabled" />
        <Typography.Text strong className="rules-item-name" data-testid="rule-name">{rule.name}</Typography.Text>
        {!rule.enabled && <Tag>{t('rules.off')}</Tag>}
        <Space size={2} className="rules-item-buttons">
          <Button size="small" type="text" icon={<ArrowUpOutlined />} disabled={busy || index === 0} onClick={() => onMove(index - 1)}
            aria-label={t('rules.moveUp')} title={t('rules.moveUp')} data-testid="rule-up" />
          <Button size="small" type="text" icon={<ArrowDownOutlined />} disabled={busy || index === count - 1} onClick={() => onMove(index + 1)}
            aria-label={t('rules.moveDown')} title={t('rules.moveDown')} data-testid="rule-down" />
          <Button size="small" type="text" icon={<EditOutlined />} disabled={busy} onClick={onEdit} aria-label={t('common.edit')} title={t('common.edit')}
            data-testid="rule-edit" />
          <Popconfirm title={t('rules.deleteConfirm')} okText={t('common.remove')} cancelText={t('common.cancel')} onConfirm={onDelete}>
            <Button size="small" type="text" danger icon={<DeleteOutlined />} disabled={busy} aria-label={t('common.remove')} title={t('common.remove')}
              data-testid="rule-delete" />
          </Popconfirm>
        </Space>
      </div>
      <div className="rules-item-line"><Tag>{t(`rules.trigger.${rule.trigger}`)}</Tag></div>
      <div className="rules-item-line"><Typography.Text type="secondary">{t('rules.when')}</Typography.Text> <span data-testid="rule-when">{when}</span></div>
      <div className="rules-item-line"><Typography.Text type="secondary">{t('rules.then')}</Typography.Text> <span data-testid="rule-then">{then}</span></div>
    </li>
  );
}
