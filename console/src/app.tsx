// Routes and providers: language, Ant Design's theme and locale, signed-out pages, and the
// console shell for members.
import { ConfigProvider } from 'antd';
import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { useSession } from './auth/use-session';
import { I18nProvider, useI18n } from './i18n';
import { Shell } from './shell';
import { stopConsoleStore } from './state/store';
import { AppProvider } from './ui/app';

// Signed-out pages are not in a member's first download (docs/console.md, "Weight").
const AcceptInvitePage = lazy(() => import('./pages/auth/accept-invite').then((m) => ({ default: m.AcceptInvitePage })));
const LoginPage = lazy(() => import('./pages/auth/login').then((m) => ({ default: m.LoginPage })));
const SignupPage = lazy(() => import('./pages/auth/signup').then((m) => ({ default: m.SignupPage })));
const ForgotPasswordPage = lazy(() => import('./pages/auth/tokens').then((m) => ({ default: m.ForgotPasswordPage })));
const ResetPasswordPage = lazy(() => import('./pages/auth/tokens').then((m) => ({ default: m.ResetPasswordPage })));
const VerifyEmailPage = lazy(() => import('./pages/auth/tokens').then((m) => ({ default: m.VerifyEmailPage })));

function Themed({ children }: { children: ReactNode }) {
  const { antd } = useI18n();
  return (
    <ConfigProvider locale={antd} theme={{ token: { colorPrimary: '#2563eb', borderRadius: 8 } }}>
      <AppProvider>{children}</AppProvider>
    </ConfigProvider>
  );
}

function Members() {
  const current = useSession();
  const location = useLocation();
  // Signed out (here or in another tab): the live connection ends with the session.
  useEffect(() => {
    if (!current) stopConsoleStore();
  }, [current]);
  if (!current) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <Shell session={current} />;
}

function SignedOutOnly({ children }: { children: ReactNode }) {
  return useSession() ? <Navigate to="/inbox" replace /> : children;
}

export function App() {
  const current = useSession();
  return (
    <I18nProvider userId={current?.user.id}>
      <Themed>
        <BrowserRouter>
          <Suspense fallback={null}>
          <Routes>
            <Route path="/login" element={<SignedOutOnly><LoginPage /></SignedOutOnly>} />
            <Route path="/signup" element={<SignedOutOnly><SignupPage /></SignedOutOnly>} />
            <Route path="/forgot-password" element={<ForgotPasswordPage />} />
            <Route path="/reset-password" element={<ResetPasswordPage />} />
            <Route path="/verify-email" element={<VerifyEmailPage />} />
            <Route path="/accept-invite" element={<AcceptInvitePage />} />
            <Route path="/*" element={<Members />} />
          </Routes>
          </Suspense>
        </BrowserRouter>
      </Themed>
    </I18nProvider>
  );
}
