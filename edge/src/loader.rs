//! The per-tenant loader script (`GET /w/{site_key}.js`): the tenant's public widget
//! configuration inlined as JSON (`window.KefuConfig`) followed by the widget's loader code
//! (edge/widget/src/loader.ts), versioned by the settings version and the loader's hash so
//! caches revalidate cheaply.

use kefu_protocol::widget::EdgeSite;
use serde::Serialize;

use crate::assets::WidgetAssets;

/// Seconds browsers and CDNs may use the loader without revalidating.
pub const MAX_AGE_SECS: u64 = 10;

/// The public part of a site's configuration (never the identity secret).
#[derive(Debug, Serialize)]
struct PublicConfig<'a> {
    site_key: String,
    edge_url: &'a str,
    version: i64,
    settings: PublicSettings<'a>,
}

#[derive(Debug, Serialize)]
struct PublicSettings<'a> {
    color: &'a str,
    position: kefu_protocol::widget::Position,
    logo_url: Option<&'a str>,
    default_language: &'a str,
    languages: &'a [String],
    texts: &'a std::collections::BTreeMap<String, kefu_protocol::widget::WidgetTexts>,
    pre_chat: &'a kefu_protocol::widget::FormSettings,
    offline_form: &'a kefu_protocol::widget::FormSettings,
    identity_required: bool,
}

/// The loader: `(etag, body)`.
pub fn render(site: &EdgeSite, edge_url: &str, assets: &WidgetAssets) -> (String, String) {
    let s = &site.settings;
    let config = PublicConfig {
        site_key: site.site_key.to_string(),
        edge_url: edge_url.trim_end_matches('/'),
        version: site.version,
        settings: PublicSettings {
            color: &s.color,
            position: s.position,
            logo_url: s.logo_url.as_deref(),
            default_language: &s.default_language,
            languages: &s.languages,
            texts: &s.texts,
            pre_chat: &s.pre_chat,
            offline_form: &s.offline_form,
            identity_required: s.identity_required,
        },
    };
    // JSON inside a script: escape `<` so no `</script>` or `<!--` can close or confuse it.
    let json = serde_json::to_string(&config).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c");
    let body = format!(
        "/* Kefu widget v{version} */\n(function(){{var c={json};window.KefuConfig=c;\
         var q=window.Kefu&&window.Kefu.q||[];window.Kefu=window.Kefu||function(){{q.push(arguments)}};window.Kefu.q=q;}})();\n{code}",
        version = site.version,
        code = assets.loader,
    );
    (format!("\"{}-{}-{}\"", site.site_key, site.version, assets.manifest.loader_hash), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_protocol::widget::WidgetSettings;
    use kefu_protocol::{SiteKeyId, TenantId};

    #[test]
    fn inlines_public_settings_only_and_cannot_break_out_of_the_script() {
        let mut settings = WidgetSettings::default();
        settings.texts.get_mut("en").expect("en").title = "</script><script>alert(1)</script>".into();
        let site = EdgeSite {
            site_key: SiteKeyId::from_uuid(uuid::Uuid::now_v7()),
            tenant_id: TenantId::from_uuid(uuid::Uuid::now_v7()),
            region: "local".into(),
            version: 7,
            settings,
            identity_secret: Some("top-secret-identity-key-000000000000".into()),
        };
        let manifest = r#"{"loader":"widget/loader.js","loader_hash":"h1","ui":"widget/ui-1.js"}"#;
        let assets = WidgetAssets::new(manifest, "/*loader code*/".into()).expect("assets");
        let (etag, body) = render(&site, "https://edge.example/", &assets);
        assert_eq!(etag, format!("\"{}-7-h1\"", site.site_key));
        assert!(body.ends_with("/*loader code*/"));
        assert!(!body.contains("</script"), "{body}");
        assert!(!body.contains("top-secret"), "the identity secret never reaches the browser");
        assert!(body.contains("\"edge_url\":\"https://edge.example\""));
        assert!(body.contains("在线客服"));
    }
}
