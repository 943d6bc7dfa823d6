//! Tenant isolation, adversarially: through the HTTP API with one tenant's credentials aimed at
//! another's resources, and at the `TenantTx` level under concurrency on a small shared pool.

use kefu_api::db::{self, TenantTx};
use kefu_api::testing::TestApp;
use kefu_protocol::TenantId;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_token_of_tenant_a_never_reaches_tenant_b() {
    let app = TestApp::spawn().await;
    let a = app.verified_owner().await;
    let b = app.verified_owner().await;
    let b_agent = app.invite_and_accept(&b, "agent").await;
    let (_, b_key) = app.post("/api/v1/api-keys", Some(&b.access), json!({ "name": "b key" })).await;
    let (_, b_invite) =
        app.post("/api/v1/invitations", Some(&b.access), json!({ "email": "b-pending@example.com" })).await;

    // A's owner addresses B's member, key and invitation by id: all "not found" in A.
    let member = format!("/api/v1/members/{}", b_agent.user_id);
    let (status, _) = app.call("DELETE", &member, Some(&a.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("PATCH", &member, Some(&a.access), Some(json!({ "role": "admin" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let key = format!("/api/v1/api-keys/{}", b_key["id"].as_str().expect("id"));
    let (status, _) = app.call("DELETE", &key, Some(&a.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let invite = format!("/api/v1/invitations/{}", b_invite["id"].as_str().expect("id"));
    let (status, _) = app.call("DELETE", &invite, Some(&a.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // B's things are untouched.
    let (_, members) = app.get("/api/v1/members", Some(&b.access)).await;
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    let (_, keys) = app.get("/api/v1/api-keys", Some(&b.access)).await;
    assert_eq!(keys.as_array().map(Vec::len), Some(1));

    // Lists seen by A contain nothing of B.
    for path in ["/api/v1/members", "/api/v1/api-keys", "/api/v1/invitations", "/api/v1/audit-log"] {
        let (status, body) = app.get(path, Some(&a.access)).await;
        assert_eq!(status, StatusCode::OK);
        let text = body.to_string();
        assert!(
            !text.contains(&b.user_id) && !text.contains(&b.tenant_id) && !text.contains(&b_agent.user_id),
            "{path}: {text}"
        );
        assert!(!text.contains("b-pending@example.com"), "{path}");
    }

    // A token whose tenant claim was swapped to B fails signature checks.
    let forged = swap_tenant_claim(&a.access, &b.tenant_id);
    let (status, body) = app.get("/api/v1/members", Some(&forged)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));

    // A correctly signed token for a tenant the user is not a member of is refused too.
    let keys = &app.state.jwt;
    let user: kefu_protocol::UserId = a.user_id.parse().expect("user id");
    let tenant: TenantId = b.tenant_id.parse().expect("tenant id");
    let signed = keys.issue_access(user, tenant, kefu_protocol::Role::Owner, uuid::Uuid::now_v7()).expect("issue");
    let (status, body) = app.get("/api/v1/members", Some(&signed)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
}

fn swap_tenant_claim(token: &str, tenant: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("claims");
    claims["tid"] = tenant.into();
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

#[tokio::test]
async fn tenant_transactions_see_only_their_schema_under_concurrency_on_a_tiny_pool() {
    let app = TestApp::spawn().await;
    let a = app.verified_owner().await;
    let b = app.verified_owner().await;
    // Give the tenants different numbers of agent profiles: A 1 + 2 invited, B 1.
    app.invite_and_accept(&a, "agent").await;
    app.invite_and_accept(&a, "agent").await;
    let a_schema = app.tenant_schema(&a.tenant_id).await;
    let b_schema = app.tenant_schema(&b.tenant_id).await;

    // Two connections shared by 200 interleaved transactions of both tenants: any leak of a
    // search_path from one checkout to the next would show up as a wrong count.
    let pool = kefu_api::db::Databases::new(
        kefu_api::db::connect(&kefu_api::testing::test_database_url().await, 2, std::time::Duration::from_secs(30))
            .expect("pool"),
        Default::default(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let pool = pool.clone();
        let (schema, expected) = if i % 2 == 0 { (a_schema.clone(), 3) } else { (b_schema.clone(), 1) };
        tasks.spawn(async move {
            let mut tx = TenantTx::begin(&pool, &schema).await.expect("begin");
            let seen = db::agents::count_all(&mut tx).await.expect("count");
            if i % 3 == 0 {
                drop(tx); // rollback by drop must also reset the path
            } else {
                tx.commit().await.expect("commit");
            }
            (schema.name().to_owned(), seen, expected)
        });
    }
    while let Some(result) = tasks.join_next().await {
        let (schema, seen, expected) = result.expect("task");
        assert_eq!(seen, expected, "{schema} saw another tenant's rows");
    }

    // Outside a TenantTx, the session search_path is empty: unqualified tenant tables do not
    // resolve at all (fail closed), even on connections that served tenant transactions.
    for _ in 0..4 {
        let error = sqlx::query("select count(*) from agents").execute(pool.control()).await.expect_err("must fail");
        let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42P01"), "undefined_table expected, got {error}");
    }
}

/// A pool recycling after every use lends a new backend each time, set up fail-closed like the
/// first (empty `search_path`); with recycling off, one backend serves every use.
#[tokio::test]
async fn recycled_connections_are_new_backends_and_start_fail_closed() {
    let url = kefu_api::testing::test_database_url().await;
    let timeout = std::time::Duration::from_secs(30);
    let backend = |pool: sqlx::PgPool| async move {
        let mut conn = pool.acquire().await.expect("acquire");
        let pid: i32 = sqlx::query_scalar("select pg_backend_pid()").fetch_one(&mut *conn).await.expect("pid");
        let path: String =
            sqlx::query_scalar("select current_setting('search_path')").fetch_one(&mut *conn).await.expect("path");
        assert_eq!(path, "\"\"", "every connection starts with an empty search_path");
        pid
    };

    // The distinct backends that served four uses of a one-connection pool.
    let backends_over_four_uses = |recycle_after_uses: u32| {
        let pool = kefu_api::db::connect_recycling(&url, 1, timeout, recycle_after_uses).expect("pool");
        async move {
            let mut pids = Vec::new();
            for _ in 0..4 {
                pids.push(backend(pool.clone()).await);
            }
            pids.dedup();
            pids
        }
    };
    let always = backends_over_four_uses(1).await;
    assert_eq!(always.len(), 4, "a new backend for every use: {always:?}");
    let never = backends_over_four_uses(0).await;
    assert_eq!(never.len(), 1, "one backend for every use: {never:?}");
}
