// The chat panel's CSS, injected into the loader's shadow root: nothing here leaks out,
// and the host page's rules cannot reach in. `--k` is the tenant's colour. The loader's own
// rules share the root and use the class names `kl` and `kb`: never reuse those here.

export function css(color: string, side: 'left' | 'right'): string {
  const c = /^#[0-9a-fA-F]{3,8}$/.test(color) ? color : '#2563eb';
  return `
.p{--k:${c};position:fixed;bottom:88px;${side}:20px;width:370px;height:min(580px,calc(100vh - 108px));
display:flex;flex-direction:column;background:#fff;color:#111827;border-radius:14px;overflow:hidden;
box-shadow:0 12px 40px rgba(0,0,0,.22);font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC",
"Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;z-index:3;box-sizing:border-box;text-align:left}
.p *,.p *::before,.p *::after{box-sizing:border-box}
@media (max-width:480px){.p{inset:0;width:100%;height:100%;border-radius:0}}
.p.pg{inset:0;margin:0 auto;width:100%;max-width:720px;height:100%;border-radius:0}
.h{display:flex;align-items:center;gap:10px;padding:12px 14px;background:var(--k);color:#fff}
.h img,.av{width:32px;height:32px;border-radius:50%;flex:none;object-fit:cover;background:rgba(255,255,255,.25);
display:flex;align-items:center;justify-content:center;font-weight:700}
.t{flex:1;min-width:0}.t b{display:block;font-size:15px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.t small{display:block;opacity:.85;font-size:12px}
.ib{border:0;background:transparent;color:inherit;cursor:pointer;padding:6px;border-radius:8px;font:inherit;line-height:0}
.ib:hover{background:rgba(0,0,0,.12)}.ib svg{width:20px;height:20px}
.ib:focus-visible,.sb:focus-visible,.e button:focus-visible,.m button:focus-visible{outline:2px solid #111;outline-offset:1px}
.s{padding:6px 12px;font-size:12px;background:#fef3c7;color:#92400e}
.s.f{background:#fee2e2;color:#991b1b}
.l{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:6px;background:#f9fafb}
.m{max-width:80%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}
.m a{color:inherit;text-decoration:underline}
.m.a{align-self:flex-start;background:#fff;border:1px solid #e5e7eb;border-bottom-left-radius:4px}
.m.v{align-self:flex-end;background:var(--k);color:#fff;border-bottom-right-radius:4px}
.m.y{align-self:center;background:transparent;color:#6b7280;font-size:12px;text-align:center}
.m.q{opacity:.6}.m.x{background:#fee2e2;color:#991b1b}
.m button{border:0;background:transparent;color:inherit;text-decoration:underline;cursor:pointer;font:inherit;padding:0 0 0 8px}
.n{font-size:11px;color:#6b7280;margin:-2px 4px 2px}.n.r{align-self:flex-end}
.w{font-size:12px;color:#6b7280;padding:0 14px 6px;background:#f9fafb;min-height:18px}
.c{display:flex;align-items:flex-end;gap:6px;padding:10px;border-top:1px solid #e5e7eb;background:#fff;position:relative}
.c textarea{flex:1;resize:none;border:1px solid #d1d5db;border-radius:10px;padding:8px 10px;font:inherit;color:inherit;
background:#fff;max-height:120px;min-height:38px;outline:none}
.c textarea:focus{border-color:var(--k);box-shadow:0 0 0 2px color-mix(in srgb,var(--k) 25%,transparent)}
.c .ib{color:#6b7280}
.sb{border:0;background:var(--k);color:#fff;border-radius:10px;height:38px;padding:0 14px;cursor:pointer;font:inherit;font-weight:600}
.sb:disabled{opacity:.5;cursor:default}
.e{position:absolute;bottom:58px;left:10px;right:10px;display:grid;grid-template-columns:repeat(8,1fr);gap:2px;padding:8px;
background:#fff;border:1px solid #e5e7eb;border-radius:10px;box-shadow:0 6px 20px rgba(0,0,0,.12)}
.e button{border:0;background:transparent;font-size:20px;line-height:1;padding:5px;border-radius:6px;cursor:pointer}
.e button:hover{background:#f3f4f6}
.s.q{background:#eff6ff;color:#1e3a8a}
.s.b{background:#f0fdf4;color:#166534;display:flex;gap:8px;align-items:center;justify-content:space-between}
.s.b button,.bf button,.rq button{font:inherit;cursor:pointer;border:1px solid var(--k);color:var(--k);background:#fff;border-radius:999px;padding:3px 10px}
.bo{display:flex;flex-direction:column;gap:6px;align-self:flex-start;max-width:90%}
.bf{display:flex;flex-wrap:wrap;gap:6px;align-items:center;font-size:12px;color:#374151}
.rq{display:flex;flex-wrap:wrap;gap:6px}.rq button{text-align:left;font-size:13px}
.f{display:flex;flex-direction:column;gap:10px;padding:12px 14px;border-top:1px solid #e5e7eb;background:#fff;overflow-y:auto;max-height:70%}
.f>*,.r>*{flex-shrink:0}.f .sb,.r .sb{min-height:38px}
.f p{margin:0;color:#374151}.fl{display:flex;flex-direction:column;gap:4px}.f label{font-size:13px;color:#374151}
.f em{color:#dc2626;font-style:normal}.f small{color:#b91c1c;font-size:12px}
.f input,.f textarea,.r textarea{font:inherit;color:inherit;border:1px solid #d1d5db;border-radius:8px;padding:8px 10px;background:#fff;outline:none;resize:vertical}
.f input:focus,.f textarea:focus,.r textarea:focus{border-color:var(--k)}
.f [aria-invalid=true]{border-color:#dc2626}
.r{align-self:stretch;display:flex;flex-direction:column;gap:8px;background:#fff;border:1px solid #e5e7eb;border-radius:12px;padding:12px;margin-top:4px}
.r p{margin:0}.st{display:flex;gap:4px}
.st button{border:0;background:transparent;font-size:26px;line-height:1;color:#d1d5db;cursor:pointer;padding:2px}
.st button.on{color:#f59e0b}.st button:focus-visible{outline:2px solid #111}
.fa{display:block;color:inherit}.fa img{display:block;max-width:100%;max-height:220px;border-radius:8px}
.fc{text-decoration:underline}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;
}
