//! Kefu edge: serves the per-tenant widget, authenticates visitors and proxies their WebSocket to
//! the tenant's home region. The same core will run as a Cloudflare Worker (wasm32) and natively.
//!
//! Architecture invariant: this crate depends on the wire contract (`kefu-protocol`) and never on
//! `kefu-api`, tokio or sqlx, so it keeps compiling for `wasm32-unknown-unknown`. The routes,
//! policies and runtime adapters arrive with the edge issue; until then the crate only pins
//! that dependency rule in the workspace.

pub use kefu_protocol as protocol;
