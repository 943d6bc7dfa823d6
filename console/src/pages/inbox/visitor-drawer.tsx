// The drawer that holds the visitor panel on a phone, in a chunk of its own (loaded the first
// time a member opens it).
import { Drawer } from 'antd';
import type { ReactNode } from 'react';

export default function VisitorDrawer({ open, onClose, title, children }: { open: boolean; onClose(): void; title: string; children: ReactNode }) {
  return (
    <Drawer open={open} onClose={onClose} title={title} size="default" className="hide-wide-drawer">
      {children}
    </Drawer>
  );
}
