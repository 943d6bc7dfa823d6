//! The hosted chat page (`GET /c/{link}`): what the link in a reply mail opens. The tenant's widget
//! (its loader, from this edge) fills the page and continues the visitor's conversation: it
//! exchanges the link for a session as the link's visitor (`session::grant`). A link that is
//! forged or expired gets a short page saying so, in English and Chinese.

use kefu_protocol::widget::EdgeSite;

/// The page's Content-Security-Policy: scripts only from this edge, connections to it (HTTP and
/// WebSocket), images from it and from https (a tenant's logo), inline styles (the widget's
/// shadow root).
pub fn csp(public_url: &str) -> String {
    let origin = public_url.trim_end_matches('/');
    let ws = origin.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1);
    format!(
        "default-src 'none'; script-src 'self' {origin}; connect-src 'self' {origin} {ws}; img-src 'self' {origin} https: data: blob:; \
         style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The page for a verified `link` to `site`'s chat.
pub fn render(site: &EdgeSite, link: &str, public_url: &str) -> String {
    let s = &site.settings;
    let title = s.texts.get(&s.default_language).map_or("Chat", |t| t.title.as_str());
    format!(
        "<!doctype html>\n<html lang=\"{lang}\" data-kefu-link=\"{link}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>html,body{{margin:0;height:100%;background:#e5e7eb}}</style></head>\
         <body><script src=\"{edge}/w/{site_key}.js\"></script></body></html>\n",
        lang = escape(&s.default_language),
        link = escape(link),
        title = escape(title),
        edge = escape(public_url.trim_end_matches('/')),
        site_key = site.site_key,
    )
}

/// The page for a link that does not work.
pub fn invalid() -> String {
    "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
     <title>Link expired · 链接已失效</title><style>body{font:16px/1.5 system-ui,sans-serif;margin:15vh auto;max-width:32em;padding:0 1em;color:#111827}</style>\
     </head><body><h1>This chat link has expired</h1><p>Chat links work for 30 days. Write to us again from our website.</p>\
     <h1 lang=\"zh-CN\">此对话链接已失效</h1><p lang=\"zh-CN\">对话链接 30 天内有效。请回到我们的网站重新联系我们。</p></body></html>\n"
        .into()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::widget::WidgetSettings;
    use kefu_protocol::{SiteKeyId, TenantId};

    #[test]
    fn the_page_loads_the_sites_widget_with_the_link_and_escapes_the_title() {
        let mut settings = WidgetSettings::default();
        settings.texts.get_mut("en").expect("en").title = "<Shop> & \"Co\"".into();
        let site = EdgeSite {
            site_key: SiteKeyId::from_uuid(uuid::Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            region: "local".into(),
            version: 1,
            settings,
            identity_secret: Some("secret-never-shown-0000000000000000".into()),
        };
        let page = render(&site, "aaa.bbb.ccc", "https://edge.example/");
        assert!(page.contains("data-kefu-link=\"aaa.bbb.ccc\""));
        assert!(page.contains(&format!("src=\"https://edge.example/w/{}.js\"", site.site_key)));
        assert!(page.contains("<title>&lt;Shop&gt; &amp; &quot;Co&quot;</title>"), "{page}");
        assert!(!page.contains("secret-never-shown"));
        assert!(csp("https://edge.example").contains("connect-src 'self' https://edge.example wss://edge.example"));
    }
}
