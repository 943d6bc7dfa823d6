//! The widget's built files (edge/widget, `npm run build` → `dist/`): the loader code that
//! follows each tenant's inlined config in `GET /w/{site_key}.js`, and the chat UI bundle served
//! under a content-hashed name. `dist/widget/manifest.json` names them; the runtimes read the
//! files (natively from `widget_dir`, in Workers from the static-assets binding) and hand them
//! here.

use serde::Deserialize;

/// What `dist/widget/manifest.json` says (paths relative to `dist/`).
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// The loader code, e.g. `widget/loader.js`.
    pub loader: String,
    /// A short hash of the loader code: part of every loader's ETag, so a new widget release
    /// revalidates every tenant's loader.
    pub loader_hash: String,
    /// The chat UI bundle, e.g. `widget/ui-3f2a….js` (its name changes with its content).
    pub ui: String,
}

/// The loader code and the UI's location, ready to serve.
#[derive(Debug, Clone)]
pub struct WidgetAssets {
    /// The manifest.
    pub manifest: Manifest,
    /// The loader code.
    pub loader: String,
}

/// `Cache-Control` of the content-hashed UI bundle.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

impl WidgetAssets {
    /// From the manifest's text and the loader's code.
    pub fn new(manifest: &str, loader: String) -> Result<Self, String> {
        let manifest: Manifest =
            serde_json::from_str(manifest).map_err(|e| format!("widget manifest.json is not valid: {e}"))?;
        let safe = |p: &str| p.starts_with("widget/") && !p.contains("..") && !p.contains('\\');
        if !safe(&manifest.loader) || !safe(&manifest.ui) {
            return Err("widget manifest.json names files outside widget/".into());
        }
        Ok(Self { manifest, loader })
    }

    /// The UI bundle's path on the edge (`/widget/ui-….js`).
    pub fn ui_route(&self) -> String {
        format!("/{}", self.manifest.ui)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside_widget() {
        let ok = r#"{"loader":"widget/loader.js","loader_hash":"abc","ui":"widget/ui-1.js"}"#;
        let assets = WidgetAssets::new(ok, "/*code*/".into()).expect("valid");
        assert_eq!(assets.ui_route(), "/widget/ui-1.js");
        let escape = r#"{"loader":"widget/../secret","loader_hash":"abc","ui":"widget/ui-1.js"}"#;
        assert!(WidgetAssets::new(escape, String::new()).is_err());
        assert!(WidgetAssets::new("{}", String::new()).is_err());
    }
}
