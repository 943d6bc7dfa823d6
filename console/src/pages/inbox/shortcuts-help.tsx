// The keyboard shortcuts of the inbox, listed in a dialog ("?"), loaded when first asked for.
import { Modal, Typography } from 'antd';
import { useI18n } from '../../i18n';
import { SHORTCUTS } from './shortcuts';

export default function ShortcutsHelp({ open, onClose }: { open: boolean; onClose(): void }) {
  const { t } = useI18n();
  return (
    <Modal open={open} onCancel={onClose} footer={null} title={t('shortcuts.title')}>
      {/* A plain table: antd's Table would weigh on every member's first download. */}
      <table className="shortcuts-table">
        <thead><tr><th>{t('shortcuts.key')}</th><th>{t('shortcuts.action')}</th></tr></thead>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}><td><Typography.Text keyboard>{s.keys}</Typography.Text></td><td>{t(s.label)}</td></tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
