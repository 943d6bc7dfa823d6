// Routing rules apart from their screen: the editor's shape (a condition or an action is one row
// whatever its kind) and the api's `Rule`, each to the other; a new rule's id; moving a rule in
// the list; where an api field error (`rules.{i}.…`) belongs; a rule's words in the list and in
// the note a fired rule leaves on a conversation.
import type { Action, Condition, Rule, TextOp, Trigger } from '../../api/protocol';
import type { Key, Vars } from '../../i18n';
import { actionText, firedText } from './rules-text';

export { actionText, firedText };

/** The api's limits (kefu_protocol::rules). */
export const MAX_RULES = 50;
export const MAX_PARTS = 10;
export const MAX_NAME = 80;
export const MAX_VALUE = 200;
export const MAX_KEY = 40;
export const MAX_TAG = 40;

export const FIELDS = ['message', 'page_url', 'language', 'attribute'] as const;
export type Field = (typeof FIELDS)[number];
export const OPS: readonly TextOp[] = ['contains', 'equals', 'starts_with', 'matches'];
export const ACTION_TYPES = ['tag', 'team', 'priority', 'assign'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];
export const TRIGGERS: readonly Trigger[] = ['conversation_opened', 'visitor_message'];

/** A condition as the editor holds it: every input of every kind (the kind's are sent). */
export interface ConditionRow {
  field: Field;
  op: TextOp;
  /** An attribute's key. */
  key: string;
  value: string;
}

/** An action as the editor holds it. */
export interface ActionRow {
  type: ActionType;
  tag: string;
  team_id: string | null;
  priority: number;
  user_id: string | null;
}

export interface RuleForm {
  name: string;
  enabled: boolean;
  trigger: Trigger;
  conditions: ConditionRow[];
  actions: ActionRow[];
}

export const NEW_CONDITION: ConditionRow = { field: 'message', op: 'contains', key: '', value: '' };
export const NEW_ACTION: ActionRow = { type: 'tag', tag: '', team_id: null, priority: 50, user_id: null };

export function newRule(): RuleForm {
  return { name: '', enabled: true, trigger: 'conversation_opened', conditions: [{ ...NEW_CONDITION }], actions: [{ ...NEW_ACTION }] };
}

export function toForm(rule: Rule): RuleForm {
  return {
    name: rule.name,
    enabled: rule.enabled,
    trigger: rule.trigger,
    conditions: rule.conditions.map((c): ConditionRow => {
      switch (c.field) {
        case 'language':
          return { ...NEW_CONDITION, field: 'language', value: c.value };
        case 'attribute':
          return { field: 'attribute', op: c.op, key: c.key, value: c.value };
        default:
          return { field: c.field, op: c.op, key: '', value: c.value };
      }
    }),
    actions: rule.actions.map((a): ActionRow => {
      switch (a.type) {
        case 'tag':
          return { ...NEW_ACTION, type: 'tag', tag: a.tag };
        case 'team':
          return { ...NEW_ACTION, type: 'team', team_id: a.team_id };
        case 'priority':
          return { ...NEW_ACTION, type: 'priority', priority: a.priority };
        case 'assign':
          return { ...NEW_ACTION, type: 'assign', user_id: a.user_id };
      }
    }),
  };
}

/**
 * The rule the editor says, under `id`. Texts are trimmed, except a pattern's (a regular
 * expression's spaces are its own). A team or agent not yet picked is sent as the empty id, which
 * the api refuses on its field.
 */
export function toRule(form: RuleForm, id: string): Rule {
  const conditions = form.conditions.map((c): Condition => {
    const value = c.op === 'matches' && c.field !== 'language' ? c.value : c.value.trim();
    switch (c.field) {
      case 'language':
        return { field: 'language', value };
      case 'attribute':
        return { field: 'attribute', key: c.key.trim(), op: c.op, value };
      default:
        return { field: c.field, op: c.op, value };
    }
  });
  const actions = form.actions.map((a): Action => {
    switch (a.type) {
      case 'tag':
        return { type: 'tag', tag: a.tag.trim() };
      case 'team':
        return { type: 'team', team_id: a.team_id ?? '' };
      case 'priority':
        return { type: 'priority', priority: a.priority };
      case 'assign':
        return { type: 'assign', user_id: a.user_id ?? '' };
    }
  });
  return { id, name: form.name.trim(), enabled: form.enabled, trigger: form.trigger, conditions, actions };
}

/**
 * An id for a new rule, unique among `taken`: the ASCII words of its name (`refund-requests`),
 * else `rule`, with a number when needed. Ids are stable: renaming a rule keeps it.
 */
export function newRuleId(name: string, taken: readonly string[]): string {
  const base = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32).replace(/-+$/, '') || 'rule';
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
  }
}

/** `list` with the item at `from` moved to `to` (unchanged when either is out of range). */
export function moved<T>(list: readonly T[], from: number, to: number): T[] {
  const copy = [...list];
  if (from < 0 || to < 0 || from >= copy.length || to >= copy.length) return copy;
  const [item] = copy.splice(from, 1);
  copy.splice(to, 0, item as T);
  return copy;
}

/** Where an api field error lands: on a field of the rule being edited, or in the list above it. */
export type Placed = { rule: number; path: (string | number)[] | null };

/**
 * The rule index and the editor's field path of an api error field (`rules.3.conditions.0.value`
 * → rule 3, `['conditions', 0, 'value']`). Errors on a list as a whole (`rules.3.conditions`:
 * none or too many) and on the id have no field: `path` is null. Not a rule's field: null.
 */
export function placeOf(field: string): Placed | null {
  const m = /^rules\.(\d+)(?:\.(.+))?$/.exec(field);
  if (!m) return null;
  const rule = Number(m[1]);
  const rest = m[2];
  if (!rest) return { rule, path: null };
  const parts = rest.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const fieldNames = ['name', 'enabled', 'trigger'];
  if (parts.length === 1 && fieldNames.includes(String(parts[0]))) return { rule, path: parts };
  if (parts.length === 3 && (parts[0] === 'conditions' || parts[0] === 'actions') && typeof parts[1] === 'number') return { rule, path: parts };
  return { rule, path: null };
}

/** A translation key for an api field error code on rules, where the console has its own words. */
export function problemKey(code: string): Key | null {
  switch (code) {
    case 'required':
      return 'field.required';
    case 'invalid_pattern':
      return 'rules.problem.pattern';
    case 'unknown':
      return 'rules.problem.unknown';
    case 'too_long':
      return 'hours.problem.tooLong';
    case 'duplicate':
      return 'rules.problem.duplicate';
    default:
      return null;
  }
}

type T = (key: Key, vars?: Vars) => string;

const OP_KEYS: Record<TextOp, Key> = {
  contains: 'rules.op.contains',
  equals: 'rules.op.equals',
  starts_with: 'rules.op.starts_with',
  matches: 'rules.op.matches',
};

/** A condition in words: `Message contains “refund”`. */
export function conditionText(c: Condition, t: T): string {
  switch (c.field) {
    case 'language':
      return t('rules.when.language', { value: c.value });
    case 'attribute':
      return t('rules.when.attribute', { key: c.key, op: t(OP_KEYS[c.op]), value: c.value });
    case 'message':
      return t('rules.when.message', { op: t(OP_KEYS[c.op]), value: c.value });
    case 'page_url':
      return t('rules.when.page_url', { op: t(OP_KEYS[c.op]), value: c.value });
  }
}
