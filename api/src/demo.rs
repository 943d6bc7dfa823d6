//! The demo tenant for `make dev`: slug `demo`, owner `demo@kefu.localhost`. Development only.

use anyhow::Context;
use kefu_protocol::{SiteKeyId, UserId};

use crate::config::Mode;
use crate::db::NewId;
use crate::db::audit::Actor;
use crate::db::{self, TenantTx};
use crate::state::AppState;
use crate::tenancy::provision::{self, NewTenant};

/// Demo owner's email.
pub const DEMO_EMAIL: &str = "demo@kefu.localhost";
/// Demo owner's password (development only; printed on start).
pub const DEMO_PASSWORD: &str = "kefu-demo-password";

/// Creates the demo tenant and owner if missing; returns the login text to print.
pub async fn seed_demo(state: &AppState) -> anyhow::Result<String> {
    anyhow::ensure!(state.config.mode == Mode::Development, "seed-demo only runs with KEFU_MODE=development");
    let mut tx = state.db.control().begin().await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('kefu-seed-demo'))").execute(&mut *tx).await?;
    let user_id = match db::users::find_by_email(&mut tx, DEMO_EMAIL).await? {
        Some(user) => user.id,
        None => {
            let hash = crate::domain::password::hash(DEMO_PASSWORD)?;
            let id = UserId::new_v7();
            db::users::insert(&mut tx, id, DEMO_EMAIL, &hash, "Demo Owner", true).await?;
            id
        }
    };
    if db::tenants::find_by_slug(&mut tx, "demo").await?.is_none() {
        let tenant = provision::create_tenant(
            &mut tx,
            NewTenant { name: "Demo Shop 演示商店", slug: "demo", owner: user_id, region: &state.config.region },
        )
        .await?;
        let tenant_id = tenant.id;
        let mut tenant_tx = TenantTx::enter_new(&state.db, tx, &tenant).await?;
        db::agents::upsert(&mut tenant_tx, user_id, "Demo Owner").await?;
        // The demo shows conversations arriving already assigned, VIPs first.
        db::routing::update_settings(
            &mut tenant_tx,
            &db::routing::RoutingSettings {
                auto_assign: true,
                strategy: db::routing::Strategy::LeastBusy,
                default_team_id: None,
                tag_priorities: [("vip".to_owned(), 50)].into(),
            },
        )
        .await?;
        // The FAQ bot answers first, from the shop's knowledge base (the evaluation set's).
        let shop = crate::bot::eval::EvalSet::shipped()?;
        let entries: Vec<db::bot::NewEntry> = shop
            .entries
            .into_iter()
            .map(|e| db::bot::NewEntry {
                language: e.language,
                question: e.question,
                alternatives: e.alternatives,
                answer: e.answer,
                enabled: true,
            })
            .collect();
        db::bot::insert(&mut tenant_tx, &entries).await?;
        db::bot::update_settings(&mut tenant_tx, true, 0.7, crate::bot::matcher::MatcherKind::Lexical, "").await?;
        // Automatic replies on (no business hours: the team is there whenever an agent is).
        let mut hours = kefu_protocol::hours::ServiceHours::default();
        hours.auto_replies.greeting.enabled = true;
        hours.auto_replies.away.enabled = true;
        db::service_hours::save(&mut tenant_tx, &hours, None).await?;
        db::audit::record(
            &mut tenant_tx,
            Actor::System,
            "tenant.created",
            Some(&tenant_id.to_string()),
            serde_json::json!({ "demo": true }),
        )
        .await?;
        tenant_tx.commit().await?;
    } else {
        tx.commit().await?;
    }
    let site_key = demo_site(state).await?;
    Ok(format!(
        "demo tenant `demo`: log in with {DEMO_EMAIL} / {DEMO_PASSWORD}\n  demo site key: {site_key} (allowed on {origins})\n  curl -s {url}/api/v1/auth/login -H 'content-type: application/json' -d '{{\"email\":\"{DEMO_EMAIL}\",\"password\":\"{DEMO_PASSWORD}\"}}'",
        url = state.config.public_url.trim_end_matches('/'),
        origins = DEMO_ORIGINS.join(", "),
    ))
}

/// Origins of the demo shop page that `make dev` serves.
pub const DEMO_ORIGINS: [&str; 2] = ["http://127.0.0.1:8788", "http://localhost:8788"];

/// Gives the demo tenant a site key and lets the demo page embed the widget; returns the key.
async fn demo_site(state: &AppState) -> anyhow::Result<kefu_protocol::SiteKeyId> {
    let mut conn = state.db.control().acquire().await?;
    let tenant = db::tenants::find_by_slug(&mut conn, "demo").await?.context("the demo tenant is missing")?;
    drop(conn);
    let mut tx = TenantTx::begin(&state.db, &tenant.access.schema).await?;
    let key = match db::site_keys::list(&mut tx).await?.first() {
        Some(key) => key.id,
        None => db::site_keys::insert(&mut tx, SiteKeyId::new_v7(), "Demo shop").await?.id,
    };
    let widget = db::widget::get(&mut tx).await?;
    if widget.settings.0.allowed_origins.is_empty() {
        let mut settings = widget.settings.0.clone();
        settings.allowed_origins = DEMO_ORIGINS.iter().filter_map(|o| o.parse().ok()).collect();
        db::widget::save(&mut tx, &settings, None).await?;
    }
    tx.commit().await?;
    Ok(key)
}
