// Which of the site's languages the visitor gets (shared by the loader and the UI).

/** The browser's first language the site offers (exactly, or by its base), else the default. */
export function pickLanguage(offered: string[], fallback: string): string {
  for (const want of navigator.languages || [navigator.language]) {
    const exact = offered.find((l) => l.toLowerCase() === want.toLowerCase());
    if (exact) return exact;
    const base = offered.find((l) => l.split('-')[0] === want.split('-')[0].toLowerCase());
    if (base) return base;
  }
  return fallback;
}
