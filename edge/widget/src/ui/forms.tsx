// The panel's forms: the tenant's pre-chat form (before the first message), the offline form
// ("leave a message" while nobody is there) and the rating card after the team closed the
// conversation. Fields come from the tenant's settings; labels in the visitor's language.

import { useState } from 'preact/hooks';
import type { FormField, FormSettings } from '../config';
import type { Profile } from '../protocol';
import type { Strings } from './i18n';

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const PHONE = /^[0-9 +\-().]{5,40}$/;

function label(field: FormField, language: string): string {
  return field.label[language] || field.label.en || Object.values(field.label)[0] || field.key;
}

function problem(field: FormField, value: string, t: Strings): string | null {
  const v = value.trim();
  if (!v) return field.required ? t.required : null;
  if (field.kind === 'email' && !EMAIL.test(v)) return t.invalidEmail;
  if (field.kind === 'phone' && (!PHONE.test(v) || (v.match(/\d/g) || []).length < 5)) return t.invalidPhone;
  return null;
}

/** The values as a `profile`: name, email and phone by kind, the rest as custom fields. */
function toProfile(fields: FormField[], values: Record<string, string>): Profile {
  const profile: Profile = { fields: {} };
  for (const field of fields) {
    const value = (values[field.key] || '').trim();
    if (!value) continue;
    if (field.kind === 'text') profile.fields![field.key] = value.slice(0, 500);
    else profile[field.kind] = value;
  }
  return profile;
}

interface FormProps {
  form: FormSettings;
  language: string;
  t: Strings;
  intro: string;
  submit: string;
  /** Ask for a message too (the offline form), starting with this text. */
  withMessage: boolean;
  message?: string;
  onSubmit: (profile: Profile, message: string) => void;
}

export function VisitorForm({ form, language, t, intro, submit, withMessage, message: initial = '', onSubmit }: FormProps) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [message, setMessage] = useState(initial);
  const [tried, setTried] = useState(false);
  const problems = form.fields.map((f) => problem(f, values[f.key] || '', t));
  const messageProblem = withMessage && !message.trim() ? t.required : null;
  return (
    <form
      class="f"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (problems.some(Boolean) || messageProblem) return;
        onSubmit(toProfile(form.fields, values), message.trim());
      }}
    >
      {intro && <p>{intro}</p>}
      {form.fields.map((field, i) => {
        const id = `kefu-f-${field.key}`;
        const error = tried ? problems[i] : null;
        return (
          <div class="fl" key={field.key}>
            <label for={id}>
              {label(field, language)}
              {field.required && <em aria-hidden="true"> *</em>}
            </label>
            <input
              id={id}
              // Preact's input typing is a union keyed on `type`; a computed type needs the cast.
              type={(field.kind === 'email' ? 'email' : field.kind === 'phone' ? 'tel' : 'text') as 'text'}
              autoComplete={field.kind === 'name' ? 'name' : field.kind === 'email' ? 'email' : field.kind === 'phone' ? 'tel' : 'off'}
              required={field.required}
              aria-invalid={error ? 'true' : undefined}
              aria-describedby={error ? `${id}-e` : undefined}
              maxLength={field.kind === 'text' ? 500 : 200}
              value={values[field.key] || ''}
              onInput={(e) => setValues({ ...values, [field.key]: (e.target as HTMLInputElement).value })}
            />
            {error && (
              <small id={`${id}-e`} role="alert">
                {error}
              </small>
            )}
          </div>
        );
      })}
      {withMessage && (
        <div class="fl">
          <label for="kefu-f-message">
            {t.message}
            <em aria-hidden="true"> *</em>
          </label>
          <textarea
            id="kefu-f-message"
            rows={4}
            maxLength={4000}
            required
            aria-invalid={tried && messageProblem ? 'true' : undefined}
            aria-describedby={tried && messageProblem ? 'kefu-f-message-e' : undefined}
            value={message}
            onInput={(e) => setMessage((e.target as HTMLTextAreaElement).value)}
          />
          {tried && messageProblem && (
            <small id="kefu-f-message-e" role="alert">
              {messageProblem}
            </small>
          )}
        </div>
      )}
      <button class="sb" type="submit">
        {submit}
      </button>
    </form>
  );
}

interface RatingProps {
  t: Strings;
  rated: number | null;
  onRate: (rating: number, comment: string) => void;
}

/** Five stars and a comment, shown when the team closed the conversation. */
export function Rating({ t, rated, onRate }: RatingProps) {
  const [rating, setRating] = useState(0);
  const [comment, setComment] = useState('');
  if (rated) {
    return (
      <div class="r" role="status">
        {t.rated}
      </div>
    );
  }
  return (
    <form
      class="r"
      onSubmit={(e) => {
        e.preventDefault();
        if (rating) onRate(rating, comment);
      }}
    >
      <p>{t.ratePrompt}</p>
      <div class="st" role="radiogroup" aria-label={t.ratePrompt}>
        {[1, 2, 3, 4, 5].map((n) => (
          <button
            key={n}
            type="button"
            role="radio"
            aria-checked={rating === n}
            aria-label={t.stars(n)}
            class={n <= rating ? 'on' : ''}
            onClick={() => setRating(n)}
          >
            ★
          </button>
        ))}
      </div>
      <textarea
        rows={2}
        maxLength={1000}
        placeholder={t.commentPlaceholder}
        aria-label={t.commentPlaceholder}
        value={comment}
        onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)}
      />
      <button class="sb" type="submit" disabled={!rating}>
        {t.rateSend}
      </button>
    </form>
  );
}
