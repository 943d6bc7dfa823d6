//! What an uploaded file is, from its first bytes: only images that browsers render safely, PDF,
//! office documents, archives and plain UTF-8 text are accepted. Everything else — executables,
//! HTML, SVG (scripts), unknown binaries — is refused, whatever its name says.

/// An accepted kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The media type stored and served.
    pub content_type: &'static str,
    /// Shown inline (an image preview) rather than downloaded.
    pub inline_image: bool,
}

const ALLOWED: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
];

/// Classifies `bytes`; `None` when the content is not an accepted kind.
pub fn classify(bytes: &[u8]) -> Option<Kind> {
    if let Some(found) = infer::get(bytes) {
        let mime = found.mime_type();
        let accepted = ALLOWED.iter().find(|allowed| **allowed == mime)?;
        return Some(Kind { content_type: accepted, inline_image: accepted.starts_with("image/") });
    }
    // No magic number: plain text, if it is UTF-8 without control bytes (other than whitespace)
    // and does not look like markup a browser would render.
    let text = std::str::from_utf8(bytes).ok()?;
    let controls = text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    let head = text.trim_start().get(..64).unwrap_or(text.trim_start()).to_ascii_lowercase();
    let markup = head.starts_with("<!doctype")
        || head.starts_with("<html")
        || head.starts_with("<svg")
        || head.starts_with("<?xml");
    (!controls && !markup).then_some(Kind { content_type: "text/plain; charset=utf-8", inline_image: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(classify(PNG), Some(Kind { content_type: "image/png", inline_image: true }));
        assert_eq!(classify(b"%PDF-1.7\n...").map(|k| k.content_type), Some("application/pdf"));
        assert_eq!(
            classify("订单号 A-1001\n谢谢".as_bytes()).map(|k| k.content_type),
            Some("text/plain; charset=utf-8")
        );
        // An executable, HTML and SVG are refused whatever they are called.
        assert_eq!(classify(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff"), None);
        assert_eq!(classify(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0"), None);
        assert_eq!(classify(b"<!DOCTYPE html><script>alert(1)</script>"), None);
        assert_eq!(classify(b"  <svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"), None);
        assert_eq!(classify(b"binary\0with nul"), None);
    }
}
