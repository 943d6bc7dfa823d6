// Turns api refusals into words for people, in the member's language: known problem codes and
// field codes have translations; anything else shows the api's own sentence.
import type { FormInstance } from 'antd';
import { ApiError } from '../api/client';
import { isKey, type Key, type Vars } from '../i18n';

type T = (key: Key, vars?: Vars) => string;

function known(key: string): key is Key {
  return isKey(key);
}

/** One sentence for a failed call. */
export function describe(error: unknown, t: T): string {
  if (error instanceof ApiError) {
    const key = `error.${error.code}`;
    if (known(key)) return t(key);
    return error.message;
  }
  return t('error.network');
}

/**
 * Puts the api's field errors on the form's fields (`errors[].field` names the JSON field, which
 * `fieldOf` may map to the form's, e.g. `alternatives[2]` to `alternatives`); returns whether any
 * matched a field of the form, so the caller shows a general message otherwise.
 */
export function showFieldErrors(
  form: FormInstance,
  error: unknown,
  t: T,
  fields: readonly string[],
  fieldOf: (field: string) => string = (field) => field,
): boolean {
  if (!(error instanceof ApiError) || error.fields.length === 0) return false;
  const messages = new Map<string, string[]>();
  for (const f of error.fields) {
    const name = fieldOf(f.field);
    if (!fields.includes(name)) continue;
    const key = `field.${f.code}`;
    messages.set(name, [...(messages.get(name) ?? []), known(key) ? t(key) : f.message]);
  }
  form.setFields([...messages].map(([name, errors]) => ({ name, errors })));
  return messages.size > 0;
}
