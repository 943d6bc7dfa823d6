//! What a visitor's connection says about them (F13): browser, OS and device from the User-Agent,
//! the preferred language, and campaign parameters (UTM) from page URLs.

/// Browser, OS and device class parsed from a User-Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// Browser name, e.g. `Chrome`.
    pub browser: Option<String>,
    /// Operating system, e.g. `Windows 10`.
    pub os: Option<String>,
    /// `pc`, `smartphone`, `mobilephone`, `crawler`, `appliance` or `misc`.
    pub device: Option<String>,
}

fn known(value: &str) -> Option<String> {
    (!value.is_empty() && value != "UNKNOWN").then(|| value.chars().take(80).collect())
}

impl Device {
    /// Parses a User-Agent header (at most its first 512 bytes are considered).
    pub fn from_user_agent(user_agent: &str) -> Self {
        let agent: String = user_agent.chars().take(512).collect();
        let Some(result) = woothee::parser::Parser::new().parse(&agent) else { return Self::default() };
        let os = match (known(result.os), result.os_version.as_ref()) {
            (Some(os), version) if !version.is_empty() && version != "UNKNOWN" && !os.contains(version) => {
                Some(format!("{os} {version}").chars().take(80).collect())
            }
            (os, _) => os,
        };
        Self { browser: known(result.name), os, device: known(result.category) }
    }
}

/// The first language tag of an `Accept-Language` header, if well-formed (`zh-CN`, `en`).
pub fn preferred_language(accept_language: &str) -> Option<String> {
    let first = accept_language.split(',').next()?.split(';').next()?.trim();
    let ok = (2..=35).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| first.to_owned())
}

/// The `utm_*` parameters of a URL as a JSON object (empty when none).
pub fn utm_of(url: &str) -> serde_json::Value {
    let mut utm = serde_json::Map::new();
    if let Ok(parsed) = url::Url::parse(url) {
        for (key, value) in parsed.query_pairs() {
            if let Some(name) = key.strip_prefix("utm_")
                && matches!(name, "source" | "medium" | "campaign" | "term" | "content")
            {
                utm.insert(name.to_owned(), serde_json::Value::String(value.chars().take(200).collect()));
            }
        }
    }
    serde_json::Value::Object(utm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_agents() {
        let chrome = Device::from_user_agent(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        );
        assert_eq!(chrome.browser.as_deref(), Some("Chrome"));
        assert!(chrome.os.as_deref().is_some_and(|os| os.starts_with("Windows")));
        assert_eq!(chrome.device.as_deref(), Some("pc"));
        let iphone = Device::from_user_agent(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        );
        assert_eq!(iphone.device.as_deref(), Some("smartphone"));
        assert_eq!(Device::from_user_agent(""), Device::default());
        assert_eq!(Device::from_user_agent(&"x".repeat(10_000)).browser, None);
    }

    #[test]
    fn languages_and_utm() {
        assert_eq!(preferred_language("zh-CN,zh;q=0.9,en;q=0.8").as_deref(), Some("zh-CN"));
        assert_eq!(preferred_language("<script>"), None);
        assert_eq!(
            utm_of("https://shop.example/p?utm_source=wechat&utm_campaign=%E5%8F%8C11&x=1"),
            serde_json::json!({ "source": "wechat", "campaign": "双11" })
        );
        assert_eq!(utm_of("not a url"), serde_json::json!({}));
    }
}
