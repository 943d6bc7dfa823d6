//! Authentication: signing and verifying access tokens, and the request principals
//! (`Member`/`ApiKey`) that handlers receive through the extractors in `http::extract`.

pub mod jwt;
pub mod principal;
pub mod scope;
pub mod session;
pub mod two_factor;

pub use jwt::{JwtKeys, TokenError};
pub use principal::{Principal, TenantCtx, invalid_token};
pub use scope::{Scope, Scopes};
