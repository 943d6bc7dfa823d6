//! What an API key may touch: its scopes, one per resource and action. A request with a key runs
//! only if the key holds the scope its endpoint names (`http::extract::Auth`'s second parameter,
//! `admin` unless the endpoint says otherwise) and the key's role allows the action, as a
//! member's would. Member tokens are not scoped: their role decides alone.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One scope of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    /// Conversations, their messages, visitors, search, the queue and presence, read.
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    /// Acting on conversations: claim, close, reopen, transfer, tags, participants, read receipts.
    #[serde(rename = "conversations:write")]
    ConversationsWrite,
    /// Sending messages and private notes, and uploading their attachments.
    #[serde(rename = "messages:write")]
    MessagesWrite,
    /// Analytics and reports.
    #[serde(rename = "analytics:read")]
    AnalyticsRead,
    /// The compliance feed and archive exports.
    #[serde(rename = "feed:read")]
    FeedRead,
    /// Everything else: settings, members, teams, widgets, rules, the bot, keys, billing.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope, in the order lists show them.
    pub const ALL: [Scope; 6] = [
        Scope::ConversationsRead,
        Scope::ConversationsWrite,
        Scope::MessagesWrite,
        Scope::AnalyticsRead,
        Scope::FeedRead,
        Scope::Admin,
    ];

    /// The name stored and shown (`conversations:read`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ConversationsRead => "conversations:read",
            Scope::ConversationsWrite => "conversations:write",
            Scope::MessagesWrite => "messages:write",
            Scope::AnalyticsRead => "analytics:read",
            Scope::FeedRead => "feed:read",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown scope name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope.
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes in the set, in [`Scope::ALL`]'s order.
    pub fn to_vec(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.contains(*s)).collect()
    }

    /// The names, as stored.
    pub fn names(self) -> Vec<&'static str> {
        self.to_vec().into_iter().map(Scope::as_str).collect()
    }

    /// Parses stored names; unknown ones (a newer release's) are left out.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Self {
        names.iter().filter_map(|n| n.as_ref().parse().ok()).collect()
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_hold_what_was_put_in() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>().ok(), Some(scope));
            assert_eq!(serde_json::to_value(scope).ok(), Some(serde_json::json!(scope.as_str())));
        }
        assert!("conversations:delete".parse::<Scope>().is_err());
        let set = Scopes::from_names(&["feed:read", "admin", "bogus"]);
        assert_eq!(set.to_vec(), vec![Scope::FeedRead, Scope::Admin]);
        assert!(!set.contains(Scope::MessagesWrite));
        assert_eq!(Scopes::all().names().len(), 6);
        assert!(Scopes::default().is_empty());
    }
}
