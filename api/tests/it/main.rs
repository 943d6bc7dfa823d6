//! Integration tests: the real api on an ephemeral port against real Postgres.
//! One binary, one module per area (house style). Every test makes its own tenants.

mod accounts;
mod analytics;
mod attachments;
mod audit;
mod auto_close;
mod bad_input;
mod billing;
mod bot;
mod console;
mod erasure;
mod export;
mod export_jobs;
mod feed;
mod handoff;
mod isolation;
mod keys;
mod mail;
mod members;
mod message_path;
mod migrations;
mod placement;
mod plans;
mod platform;
mod queue;
mod quotas;
mod rate_limits;
mod realtime;
mod reply_mail;
mod retention;
mod routing;
mod rules;
mod search;
mod service_hours;
mod tenant;
mod widget;
