// The widget editor's preview frame: the settings come in the URL fragment (from the console's
// own page, never sent to a server); the real loader and UI come from the edge, in preview mode.
(function () {
  var raw = location.hash.slice(1);
  if (!raw) return;
  var bytes = Uint8Array.from(atob(raw), function (c) { return c.charCodeAt(0); });
  var preview = JSON.parse(new TextDecoder().decode(bytes));
  window.KefuConfig = { site_key: 'preview', edge_url: preview.edge_url, version: 0, settings: preview.settings, preview: preview.mode };
  var q = [['open']];
  window.Kefu = function () { q.push(arguments); };
  window.Kefu.q = q;
  var script = document.createElement('script');
  script.src = preview.edge_url + '/widget/loader.js';
  script.async = true;
  document.head.appendChild(script);
})();
