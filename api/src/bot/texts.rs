//! What the bot says besides the knowledge base's answers, in Chinese or English (the question's
//! script decides), and the typed requests for a person it recognises.

use super::lexical::is_han;

/// The language of the bot's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Chinese for a text in Chinese characters, else English.
    pub fn of(text: &str) -> Self {
        if text.chars().any(is_han) { Lang::Zh } else { Lang::En }
    }
}

/// The bot's name when the tenant set none.
pub fn default_name(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "智能助手",
        Lang::En => "Assistant",
    }
}

/// Handing off because the bot has no good answer.
pub fn no_answer(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "这个问题我暂时回答不了，已为您转接人工客服，请稍候。",
        Lang::En => "I don't have a good answer to that, so I've passed you to a person on our team. Please hold on.",
    }
}

/// Handing off because the visitor asked for a person or an answer did not help.
pub fn to_people(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "好的，已为您转接人工客服，请稍候。",
        Lang::En => "Sure, I've passed you to a person on our team. Please hold on.",
    }
}

/// After "this helped".
pub fn glad(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "很高兴能帮到您！还有其他问题可以直接问我。",
        Lang::En => "Glad that helped! Ask me anything else.",
    }
}

/// A message with no question in it (a greeting).
pub fn ask_for_question(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "您好！请直接描述您的问题，我来为您解答；需要人工服务请点“转人工”。",
        Lang::En => "Hi! Tell me your question and I'll answer it, or tap “Talk to a human”.",
    }
}

/// Whether a short message (at most 5 terms) asks for a person ("转人工", "talk to a human").
pub fn asks_for_person(text: &str) -> bool {
    let text = text.to_lowercase().replace("人工智能", "");
    if super::lexical::terms(&text).len() > 5 {
        return false;
    }
    const PHRASES: &[&str] = &[
        "人工",
        "真人",
        "转接客服",
        "找客服",
        "human",
        "real person",
        "live agent",
        "an agent",
        "representative",
        "operator",
        "talk to someone",
        "speak to someone",
        "talk to a person",
        "speak to a person",
    ];
    PHRASES.iter().any(|p| text.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_for_a_person_are_recognised_in_both_languages() {
        for yes in ["转人工", "我要人工客服", "真人在吗", "Talk to a human please", "can I speak to a representative"]
        {
            assert!(asks_for_person(yes), "{yes}");
        }
        for no in [
            "退款多久到账",
            "how long does shipping take",
            "人工智能是什么？这是一个很长很长很长很长很长的问题，不是要找人的",
        ] {
            assert!(!asks_for_person(no), "{no}");
        }
        assert_eq!(Lang::of("退款"), Lang::Zh);
        assert_eq!(Lang::of("refund"), Lang::En);
    }
}
