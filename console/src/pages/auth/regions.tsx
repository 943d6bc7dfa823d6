// The deployment's regions on the signed-out pages (docs/regions.md): a workspace lives in the
// region whose console signed it up, so choosing another region at signup goes to that region's
// console (the form's company, name and email carried along, never the password), and the login
// page links to the other regions' consoles. With one region nothing is shown.
import { Form, Select, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { components } from '../../api/schema';
import { useI18n } from '../../i18n';

export type Regions = components['schemas']['RegionsView'];

/** The regions, once the api answered (undefined before, and when it could not be asked). */
export function useRegions(): Regions | undefined {
  const [regions, setRegions] = useState<Regions>();
  useEffect(() => {
    let live = true;
    call(api.GET('/api/v1/auth/regions')).then((answer) => { if (live) setRegions(answer); }, () => undefined);
    return () => { live = false; };
  }, []);
  return regions;
}

/** `app_url` + `path` with `params` (empty ones left out). */
export function regionUrl(appUrl: string, path: string, params: Record<string, string | undefined>): string {
  const url = new URL(path, `${appUrl}/`);
  for (const [key, value] of Object.entries(params)) if (value) url.searchParams.set(key, value);
  return url.toString();
}

/** The signup form's region choice; picking another region calls `onElsewhere` with its signup URL. */
export function RegionChoice({ regions, onElsewhere }: { regions: Regions; onElsewhere: (name: string) => void }) {
  const { t } = useI18n();
  if (regions.regions.length < 2) return null;
  return (
    <Form.Item label={t('signup.region')} extra={t('signup.regionHelp')}>
      <Select value={regions.current} onChange={onElsewhere} aria-label={t('signup.region')} data-testid="signup-region"
        options={regions.regions.map((r) => ({ value: r.name, label: r.label }))} />
    </Form.Item>
  );
}

/** The login page's links to the other regions' consoles. */
export function OtherRegions({ regions }: { regions: Regions | undefined }) {
  const { t } = useI18n();
  const others = regions?.regions.filter((r) => r.name !== regions.current) ?? [];
  if (others.length === 0) return null;
  return (
    <Typography.Paragraph type="secondary" className="auth-regions" data-testid="other-regions">
      {t('login.otherRegion')}{' '}
      {others.map((r, i) => (
        <span key={r.name}>{i > 0 && ' · '}<a href={regionUrl(r.app_url, 'login', {})}>{r.label}</a></span>
      ))}
    </Typography.Paragraph>
  );
}
