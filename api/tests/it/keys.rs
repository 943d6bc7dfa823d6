//! Token keys (docs/security.md): members' and visitors' tokens under separate key sets, and the
//! rotation runbook — old and new key both valid during the overlap, the old refused after.

use kefu_api::testing::{EDGE_PROOF, TestApp, WsClient};
use kefu_protocol::VisitorId;
use secrecy::SecretString;

const MEMBER_OLD: &str = "m-old:an-old-member-signing-secret-long-enough";
const MEMBER_NEW: &str = "m-new:a-new-member-signing-secret-long-enough!";
const VISITOR_OLD: &str = "v-old:an-old-visitor-signing-secret-long-enough";
const VISITOR_NEW: &str = "v-new:a-new-visitor-signing-secret-long-enough!";

/// A node on `url` (or a database of its own) with the given member and visitor keys.
async fn node(url: Option<&str>, members: &str, visitors: &str) -> TestApp {
    let (members, visitors) = (members.to_owned(), visitors.to_owned());
    let adjust = move |c: &mut kefu_api::config::Config| {
        c.auth.signing_keys = Some(SecretString::from(members));
        c.auth.visitor_keys = Some(SecretString::from(visitors));
    };
    match url {
        Some(url) => TestApp::spawn_on(url, adjust).await,
        None => TestApp::spawn_with(adjust).await,
    }
}

async fn member_accepted(app: &TestApp, access: &str) -> bool {
    let (status, _) = app.get("/api/v1/me", Some(access)).await;
    status == 200
}

async fn visitor_accepted(app: &TestApp, token: &str) -> bool {
    WsClient::connect_with_headers(&app.ws_url(&format!("/ws/visitor?token={token}")), &[EDGE_PROOF]).await.is_ok()
}

#[tokio::test]
async fn member_and_visitor_keys_rotate_with_an_overlap_and_the_old_is_refused_after() {
    // Before: the old keys sign.
    let before = node(None, MEMBER_OLD, VISITOR_OLD).await;
    let url = before.state.config.database_url().to_owned();
    let owner = before.signup().await;
    let old_visitor = before.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);

    // Step 1 on the api: the new key added second — the old still signs, both verify.
    let added = node(Some(&url), &format!("{MEMBER_OLD},{MEMBER_NEW}"), &format!("{VISITOR_OLD},{VISITOR_NEW}")).await;
    assert!(member_accepted(&added, &owner.access).await);
    assert!(visitor_accepted(&added, &old_visitor).await);

    // Step 2: the new key promoted — new tokens are signed with it, old ones still verify.
    let promoted =
        node(Some(&url), &format!("{MEMBER_NEW},{MEMBER_OLD}"), &format!("{VISITOR_NEW},{VISITOR_OLD}")).await;
    let (status, login) = promoted
        .post("/api/v1/auth/login", None, serde_json::json!({ "email": owner.email, "password": owner.password }))
        .await;
    assert_eq!(status, 200, "{login}");
    let renewed = login["access_token"].as_str().unwrap_or_default().to_owned();
    let new_visitor = promoted.visitor_token(&owner.tenant_id, VisitorId::from_uuid(uuid::Uuid::now_v7()), 600);
    for app in [&added, &promoted] {
        assert!(member_accepted(app, &owner.access).await, "an old access token in the overlap");
        assert!(member_accepted(app, &renewed).await, "a new access token");
        assert!(visitor_accepted(app, &old_visitor).await, "an old visitor token in the overlap");
        assert!(visitor_accepted(app, &new_visitor).await, "a new visitor token");
    }
    // A node still on the old keys alone would refuse the new tokens: the api learns a key
    // before anyone signs with it.
    assert!(!member_accepted(&before, &renewed).await);
    assert!(!visitor_accepted(&before, &new_visitor).await);

    // Step 3, after the tokens' lifetime: the old keys removed — old tokens refused.
    let after = node(Some(&url), MEMBER_NEW, VISITOR_NEW).await;
    assert!(!member_accepted(&after, &owner.access).await, "the old member key is gone");
    assert!(!visitor_accepted(&after, &old_visitor).await, "the old visitor key is gone");
    assert!(member_accepted(&after, &renewed).await);
    assert!(visitor_accepted(&after, &new_visitor).await);
}

/// The security review's high finding: whoever holds the edge's keys could mint an owner's
/// access token. The edge holds only visitor keys now, and a member token signed with one is
/// refused everywhere a member token is accepted (REST and the agent socket).
#[tokio::test]
async fn a_token_signed_with_a_visitor_key_is_never_a_members_token() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;
    let now = chrono::Utc::now().timestamp();
    let me = app.get("/api/v1/me", Some(&owner.access)).await.1;
    let claims = kefu_protocol::AccessClaims {
        iss: kefu_protocol::ISSUER.into(),
        aud: kefu_protocol::AGENT_AUDIENCE.into(),
        sub: me["user"]["id"].as_str().unwrap_or_default().parse().expect("user id"),
        tid: owner.tenant_id.parse().expect("tenant id"),
        role: kefu_protocol::Role::Owner,
        iat: now,
        exp: now + 600,
        jti: "minted-at-the-edge".into(),
        sid: None,
    };
    let forged = app.state.jwt.visitor_keys().sign(&claims).expect("sign");
    let (status, problem) = app.get("/api/v1/me", Some(&forged)).await;
    assert_eq!(status, 401, "{problem}");
    assert_eq!(WsClient::connect(&app.ws_url(&format!("/ws/agent?token={forged}"))).await.err(), Some(401));
    // The api refuses to start with a visitor key that is also a member key.
    let mut config = app.state.config.as_ref().clone();
    config.auth.visitor_keys = config.auth.signing_keys.clone();
    assert!(config.validate().is_err());
}
