//! Stripe billing (issue 16, docs/billing.md "Stripe") against a fake Stripe serving the API's
//! fixtures: an owner subscribes through Checkout with seats = members; verified webhooks (the
//! library's test header) put the workspace on the plan Stripe says, once per event and by the
//! subscription's state whatever the events' order; a plan change moves the live subscription;
//! cancelling at the period's end and taking it back; a failed payment keeps the plan through the
//! grace period, then Free with data kept, and a payment brings the plan back; seats follow
//! members; Stripe down changes nothing and the webhook asks to be sent again.

use kefu_api::fake_stripe::{FakeStripe, WEBHOOK_SECRET};
use kefu_api::testing::{Session, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn deliver(app: &TestApp, payload: &str, signature: &str) -> (StatusCode, Value) {
    let response = app
        .http
        .post(app.url("/api/v1/stripe/webhook"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(payload.to_owned())
        .send()
        .await
        .expect("deliver");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn signed(app: &TestApp, payload: &str) -> (StatusCode, Value) {
    deliver(app, payload, &FakeStripe::sign(payload, WEBHOOK_SECRET, None)).await
}

async fn plan_of(app: &TestApp, owner: &Session) -> Value {
    let (status, usage) = app.get("/api/v1/usage", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    usage
}

async fn billing(app: &TestApp, owner: &Session) -> Value {
    let (status, billing) = app.get("/api/v1/billing", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{billing}");
    billing
}

/// Subscribes through Checkout and completes it; returns the subscription's id.
async fn subscribed(app: &TestApp, fake: &FakeStripe, owner: &Session, plan: &str) -> String {
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": plan })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["checkout_url"].as_str().expect("a checkout url");
    let session = url.rsplit('/').next().expect("the session id");
    let (subscription, event) = fake.complete_checkout(session);
    let (status, body) = signed(app, &event).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("applied")), "{body}");
    subscription
}

#[tokio::test]
async fn an_owner_subscribes_through_checkout_and_stripes_state_decides_the_plan() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_with_stripe(&fake).await;
    let owner = app.verified_owner().await;
    let admin = app.invite_and_accept(&owner, "admin").await;

    // Before: on the Pro trial, no subscription; billing is the owner's alone.
    let before = billing(&app, &owner).await;
    assert_eq!((&before["stripe"], &before["live"], &before["status"]), (&json!(true), &json!(false), &Value::Null));
    assert_eq!(app.get("/api/v1/billing", Some(&admin.access)).await.0, StatusCode::FORBIDDEN);
    let (status, _) = app.post("/api/v1/billing/subscribe", Some(&admin.access), json!({ "plan": "starter" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": "free" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "Free is not sold: {body}");
    let (status, _) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": "nope" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Checkout: a customer for the workspace (its owner's address), seats = members.
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": "starter" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["checkout_url"].as_str().expect("checkout url").to_owned();
    assert!(url.starts_with(&fake.base), "{url}");
    let calls = fake.calls();
    let customer = calls.iter().find(|c| c.path == "/v1/customers").expect("a customer created");
    assert_eq!(customer.param("email"), Some(owner.email.as_str()));
    assert_eq!(customer.param("metadata[tenant_id]"), Some(owner.tenant_id.as_str()));
    let checkout = calls.iter().find(|c| c.path == "/v1/checkout/sessions").expect("a checkout session");
    assert_eq!(checkout.param("mode"), Some("subscription"));
    assert_eq!(checkout.param("line_items[0][price]"), Some("price_starter"));
    assert_eq!(checkout.param("line_items[0][quantity]"), Some("2"), "owner + admin");
    assert_eq!(checkout.param("client_reference_id"), Some(owner.tenant_id.as_str()));
    assert!(checkout.param("success_url").is_some_and(|u| u.ends_with("/admin/billing?checkout=done")));

    // Paid: the signed event is verified; a bad signature or a stale timestamp is refused.
    let (subscription, event) = fake.complete_checkout(url.rsplit('/').next().expect("id"));
    let (status, body) = deliver(&app, &event, &FakeStripe::sign(&event, "whsec_wrong", None)).await;
    assert_eq!((status, &body["code"]), (StatusCode::BAD_REQUEST, &json!("invalid_signature")), "{body}");
    let stale = chrono::Utc::now().timestamp() - 600;
    let (status, _) = deliver(&app, &event, &FakeStripe::sign(&event, WEBHOOK_SECRET, Some(stale))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "over five minutes old");
    let (status, _) =
        deliver(&app, &event.replace("complete", "completE"), &FakeStripe::sign(&event, WEBHOOK_SECRET, None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an altered body");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "pro", "nothing refused was applied");
    let (status, body) = signed(&app, &event).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("applied")), "{body}");
    let usage = plan_of(&app, &owner).await;
    assert_eq!(
        (&usage["plan"]["id"], &usage["trial_ends_at"]),
        (&json!("starter"), &Value::Null),
        "the trial ended: {usage}"
    );
    let now = billing(&app, &owner).await;
    assert_eq!(
        (&now["status"], &now["live"], &now["billed_seats"]),
        (&json!("active"), &json!(true), &json!(2)),
        "{now}"
    );
    let period_end = now["period_end"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    assert!(period_end.is_some_and(|e| e > chrono::Utc::now()), "renews in the future: {now}");

    // The same event again: acknowledged, not applied twice.
    let (status, body) = signed(&app, &event).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("duplicate")), "{body}");

    // Events applied by state, not by arrival: Pro in the portal, then a cancellation; Stripe
    // delivers the later event first, and each reads the subscription as it is now.
    let to_pro = fake.change_subscription(&subscription, |s| s["items"]["data"][0]["price"]["id"] = json!("price_pro"));
    let cancelled = fake.change_subscription(&subscription, |s| s["cancel_at_period_end"] = json!(true));
    for event in [&cancelled, &to_pro] {
        let (status, body) = signed(&app, event).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "pro");
    assert_eq!(billing(&app, &owner).await["cancel_at_period_end"], true);

    // Taking the cancellation back, then changing plan in place (no second checkout).
    let (status, body) = app.post("/api/v1/billing/resume", Some(&owner.access), json!({})).await;
    assert_eq!((status, &body["cancel_at_period_end"]), (StatusCode::OK, &json!(false)), "{body}");
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": "starter" })).await;
    assert_eq!((status, &body["checkout_url"]), (StatusCode::OK, &Value::Null), "{body}");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "starter", "applied at once");
    let moved = fake
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.path == format!("/v1/subscriptions/{subscription}") && c.method == "POST");
    assert_eq!(moved.as_ref().and_then(|c| c.param("items[0][price]")), Some("price_starter"));
    assert_eq!(moved.as_ref().and_then(|c| c.param("proration_behavior")), Some("create_prorations"));

    // Cancelling at the period's end keeps the plan until Stripe ends the subscription.
    let (status, body) = app.post("/api/v1/billing/cancel", Some(&owner.access), json!({})).await;
    assert_eq!((status, &body["cancel_at_period_end"]), (StatusCode::OK, &json!(true)), "{body}");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "starter");
    let ended = fake.change_subscription(&subscription, |s| s["status"] = json!("canceled"));
    let (status, body) = signed(&app, &ended).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "free");
    assert_eq!(billing(&app, &owner).await["live"], false);
    let mails = app.mailbox(&owner.email).await;
    assert!(mails.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("now on Free"))), "{mails:?}");
    let (_, audit) = app.get("/api/v1/audit-log?action=plan.changed", Some(&owner.access)).await;
    let causes: Vec<&str> =
        audit["entries"].as_array().into_iter().flatten().filter_map(|e| e["details"]["cause"].as_str()).collect();
    assert!(causes.contains(&"subscription_ended") && causes.contains(&"subscription"), "{audit}");
    let (status, body) = app.post("/api/v1/billing/cancel", Some(&owner.access), json!({})).await;
    assert_eq!((status, &body["code"]), (StatusCode::CONFLICT, &json!("no_subscription")), "{body}");

    // The portal for invoices and payment methods, for the workspace's customer.
    let (status, body) = app.post("/api/v1/billing/portal", Some(&owner.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["url"].as_str().is_some_and(|u| u.starts_with(&fake.base)), "{body}");

    // A private plan is not offered to anyone but a workspace on it (a custom plan it may pay for).
    let custom = app.verified_owner().await;
    let plan = app.own_plan(&custom, "stripe_price_id = 'price_custom'").await;
    let (status, _) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": plan })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not this workspace's plan");
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&custom.access), json!({ "plan": plan })).await;
    assert_eq!(status, StatusCode::OK, "its own custom plan: {body}");
    assert!(body["checkout_url"].is_string(), "{body}");
}

#[tokio::test]
async fn a_failed_payment_keeps_the_plan_through_the_grace_then_free_with_data_kept_until_paid() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_with_stripe(&fake).await;
    let owner = app.verified_owner().await;
    let subscription = subscribed(&app, &fake, &owner, "pro").await;
    app.enable_bot(&owner).await;

    // The renewal fails: Stripe's invoice event, then the subscription is past due.
    let (status, body) = signed(&app, &fake.invoice_failed(&subscription)).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("applied")), "{body}");
    let past_due = fake.change_subscription(&subscription, |s| s["status"] = json!("past_due"));
    assert_eq!(signed(&app, &past_due).await.0, StatusCode::OK);
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "pro", "kept through the grace period");
    let grace = billing(&app, &owner).await;
    let ends = grace["grace_ends_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let days = ends.map(|e| (e.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours());
    assert!(days.is_some_and(|h| (6 * 24..=7 * 24).contains(&h)), "seven days of grace: {grace}");

    // The grace period passes: any node's round moves the workspace to Free; nothing deleted.
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant");
    sqlx::query("update control.tenants set payment_failing_since = now() - interval '8 days' where id = $1")
        .bind(tenant)
        .execute(app.db())
        .await
        .expect("grace over");
    let stripe = app.state.stripe.clone().expect("stripe configured");
    let mut moved = 0;
    for _ in 0..50 {
        moved += kefu_api::billing::payments::jobs::end_grace(&stripe, app.databases()).await.expect("a round");
        if plan_of(&app, &owner).await["plan"]["id"] == "free" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(moved <= 1, "moved once");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "free");
    let (_, bot) = app.get("/api/v1/bot", Some(&owner.access)).await;
    assert_eq!(bot["enabled"], false, "Free has no bot: turned off, its knowledge kept: {bot}");
    let mails = app.mailbox(&owner.email).await;
    assert!(
        mails.iter().any(|m| m["body_text"].as_str().is_some_and(|b| b.contains("could not collect"))),
        "{mails:?}"
    );

    // The payment succeeds after all: Pro again, the grace forgotten.
    let paid = fake.change_subscription(&subscription, |s| s["status"] = json!("active"));
    assert_eq!(signed(&app, &paid).await.0, StatusCode::OK);
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "pro");
    assert_eq!(billing(&app, &owner).await["grace_ends_at"], Value::Null);
}

#[tokio::test]
async fn billed_seats_follow_the_members() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_with_stripe(&fake).await;
    let owner = app.verified_owner().await;
    let subscription = subscribed(&app, &fake, &owner, "pro").await;
    let quantity =
        |fake: &FakeStripe| fake.subscription(&subscription).map(|s| s["items"]["data"][0]["quantity"].clone());
    assert_eq!(quantity(&fake), Some(json!(1)));
    // Another workspace whose subscription Stripe no longer has: its round fails, the others go on.
    let broken = app.verified_owner().await;
    sqlx::query(
        "update control.tenants set stripe_customer_id = 'cus_gone', stripe_subscription_id = 'sub_gone',
             subscription_status = 'active', billed_seats = 7 where id = $1",
    )
    .bind(broken.tenant_id.parse::<kefu_protocol::TenantId>().expect("tenant"))
    .execute(app.db())
    .await
    .expect("a broken subscription");

    let agent = app.invite_and_accept(&owner, "agent").await;
    let mut seats = Value::Null;
    for _ in 0..100 {
        seats = billing(&app, &owner).await["billed_seats"].clone();
        if seats == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!((seats.clone(), quantity(&fake)), (json!(2), Some(json!(2))), "a member joined: billed at once");

    let path = format!("/api/v1/members/{}", agent.user_id);
    let (status, _) = app.call("DELETE", &path, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for _ in 0..100 {
        seats = billing(&app, &owner).await["billed_seats"].clone();
        if seats == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!((seats, quantity(&fake)), (json!(1), Some(json!(1))), "a member left");
    let updates = fake.calls().into_iter().filter(|c| c.param("items[0][quantity]").is_some()).count();
    assert_eq!(updates, 2, "one update per change");
}

#[tokio::test]
async fn stripe_down_changes_nothing_and_the_webhook_asks_to_be_sent_again() {
    let fake = FakeStripe::start().await;
    let app = TestApp::spawn_with_stripe(&fake).await;
    let owner = app.verified_owner().await;
    let other = app.verified_owner().await;
    let subscription = subscribed(&app, &fake, &owner, "starter").await;

    fake.set_failing(true);
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": "pro" })).await;
    assert_eq!((status, &body["code"]), (StatusCode::BAD_GATEWAY, &json!("upstream_unavailable")), "{body}");
    let event = fake.change_subscription(&subscription, |s| s["items"]["data"][0]["price"]["id"] = json!("price_pro"));
    let (status, _) = signed(&app, &event).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "not applied: Stripe must send it again");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "starter");
    fake.set_failing(false);
    let (status, body) = signed(&app, &event).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("applied")), "{body}");
    assert_eq!(plan_of(&app, &owner).await["plan"]["id"], "pro");

    // A checkout completion naming another workspace than its customer's is not applied to
    // either (only Stripe can sign, but the ids must agree).
    let (_, forged) = fake.complete_checkout_for(&subscription, &other.tenant_id);
    let (status, body) = signed(&app, &forged).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("ignored")), "{body}");
    assert_eq!(plan_of(&app, &other).await["plan"]["id"], "pro", "still its trial");
    assert_eq!(billing(&app, &other).await["status"], Value::Null);
}

#[tokio::test]
async fn without_stripe_billing_says_so_and_the_webhook_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let view = billing(&app, &owner).await;
    assert_eq!(view["stripe"], false, "{view}");
    let (status, body) = app.post("/api/v1/billing/subscribe", Some(&owner.access), json!({ "plan": "pro" })).await;
    assert_eq!((status, &body["code"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("service_unavailable")), "{body}");
    let (status, _) = signed(&app, r#"{"id":"evt_1","type":"customer.subscription.updated"}"#).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

/// The issue's "done when", on two nodes: a signup's trial ends, the workspace hits Free's
/// limits, upgrades through Checkout, the new limits apply on both nodes, and a failed payment
/// brings it back to Free once the grace period is over, with its members kept.
#[tokio::test]
async fn a_business_hits_the_free_limits_upgrades_everywhere_and_is_downgraded_after_a_failed_payment() {
    let fake = FakeStripe::start().await;
    let a = TestApp::spawn_with_stripe(&fake).await;
    let b = a.another_stripe_node(&fake).await;
    let owner = a.verified_owner().await;
    let tenant: kefu_protocol::TenantId = owner.tenant_id.parse().expect("tenant");

    // The trial ends: Free.
    sqlx::query("update control.tenants set trial_ends_at = now() - interval '1 minute' where id = $1")
        .bind(tenant)
        .execute(a.db())
        .await
        .expect("trial over");
    for _ in 0..50 {
        kefu_api::billing::lifecycle::end_trials(a.databases()).await.expect("a round");
        if plan_of(&b, &owner).await["plan"]["id"] == "free" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(plan_of(&b, &owner).await["plan"]["id"], "free");

    // Free's limits: two seats, no bot.
    let _agent = a.invite_and_accept(&owner, "agent").await;
    let invite = |email: &str| json!({ "email": email, "role": "agent" });
    let (status, body) = a.post("/api/v1/invitations", Some(&owner.access), invite("third@example.com")).await;
    assert_eq!((status, &body["code"]), (StatusCode::CONFLICT, &json!("seat_limit_reached")), "{body}");
    let on = json!({ "enabled": true, "threshold": 0.7, "matcher": "lexical" });
    let (status, body) = b.call("PUT", "/api/v1/bot", Some(&owner.access), Some(on.clone())).await;
    assert_eq!((status, &body["code"]), (StatusCode::FORBIDDEN, &json!("plan_feature_required")), "{body}");
    let usage = plan_of(&a, &owner).await;
    let seats = usage["meters"].as_array().into_iter().flatten().find(|m| m["name"] == "seats").cloned();
    assert_eq!(seats.map(|m| m["level"].clone()), Some(json!("reached")), "{usage}");

    // Upgrade through Checkout (paid on node a's webhook): Pro applies on node b at once.
    let subscription = subscribed(&a, &fake, &owner, "pro").await;
    assert_eq!(plan_of(&b, &owner).await["plan"]["id"], "pro");
    let (status, body) = b.post("/api/v1/invitations", Some(&owner.access), invite("third@example.com")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = b.call("PUT", "/api/v1/bot", Some(&owner.access), Some(on)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let checkout = fake.calls().into_iter().find(|c| c.path == "/v1/checkout/sessions").expect("checkout");
    assert_eq!(checkout.param("line_items[0][quantity]"), Some("2"), "owner and agent billed");

    // A failed payment (delivered to node b), the grace period over: Free again, members kept.
    let past_due = fake.change_subscription(&subscription, |s| s["status"] = json!("past_due"));
    assert_eq!(signed(&b, &past_due).await.0, StatusCode::OK);
    assert_eq!(plan_of(&a, &owner).await["plan"]["id"], "pro", "in grace");
    sqlx::query("update control.tenants set payment_failing_since = now() - interval '8 days' where id = $1")
        .bind(tenant)
        .execute(a.db())
        .await
        .expect("grace over");
    let stripe = b.state.stripe.clone().expect("stripe");
    kefu_api::billing::payments::jobs::end_grace(&stripe, b.databases()).await.expect("a round");
    assert_eq!(plan_of(&a, &owner).await["plan"]["id"], "free");
    let (_, members) = a.get("/api/v1/members", Some(&owner.access)).await;
    assert_eq!(members.as_array().map(Vec::len), Some(2), "nobody removed: {members}");
    let (status, body) = a.post("/api/v1/invitations", Some(&owner.access), invite("fourth@example.com")).await;
    assert_eq!((status, &body["code"]), (StatusCode::CONFLICT, &json!("seat_limit_reached")), "over the seats: {body}");
    let (_, bot) = b.get("/api/v1/bot", Some(&owner.access)).await;
    assert_eq!(bot["enabled"], false, "{bot}");
}
