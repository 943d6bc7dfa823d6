// Text and a small heading for the inbox and the shell, in antd's theme (its design tokens) but
// without antd's Typography, whose editing, copying and measured ellipsis the inbox does not use
// and which weighed on every member's first download (docs/console.md, "Weight"). The lazily
// loaded pages keep using Typography.
import { theme } from 'antd';
import type { HTMLAttributes, ReactNode } from 'react';

type TextProps = Omit<HTMLAttributes<HTMLSpanElement>, 'children'> & {
  children?: ReactNode;
  type?: 'secondary' | 'danger';
  strong?: boolean;
  /** One line, cut with "…" (CSS). */
  ellipsis?: boolean;
  keyboard?: boolean;
  code?: boolean;
  'data-testid'?: string;
};

export function Text({ type, strong, ellipsis, keyboard, code, className, style, children, ...rest }: TextProps) {
  const { token } = theme.useToken();
  const color = type === 'secondary' ? token.colorTextDescription : type === 'danger' ? token.colorError : undefined;
  let content = children;
  if (strong) content = <strong style={{ fontWeight: token.fontWeightStrong }}>{content}</strong>;
  if (code) content = <code className="text-code">{content}</code>;
  if (keyboard) content = <kbd className="text-kbd">{content}</kbd>;
  const classes = ['text', ellipsis && 'text-ellipsis', className].filter(Boolean).join(' ');
  return <span className={classes} style={color ? { color, ...style } : style} {...rest}>{content}</span>;
}

/** A fifth-level heading on one line (antd's Typography.Title level 5, ellipsis). */
export function Heading5({ children, className }: { children?: ReactNode; className?: string }) {
  const { token } = theme.useToken();
  return (
    <h5 className={['text-ellipsis', className].filter(Boolean).join(' ')}
      style={{ margin: 0, color: token.colorTextHeading, fontSize: token.fontSizeHeading5, fontWeight: token.fontWeightStrong, lineHeight: token.lineHeightHeading5 }}>
      {children}
    </h5>
  );
}

/**
 * A small label in antd Tag's look, for the conversation's status, assignee, rating and team
 * (antd's Tag brings its colour-picker helpers and Collapse into the first download).
 */
export function Chip({ color = 'default', icon, children, ...rest }: {
  color?: 'default' | 'green' | 'gold' | 'red' | 'blue';
  icon?: ReactNode;
  children?: ReactNode;
  'data-testid'?: string;
}) {
  return <span className={`chip chip-${color}`} {...rest}>{icon}{icon ? <span>{children}</span> : children}</span>;
}
