// What antd's App component gave the console, without what it costs: the pages use `App.useApp()`
// only for `message` (and one admin dialog for `modal`, which makes its own), while antd's App
// also brings Modal, Skeleton and notification into every member's first download
// (docs/console.md, "Weight"). The wrapper keeps App's base text style (colour, size, font).
import { message, theme } from 'antd';
import type { MessageInstance } from 'antd/es/message/interface';
import { createContext, useContext, type ReactNode } from 'react';

const Context = createContext<{ message: MessageInstance }>({ message });

export function AppProvider({ children }: { children: ReactNode }) {
  const [api, holder] = message.useMessage();
  const { token } = theme.useToken();
  return (
    <Context.Provider value={{ message: api }}>
      <div className="app" style={{ color: token.colorText, fontSize: token.fontSize, lineHeight: token.lineHeight, fontFamily: token.fontFamily }}>
        {holder}
        {children}
      </div>
    </Context.Provider>
  );
}

/** The console's `message`, themed and localized like the rest of the app (as antd's `App.useApp()` did). */
export function useApp(): { message: MessageInstance } {
  return useContext(Context);
}
