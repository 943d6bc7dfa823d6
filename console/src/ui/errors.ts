// Turns api refusals into words for people, in the member's language: known problem codes and
// field codes have translations; anything else shows the api's own sentence.
import type { FormInstance } from 'antd';
import { ApiError } from '../api/client';
import type { Key, Vars } from '../i18n';
import { en } from '../i18n/en';

type T = (key: Key, vars?: Vars) => string;

function known(key: string): key is Key {
  return key in en;
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
 * Puts the api's field errors on the form's fields (`errors[].field` names the JSON field); returns
 * whether any matched a field of the form, so the caller shows a general message otherwise.
 */
export function showFieldErrors(form: FormInstance, error: unknown, t: T, fields: readonly string[]): boolean {
  if (!(error instanceof ApiError) || error.fields.length === 0) return false;
  const matched = error.fields.filter((f) => fields.includes(f.field));
  form.setFields(
    matched.map((f) => {
      const key = `field.${f.code}`;
      return { name: f.field, errors: [known(key) ? t(key) : f.message] };
    }),
  );
  return matched.length > 0;
}
