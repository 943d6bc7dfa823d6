// Entry point: mounts the app and registers nothing else (no service worker: the console needs the
// network to be useful; the manifest alone makes it installable).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import './styles.css';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
