//! A fake Stripe for tests (there is no Stripe mock in the package registries): an axum router on
//! a loopback port serving the endpoints Kefu calls, answering with the JSON fixtures in
//! `api/tests/fixtures/stripe/` (shaped for the API version `async-stripe` targets, and checked
//! against its types by this module's tests), keeping customers and subscriptions in memory so a
//! test can move a subscription through its life and get the signed event Stripe would send.
//! For a person (`make dev`, the console's browser scenario) it also serves a Checkout page whose
//! "Pay" button completes the session, delivers the signed event to the api's webhook and returns
//! to the console, and a Customer Portal page that can make the next payment fail.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

/// The fixtures, by name.
pub const FIXTURES: [(&str, &str); 6] = [
    ("customer", include_str!("../tests/fixtures/stripe/customer.json")),
    ("checkout_session", include_str!("../tests/fixtures/stripe/checkout_session.json")),
    ("billing_portal_session", include_str!("../tests/fixtures/stripe/billing_portal_session.json")),
    ("subscription", include_str!("../tests/fixtures/stripe/subscription.json")),
    ("invoice", include_str!("../tests/fixtures/stripe/invoice.json")),
    ("event", include_str!("../tests/fixtures/stripe/event.json")),
];

/// The webhook signing secret tests configure.
pub const WEBHOOK_SECRET: &str = "whsec_kefu_tests";

/// A fixture as JSON.
pub fn fixture(name: &str) -> Value {
    let text = FIXTURES.iter().find(|(n, _)| *n == name).map_or("null", |(_, text)| text);
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path (`/v1/customers`).
    pub path: String,
    /// The form parameters.
    pub params: Vec<(String, String)>,
}

impl Call {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Where the fake delivers the events its pages cause (the api's webhook).
#[derive(Clone)]
pub struct Delivery {
    /// The webhook's URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
}

#[derive(Default)]
struct Books {
    delivery: Option<Delivery>,
    next: u64,
    customers: HashMap<String, Value>,
    sessions: HashMap<String, Value>,
    subscriptions: HashMap<String, Value>,
    /// Portal sessions: their return address and customer.
    portals: HashMap<String, String>,
    portal_customers: HashMap<String, String>,
    calls: Vec<Call>,
    /// Answer every call with a 500 (Stripe down).
    failing: bool,
}

impl Books {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_fake{:06}", self.next)
    }
}

/// The fake, serving until dropped with the test's runtime.
#[derive(Clone)]
pub struct FakeStripe {
    /// `http://127.0.0.1:port`.
    pub base: String,
    books: Arc<Mutex<Books>>,
}

impl FakeStripe {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Stripe");
        Self::serve(listener)
    }

    /// Starts the fake on a listener.
    pub fn serve(listener: tokio::net::TcpListener) -> Self {
        let books = Arc::new(Mutex::new(Books::default()));
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let fake = Self { base: base.clone(), books: books.clone() };
        let router = Router::new()
            .route("/v1/customers", post(create_customer))
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/billing_portal/sessions", post(create_portal))
            .route("/v1/subscriptions/{id}", get(get_subscription).post(update_subscription))
            .route("/checkout/{id}", get(pages::checkout))
            .route("/checkout/{id}/pay", post(pages::pay))
            .route("/portal/{id}", get(pages::portal))
            .route("/portal/{id}/fail", post(pages::fail_next_payment))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        fake
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Delivers the events its pages cause to this webhook.
    pub fn deliver_to(&self, delivery: Delivery) {
        self.books().delivery = Some(delivery);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.books().calls.clone()
    }

    /// Makes every call fail (500) or work again.
    pub fn set_failing(&self, failing: bool) {
        self.books().failing = failing;
    }

    /// The customer paid for a Checkout session: its subscription starts (active, the session's
    /// price and quantity); returns the subscription's id and the `checkout.session.completed`
    /// event Stripe sends.
    pub fn complete_checkout(&self, session_id: &str) -> (String, String) {
        let mut books = self.books();
        let sub_id = books.id("sub");
        let item_id = books.id("si");
        let session = books.sessions.get(session_id).cloned().expect("a session the fake created");
        let price = session["kefu_price"].as_str().unwrap_or_default().to_owned();
        let quantity: u64 = session["kefu_quantity"].as_str().and_then(|q| q.parse().ok()).unwrap_or(1);
        let mut sub = fixture("subscription");
        sub["id"] = json!(sub_id);
        sub["customer"] = session["customer"].clone();
        sub["items"]["data"][0]["id"] = json!(item_id);
        sub["items"]["data"][0]["subscription"] = json!(sub_id);
        sub["items"]["data"][0]["price"]["id"] = json!(price);
        sub["items"]["data"][0]["plan"]["id"] = json!(price);
        sub["items"]["data"][0]["quantity"] = json!(quantity);
        sub["items"]["url"] = json!(format!("/v1/subscription_items?subscription={sub_id}"));
        // Its first period starts now and lasts a month.
        let now = chrono::Utc::now().timestamp();
        for field in ["created", "start_date", "billing_cycle_anchor"] {
            sub[field] = json!(now);
        }
        sub["items"]["data"][0]["created"] = json!(now);
        sub["items"]["data"][0]["current_period_start"] = json!(now);
        sub["items"]["data"][0]["current_period_end"] = json!(now + 30 * 24 * 3600);
        books.subscriptions.insert(sub_id.clone(), sub);
        let mut done = session;
        done["status"] = json!("complete");
        done["payment_status"] = json!("paid");
        done["subscription"] = json!(sub_id);
        if let Value::Object(map) = &mut done {
            map.remove("kefu_price");
            map.remove("kefu_quantity");
        }
        let event = Self::event_in(&mut books, "checkout.session.completed", done);
        (sub_id, event)
    }

    /// A `checkout.session.completed` event for an existing subscription whose session names
    /// `workspace` as its client reference (what a forged or mixed-up event would say); returns
    /// the session's id and the event.
    pub fn complete_checkout_for(&self, subscription: &str, workspace: &str) -> (String, String) {
        let mut books = self.books();
        let customer = books.subscriptions.get(subscription).map(|s| s["customer"].clone()).unwrap_or_default();
        let id = books.id("cs_test");
        let mut session = fixture("checkout_session");
        session["id"] = json!(id);
        session["customer"] = customer;
        session["client_reference_id"] = json!(workspace);
        session["subscription"] = json!(subscription);
        session["status"] = json!("complete");
        session["payment_status"] = json!("paid");
        let event = Self::event_in(&mut books, "checkout.session.completed", session);
        (id, event)
    }

    /// Changes a subscription as Stripe would (`status`, `cancel_at_period_end`, …) and returns
    /// the `customer.subscription.updated` event (or `.deleted` when it was canceled).
    pub fn change_subscription(&self, id: &str, change: impl FnOnce(&mut Value)) -> String {
        let mut books = self.books();
        let sub = books.subscriptions.get_mut(id).expect("a subscription the fake holds");
        change(sub);
        let sub = sub.clone();
        let kind =
            if sub["status"] == "canceled" { "customer.subscription.deleted" } else { "customer.subscription.updated" };
        Self::event_in(&mut books, kind, sub)
    }

    /// The subscription as the fake holds it.
    pub fn subscription(&self, id: &str) -> Option<Value> {
        self.books().subscriptions.get(id).cloned()
    }

    /// An `invoice.payment_failed` event for a subscription's customer.
    pub fn invoice_failed(&self, subscription: &str) -> String {
        let mut books = self.books();
        let customer = books.subscriptions.get(subscription).map(|s| s["customer"].clone()).unwrap_or_default();
        let mut invoice = fixture("invoice");
        invoice["id"] = json!(books.id("in"));
        invoice["customer"] = customer;
        invoice["parent"]["subscription_details"]["subscription"] = json!(subscription);
        Self::event_in(&mut books, "invoice.payment_failed", invoice)
    }

    fn event_in(books: &mut Books, kind: &str, object: Value) -> String {
        let mut event = fixture("event");
        event["id"] = json!(books.id("evt"));
        event["type"] = json!(kind);
        event["created"] = json!(chrono::Utc::now().timestamp());
        event["data"]["object"] = object;
        event.to_string()
    }

    /// The `Stripe-Signature` header for a payload, made by the library's own test helper.
    pub fn sign(payload: &str, secret: &str, timestamp: Option<i64>) -> String {
        stripe_webhook::Webhook::generate_test_header(payload, secret, timestamp)
    }
}

/// The pages a person clicks through.
mod pages {
    use axum::extract::{Path, State};
    use axum::response::{Html, IntoResponse, Redirect, Response};
    use serde_json::json;

    use super::FakeStripe;

    fn page(title: &str, body: &str) -> Html<String> {
        Html(format!(
            "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>\
             <title>{title}</title><body style='font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem'>\
             <p style='color:#b45309'>Test mode: a stand-in for Stripe, no card is charged.</p><h1>{title}</h1>{body}</body></html>"
        ))
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('\'', "&#39;")
            .replace('"', "&quot;")
    }

    pub(super) async fn checkout(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
        let Some(session) = fake.books().sessions.get(&id).cloned() else {
            return page("No such checkout", "<p>This checkout session does not exist.</p>").into_response();
        };
        let price = escape(session["kefu_price"].as_str().unwrap_or_default());
        let seats = escape(session["kefu_quantity"].as_str().unwrap_or("1"));
        let cancel = escape(session["cancel_url"].as_str().unwrap_or("/"));
        page(
            "Subscribe to Kefu",
            &format!(
                "<p>Price <code>{price}</code>, {seats} seat(s), billed monthly.</p>\
                 <form method=post action='/checkout/{id}/pay'><button type=submit>Pay</button></form>\
                 <p><a href='{cancel}'>Cancel and go back</a></p>",
                id = escape(&id)
            ),
        )
        .into_response()
    }

    pub(super) async fn pay(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
        let success = fake.books().sessions.get(&id).map(|s| s["success_url"].as_str().unwrap_or("/").to_owned());
        let Some(success) = success else { return page("No such checkout", "").into_response() };
        let (_, event) = fake.complete_checkout(&id);
        fake.deliver(&event).await;
        Redirect::to(&success).into_response()
    }

    pub(super) async fn portal(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
        let back = fake.books().portals.get(&id).cloned().unwrap_or_else(|| "/".into());
        page(
            "Billing portal",
            &format!(
                "<p>Payment methods and invoices would be managed here.</p>\
                 <form method=post action='/portal/{id}/fail'><button type=submit>Make the next payment fail</button></form>\
                 <p><a href='{back}'>Return to Kefu</a></p>",
                id = escape(&id),
                back = escape(&back)
            ),
        )
        .into_response()
    }

    pub(super) async fn fail_next_payment(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Response {
        let (customer, back) = {
            let books = fake.books();
            (books.portal_customers.get(&id).cloned(), books.portals.get(&id).cloned().unwrap_or_else(|| "/".into()))
        };
        let subscription = customer.and_then(|c| {
            fake.books().subscriptions.values().find(|s| s["customer"] == json!(c)).map(|s| s["id"].clone())
        });
        if let Some(sub) = subscription.as_ref().and_then(|s| s.as_str()) {
            let failed = fake.invoice_failed(sub);
            fake.deliver(&failed).await;
            let past_due = fake.change_subscription(sub, |s| s["status"] = json!("past_due"));
            fake.deliver(&past_due).await;
        }
        Redirect::to(&back).into_response()
    }
}

impl FakeStripe {
    /// Sends an event to the configured webhook, signed (a failed delivery is logged: the test
    /// or person sees the state unchanged).
    async fn deliver(&self, event: &str) {
        let Some(delivery) = self.books().delivery.clone() else { return };
        let signature = Self::sign(event, &delivery.secret, None);
        let sent = reqwest::Client::new()
            .post(&delivery.url)
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(event.to_owned())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => tracing::warn!(status = %response.status(), "the fake Stripe's event was refused"),
            Err(error) => tracing::warn!(%error, "the fake Stripe could not deliver an event"),
        }
    }
}

type Reply = Result<Json<Value>, (StatusCode, Json<Value>)>;

fn record(
    fake: &FakeStripe,
    method: &'static str,
    path: String,
    params: Vec<(String, String)>,
) -> Result<(), (StatusCode, Json<Value>)> {
    let mut books = fake.books();
    books.calls.push(Call { method, path, params });
    if books.failing {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, Json(error("api_error", "The fake is failing on purpose."))));
    }
    Ok(())
}

fn error(kind: &str, message: &str) -> Value {
    json!({ "error": { "type": kind, "message": message } })
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

async fn create_customer(State(fake): State<FakeStripe>, Form(params): Form<Vec<(String, String)>>) -> Reply {
    record(&fake, "POST", "/v1/customers".into(), params.clone())?;
    let mut books = fake.books();
    let mut customer = fixture("customer");
    let id = books.id("cus");
    customer["id"] = json!(id);
    customer["email"] = json!(param(&params, "email"));
    customer["name"] = json!(param(&params, "name"));
    customer["metadata"] = json!({ "tenant_id": param(&params, "metadata[tenant_id]") });
    books.customers.insert(id, customer.clone());
    Ok(Json(customer))
}

async fn create_session(State(fake): State<FakeStripe>, Form(params): Form<Vec<(String, String)>>) -> Reply {
    record(&fake, "POST", "/v1/checkout/sessions".into(), params.clone())?;
    let mut books = fake.books();
    let Some(customer) = param(&params, "customer").filter(|c| books.customers.contains_key(*c)) else {
        return Err((StatusCode::BAD_REQUEST, Json(error("invalid_request_error", "No such customer."))));
    };
    let id = books.id("cs_test");
    let mut session = fixture("checkout_session");
    session["id"] = json!(id);
    session["customer"] = json!(customer);
    session["client_reference_id"] = json!(param(&params, "client_reference_id"));
    session["success_url"] = json!(param(&params, "success_url"));
    session["cancel_url"] = json!(param(&params, "cancel_url"));
    session["url"] = json!(format!("{}/checkout/{id}", fake.base));
    let mut kept = session.clone();
    kept["kefu_price"] = json!(param(&params, "line_items[0][price]"));
    kept["kefu_quantity"] = json!(param(&params, "line_items[0][quantity]"));
    books.sessions.insert(id, kept);
    Ok(Json(session))
}

async fn create_portal(State(fake): State<FakeStripe>, Form(params): Form<Vec<(String, String)>>) -> Reply {
    record(&fake, "POST", "/v1/billing_portal/sessions".into(), params.clone())?;
    let mut books = fake.books();
    let id = books.id("bps");
    let mut session = fixture("billing_portal_session");
    session["id"] = json!(id);
    session["customer"] = json!(param(&params, "customer"));
    session["return_url"] = json!(param(&params, "return_url"));
    session["url"] = json!(format!("{}/portal/{id}", fake.base));
    books.portals.insert(id.clone(), param(&params, "return_url").unwrap_or("/").to_owned());
    books.portal_customers.insert(id, param(&params, "customer").unwrap_or_default().to_owned());
    Ok(Json(session))
}

async fn get_subscription(State(fake): State<FakeStripe>, Path(id): Path<String>) -> Reply {
    record(&fake, "GET", format!("/v1/subscriptions/{id}"), Vec::new())?;
    fake.subscription(&id).map(Json).ok_or_else(|| {
        (StatusCode::NOT_FOUND, Json(error("invalid_request_error", &format!("No such subscription: '{id}'"))))
    })
}

async fn update_subscription(
    State(fake): State<FakeStripe>,
    Path(id): Path<String>,
    Form(params): Form<Vec<(String, String)>>,
) -> Reply {
    record(&fake, "POST", format!("/v1/subscriptions/{id}"), params.clone())?;
    let mut books = fake.books();
    let Some(sub) = books.subscriptions.get_mut(&id) else {
        return Err((StatusCode::NOT_FOUND, Json(error("invalid_request_error", "No such subscription."))));
    };
    if let Some(cancel) = param(&params, "cancel_at_period_end") {
        sub["cancel_at_period_end"] = json!(cancel == "true");
    }
    let item = &mut sub["items"]["data"][0];
    if let Some(price) = param(&params, "items[0][price]") {
        item["price"]["id"] = json!(price);
        item["plan"]["id"] = json!(price);
    }
    if let Some(quantity) = param(&params, "items[0][quantity]").and_then(|q| q.parse::<u64>().ok()) {
        item["quantity"] = json!(quantity);
    }
    Ok(Json(sub.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixture that drifts from the schema `async-stripe` was generated from fails here, with
    /// the library's own deserializers (those its client and webhook use).
    #[test]
    fn every_fixture_deserializes_into_the_stripe_types() {
        fn parses<T: miniserde::Deserialize>(name: &str) {
            let text = FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect("a fixture");
            assert!(
                miniserde::json::from_str::<T>(text).is_ok(),
                "the {name} fixture does not fit async-stripe's type"
            );
        }
        parses::<stripe_shared::Customer>("customer");
        parses::<stripe_shared::CheckoutSession>("checkout_session");
        parses::<stripe_billing::BillingPortalSession>("billing_portal_session");
        parses::<stripe_shared::Subscription>("subscription");
        parses::<stripe_shared::Invoice>("invoice");
        parses::<stripe_shared::Event>("event");
        assert_eq!(FIXTURES.len(), 6, "a new fixture is checked here too");
    }

    /// Events built from the fixtures verify and parse into their typed objects, as the api's
    /// webhook receives them.
    #[test]
    fn signed_events_of_every_kind_parse_into_typed_objects() {
        use stripe_webhook::{EventObject, Webhook};
        let cases = [
            ("checkout.session.completed", "checkout_session"),
            ("customer.subscription.updated", "subscription"),
            ("customer.subscription.deleted", "subscription"),
            ("invoice.payment_failed", "invoice"),
        ];
        for (kind, object) in cases {
            let mut event = fixture("event");
            event["type"] = json!(kind);
            event["data"]["object"] = fixture(object);
            let payload = event.to_string();
            let header = FakeStripe::sign(&payload, WEBHOOK_SECRET, None);
            let parsed = Webhook::construct_event(&payload, &header, WEBHOOK_SECRET);
            let typed = match parsed.map(|e| e.data.object) {
                Ok(EventObject::CheckoutSessionCompleted(_)) => "checkout.session.completed",
                Ok(EventObject::CustomerSubscriptionUpdated(_)) => "customer.subscription.updated",
                Ok(EventObject::CustomerSubscriptionDeleted(_)) => "customer.subscription.deleted",
                Ok(EventObject::InvoicePaymentFailed(_)) => "invoice.payment_failed",
                Ok(_) => "another object",
                Err(e) => panic!("{kind}: {e}"),
            };
            assert_eq!(typed, kind);
        }
    }
}
