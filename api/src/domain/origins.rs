//! Widget origin patterns against the Public Suffix List: a wildcard over a public suffix
//! (`https://*.co.uk`, `https://*.github.io`) would let every site registered under it embed a
//! workspace's widget, so it is refused when saved and dropped when served to the edge.

use kefu_protocol::origin::OriginPattern;

/// Whether `pattern` is a wildcard whose domain is itself a public suffix (ICANN or private
/// section of the list).
pub fn covers_a_public_suffix(pattern: &OriginPattern) -> bool {
    pattern.wildcard_base().is_some_and(|base| psl::suffix_str(base) == Some(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(raw: &str) -> bool {
        covers_a_public_suffix(&raw.parse().expect("pattern"))
    }

    #[test]
    fn wildcards_over_public_suffixes_are_found() {
        for public in ["https://*.co.uk", "https://*.github.io", "https://*.com.cn", "http://*.herokuapp.com"] {
            assert!(covers(public), "{public}");
        }
        for own in [
            "https://*.shop.co.uk",
            "https://*.example.com",
            "https://*.alice.github.io",
            "https://shop.co.uk",
            "https://co.uk",
            "https://*.kefu.test",
        ] {
            assert!(!covers(own), "{own}");
        }
    }
}
