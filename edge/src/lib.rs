//! Kefu edge: serves the per-tenant widget loader, admits visitors (site key, `Origin`
//! allow-list, identity verification, returning visitors) by minting short-lived visitor tokens,
//! and proxies their WebSocket to the tenant's home region.
//!
//! Architecture invariant: the policy modules (`assets`, `config`, `error`, `site`, `session`,
//! `loader`, `upgrade`) are plain Rust over `http` types with no runtime, so the same core runs natively
//! (`native`, axum + tokio, what `make dev` runs) and as a Cloudflare Worker (wasm32). Only the
//! runtime modules do I/O. This crate never depends on `kefu-api`, sqlx or Redis.

pub mod assets;
pub mod attachments;
pub mod config;
pub mod crypto;
pub mod error;
pub mod loader;
pub mod page;
pub mod session;
pub mod site;
pub mod upgrade;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

pub use kefu_protocol as protocol;
