// Entry point: mounts the app and registers nothing else (no service worker: the console needs the
// network to be useful; the manifest alone makes it installable). The core pack of the member's
// language is loaded first, so that the first render is in their language (no flash of another);
// the words of the other pages come with them (i18n/packs.ts).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { session } from './auth/session';
import { loadLang, storedLang } from './i18n';
import './styles.css';

const root = document.getElementById('root');
if (root) {
  // Should the pack fail to load, the app still starts; I18nProvider tries again.
  void loadLang(storedLang(session.current()?.user.id)).catch(() => undefined).then(() => {
    createRoot(root).render(
      <StrictMode>
        <App />
      </StrictMode>,
    );
  });
}
