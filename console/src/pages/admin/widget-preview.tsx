// The widget editor's live preview (F6): the real widget, loaded from the edge into a frame of
// the console (public/widget-preview.html), drawn with the unsaved settings and opened; the
// widget's preview mode never connects, so nothing reaches the inbox.
import { Segmented, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { api, call } from '../../api/client';
import type { WidgetSettings } from '../../api/protocol';
import { useI18n } from '../../i18n';

let edgeUrl: Promise<string | null> | undefined;

/** The edge's public URL from `GET /api/v1/widget` (admins), or null when not configured. */
export function useEdgeUrl(): string | null | undefined {
  const [url, setUrl] = useState<string | null>();
  useEffect(() => {
    edgeUrl ??= call(api.GET('/api/v1/widget')).then((w) => w.edge_url ?? null, () => null);
    void edgeUrl.then(setUrl);
  }, []);
  return url;
}

export type PreviewMode = 'online' | 'offline';

export function previewSrc(settings: WidgetSettings, edge: string, mode: PreviewMode): string {
  const payload = JSON.stringify({ edge_url: edge, settings, mode });
  const encoded = btoa(String.fromCharCode(...new TextEncoder().encode(payload)));
  return `/widget-preview.html#${encoded}`;
}

export function WidgetPreview({ settings, edge }: { settings: WidgetSettings; edge: string | null | undefined }) {
  const { t } = useI18n();
  const [mode, setMode] = useState<PreviewMode>('online');
  const [src, setSrc] = useState<string>();

  useEffect(() => {
    if (!edge) return;
    const timer = setTimeout(() => setSrc(previewSrc(settings, edge, mode)), 400);
    return () => clearTimeout(timer);
  }, [settings, edge, mode]);

  if (edge === null) return <Typography.Text type="secondary">{t('widget.noEdge')}</Typography.Text>;
  return (
    <div className="widget-preview">
      <Segmented size="small" value={mode} onChange={setMode}
        options={[{ value: 'online', label: t('widget.previewOnline') }, { value: 'offline', label: t('widget.previewOffline') }]} />
      {src && <iframe key={src} src={src} title={t('widget.preview')} sandbox="allow-scripts" className="widget-preview-frame" data-testid="widget-preview" />}
    </div>
  );
}
