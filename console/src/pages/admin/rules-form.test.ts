import { beforeAll, describe, expect, it } from 'vitest';
import type { Rule } from '../../api/protocol';
import { loadAreas, loadLang, translate, type Key, type Vars } from '../../i18n';
import { actionText, conditionText, firedText, moved, newRule, newRuleId, placeOf, problemKey, toForm, toRule } from './rules-form';

// The packs are loaded on demand in the console (i18n/packs.ts); the rules' words are the admin area's.
beforeAll(async () => {
  await Promise.all([loadLang('en'), loadLang('zh-CN')]);
  await loadAreas(['admin']);
});

const rule: Rule = {
  id: 'refunds',
  name: '退款',
  enabled: true,
  trigger: 'conversation_opened',
  conditions: [
    { field: 'message', op: 'matches', value: '(?i)refund|退款 ' },
    { field: 'attribute', key: 'plan', op: 'equals', value: 'enterprise' },
    { field: 'language', value: 'zh' },
    { field: 'page_url', op: 'contains', value: '/orders' },
  ],
  actions: [
    { type: 'tag', tag: 'refund' },
    { type: 'team', team_id: 'team-1' },
    { type: 'priority', priority: 60 },
    { type: 'assign', user_id: 'user-1' },
  ],
};

const en = (key: Key, vars?: Vars) => translate('en', key, vars);
const zh = (key: Key, vars?: Vars) => translate('zh-CN', key, vars);
const teams = new Map([['team-1', 'Billing']]);
const people = new Map([['user-1', 'Olivia']]);

describe('routing rules', () => {
  it('round-trips a rule through the editor', () => {
    expect(toRule(toForm(rule), 'refunds')).toEqual(rule);
  });

  it('trims texts but not a pattern, and sends a team not yet picked as the empty id', () => {
    const form = newRule();
    form.name = '  VIP  ';
    form.conditions = [
      { field: 'message', op: 'contains', key: '', value: ' refund ' },
      { field: 'page_url', op: 'matches', key: '', value: ' a b ' },
      { field: 'attribute', op: 'starts_with', key: ' plan ', value: ' ent ' },
    ];
    form.actions = [{ type: 'team', tag: '', team_id: null, priority: 50, user_id: null }];
    const made = toRule(form, 'vip');
    expect(made.name).toBe('VIP');
    expect(made.conditions).toEqual([
      { field: 'message', op: 'contains', value: 'refund' },
      { field: 'page_url', op: 'matches', value: ' a b ' },
      { field: 'attribute', key: 'plan', op: 'starts_with', value: 'ent' },
    ]);
    expect(made.actions).toEqual([{ type: 'team', team_id: '' }]);
  });

  it('gives a new rule a readable id the api accepts, unique in the list', () => {
    const valid = /^[a-z0-9_-]{1,40}$/;
    expect(newRuleId('Refund requests!', [])).toBe('refund-requests');
    expect(newRuleId('Refund requests', ['refund-requests', 'refund-requests-2'])).toBe('refund-requests-3');
    expect(newRuleId('退款', [])).toBe('rule');
    expect(newRuleId('退款', ['rule'])).toBe('rule-2');
    expect(newRuleId('Café VIP', [])).toBe('cafe-vip');
    const long = newRuleId('a very long rule name that goes on and on and on', []);
    expect(long).toMatch(valid);
    expect(long.endsWith('-')).toBe(false);
  });

  it('moves a rule up and down, never off the list', () => {
    expect(moved(['a', 'b', 'c'], 2, 1)).toEqual(['a', 'c', 'b']);
    expect(moved(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
    expect(moved(['a', 'b'], 0, -1)).toEqual(['a', 'b']);
    expect(moved(['a', 'b'], 1, 2)).toEqual(['a', 'b']);
  });

  it('places the api errors on the editor fields they name', () => {
    expect(placeOf('rules.3.conditions.0.value')).toEqual({ rule: 3, path: ['conditions', 0, 'value'] });
    expect(placeOf('rules.0.actions.1.team_id')).toEqual({ rule: 0, path: ['actions', 1, 'team_id'] });
    expect(placeOf('rules.2.name')).toEqual({ rule: 2, path: ['name'] });
    expect(placeOf('rules.2.conditions')).toEqual({ rule: 2, path: null });
    expect(placeOf('rules.2.id')).toEqual({ rule: 2, path: null });
    expect(placeOf('rules')).toBeNull();
    expect(placeOf('version')).toBeNull();
    expect(problemKey('invalid_pattern')).toBe('rules.problem.pattern');
    expect(problemKey('something_new')).toBeNull();
  });

  it('says a rule in words, naming teams and agents, in both languages', () => {
    expect(rule.conditions.map((c) => conditionText(c, en))).toEqual([
      'message matches the pattern “(?i)refund|退款 ”',
      'plan is “enterprise”',
      'language is zh',
      'page URL contains “/orders”',
    ]);
    expect(rule.actions.map((a) => actionText(a, en, teams, people))).toEqual([
      'tag “refund”', 'to the Billing team', 'priority 60', 'assign to Olivia',
    ]);
    expect(actionText({ type: 'team', team_id: 'gone' }, en, teams, people)).toBe('to the (deleted) team');
    expect(conditionText(rule.conditions[0]!, zh)).toBe('消息匹配正则“(?i)refund|退款 ”');
  });

  it('writes the note of a fired rule, with what it could not do', () => {
    const event = { name: 'Refunds', applied: [{ type: 'tag', tag: 'refund' } as const], skipped: [{ type: 'assign', user_id: 'user-1' } as const] };
    expect(firedText(event, en, teams, people)).toBe('Rule “Refunds” fired: tag “refund” (not done: assign to Olivia)');
    expect(firedText({ ...event, skipped: [] }, zh, teams, people)).toBe('规则“Refunds”已触发：标签“refund”');
    expect(firedText({ name: 'x', applied: [] }, en, teams, people)).toBe('Rule “x” fired: nothing to do');
  });
});
