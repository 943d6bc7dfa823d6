// Message text as Preact nodes: plain text (Preact escapes it, so no HTML from either side ever
// renders) with http(s) links made clickable. Nothing else is interpreted.

const LINK = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}。，；：！？）】]/gi;

export function Text({ body }: { body: string }) {
  const parts: Array<string | { href: string }> = [];
  let last = 0;
  for (const match of body.matchAll(LINK)) {
    const at = match.index || 0;
    if (at > last) parts.push(body.slice(last, at));
    parts.push({ href: match[0] });
    last = at + match[0].length;
  }
  if (last < body.length) parts.push(body.slice(last));
  return (
    <>
      {parts.map((part, i) =>
        typeof part === 'string' ? (
          part
        ) : (
          <a key={i} href={safeHref(part.href)} target="_blank" rel="noopener noreferrer nofollow">
            {part.href}
          </a>
        ),
      )}
    </>
  );
}

/** Only http(s) URLs become links; the URL constructor normalises what the regex found. */
function safeHref(href: string): string {
  try {
    const url = new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : '#';
  } catch {
    return '#';
  }
}
