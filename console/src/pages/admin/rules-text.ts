// Routing rules' actions in words, for the rules page and for the note a fired rule leaves in a
// conversation (kept apart from rules-form.ts so that the inbox does not download the rules
// editor's code: docs/console.md, "Weight").
import type { Action } from '../../api/protocol';
import type { Key, Vars } from '../../i18n';

type T = (key: Key, vars?: Vars) => string;
type Names = ReadonlyMap<string, string>;

/** An action in words, naming teams and agents: `tag “refund”`, `to the Billing team`. */
export function actionText(a: Action, t: T, teams: Names, people: Names): string {
  switch (a.type) {
    case 'tag':
      return t('rules.do.tag', { tag: a.tag });
    case 'team':
      return t('rules.do.team', { team: teams.get(a.team_id) ?? t('rules.deleted') });
    case 'priority':
      return t('rules.do.priority', { priority: a.priority });
    case 'assign':
      return t('rules.do.assign', { agent: people.get(a.user_id) ?? t('rules.deleted') });
  }
}

/** The note a fired rule left on a conversation, in the member's language. */
export function firedText(event: { name: string; applied: Action[]; skipped?: Action[] }, t: T, teams: Names, people: Names): string {
  const list = (actions: Action[]) => actions.map((a) => actionText(a, t, teams, people)).join(t('rules.separator'));
  const what = event.applied.length > 0 ? list(event.applied) : t('rules.nothingDone');
  const skipped = event.skipped ?? [];
  return skipped.length > 0
    ? t('note.ruleFiredSkipped', { name: event.name, what, skipped: list(skipped) })
    : t('note.ruleFired', { name: event.name, what });
}
