//! The tenant itself: details and usage, rename, profiles, export and deletion.

use kefu_api::testing::TestApp;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn details_show_plan_and_seat_usage_and_admins_can_rename() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": "pending-seat@example.com" })).await;

    let (status, tenant) = app.get("/api/v1/tenant", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["plan"]["id"], "pro");
    assert_eq!(tenant["plan"]["seats"], 50);
    assert_eq!(tenant["plan"]["seats_used"], 3);
    assert!(tenant["trial_ends_at"].is_string());

    let (status, _) = app.call("PATCH", "/api/v1/tenant", Some(&agent.access), Some(json!({ "name": "Nope" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, renamed) =
        app.call("PATCH", "/api/v1/tenant", Some(&owner.access), Some(json!({ "name": " 新名字 Shop " }))).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "新名字 Shop");
    assert_eq!(renamed["slug"], owner.slug.as_str(), "the slug does not change");
}

#[tokio::test]
async fn members_edit_their_own_name_and_avatar_admins_set_capacity_skills_and_employee_numbers() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let other = app.invite_and_accept(&owner, "agent").await;
    let own = format!("/api/v1/members/{}/profile", agent.user_id);

    let body = json!({ "display_name": "小李", "avatar_url": "https://cdn.example/a.png" });
    let (status, profile) = app.call("PATCH", &own, Some(&agent.access), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["display_name"], "小李");
    assert_eq!(profile["avatar_url"], "https://cdn.example/a.png");

    // Routing relies on capacity and skills: an agent cannot raise their own (regression: they
    // could), nor change their employee number, not even alongside an allowed change.
    for routing in [
        json!({ "max_concurrent_chats": 50 }),
        json!({ "skills": ["vip"] }),
        json!({ "employee_no": "KF-999" }),
        json!({ "display_name": "小李", "max_concurrent_chats": 50 }),
    ] {
        let (status, problem) = app.call("PATCH", &own, Some(&agent.access), Some(routing.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{routing}: {problem}");
    }
    let body = json!({ "employee_no": "KF-007", "skills": ["退款", "billing", "退款"], "max_concurrent_chats": 8 });
    let (status, profile) = app.call("PATCH", &own, Some(&owner.access), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["skills"], json!(["退款", "billing"]));
    assert_eq!(profile["max_concurrent_chats"], 8);
    assert_eq!(profile["display_name"], "小李", "absent fields are kept");

    // null clears, absent keeps.
    let (status, profile) = app.call("PATCH", &own, Some(&agent.access), Some(json!({ "avatar_url": null }))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["avatar_url"], serde_json::Value::Null);
    assert_eq!(profile["employee_no"], "KF-007");
    assert_eq!(profile["max_concurrent_chats"], 8, "the refused changes left nothing behind");

    let (_, members) = app.get("/api/v1/members", Some(&owner.access)).await;
    let listed = members.as_array().into_iter().flatten().find(|m| m["user_id"] == agent.user_id.as_str()).cloned();
    assert_eq!(listed.map(|m| m["display_name"].clone()), Some(json!("小李")));

    let theirs = format!("/api/v1/members/{}/profile", other.user_id);
    let (status, _) = app.call("PATCH", &theirs, Some(&agent.access), Some(json!({ "display_name": "hijack" }))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call("PATCH", &theirs, Some(&owner.access), Some(json!({ "max_concurrent_chats": 2 }))).await;
    assert_eq!(status, StatusCode::OK);

    for bad in [
        json!({ "max_concurrent_chats": 0 }),
        json!({ "avatar_url": "javascript:alert(1)" }),
        json!({ "display_name": "" }),
        json!({ "skills": (0..21).map(|i| format!("s{i}")).collect::<Vec<_>>() }),
        json!({ "employee_no": "0123456789012345678901234567890123456789X" }),
        json!({ "role": "admin" }),
    ] {
        let (status, problem) = app.call("PATCH", &own, Some(&owner.access), Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
    }
}

#[tokio::test]
async fn owner_exports_everything_and_others_cannot() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let admin = app.invite_and_accept(&owner, "admin").await;
    app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "export me" })).await;

    let (status, _) = app.get("/api/v1/tenant/export", Some(&admin.access)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, export) = app.get("/api/v1/tenant/export", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["format"], "kefu.tenant-export.v1");
    assert_eq!(export["tenant"]["id"], owner.tenant_id.as_str());
    assert_eq!(export["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(export["api_keys"][0]["name"], "export me");
    assert!(export["api_keys"][0].get("secret").is_none());
    assert!(!export.to_string().contains("password"), "no password hashes in exports");
    let (_, log) = app.get("/api/v1/audit-log", Some(&owner.access)).await;
    assert_eq!(log["entries"][0]["action"], "tenant.exported", "exports are audited");
}

#[tokio::test]
async fn owner_deletes_the_tenant_with_password_and_slug_and_everything_goes() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let (_, key) = app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "k" })).await;
    let schema = format!("t_{}", owner.tenant_id.trim_start_matches("tnt_"));
    // A file in the tenant's part of the object store.
    let uploaded = reqwest::Client::new()
        .post(app.url("/api/v1/attachments?name=price-list.txt"))
        .bearer_auth(&owner.access)
        .header("content-type", "application/octet-stream")
        .body("价目表 price list".as_bytes().to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let files =
        std::path::Path::new(&app.state.config.attachments.local_dir).join(owner.tenant_id.trim_start_matches("tnt_"));
    assert_eq!(std::fs::read_dir(&files).map(|d| d.count()).unwrap_or(0), 1, "{}", files.display());

    let (status, _) = app
        .call(
            "DELETE",
            "/api/v1/tenant",
            Some(&agent.access),
            Some(json!({ "confirm_slug": owner.slug, "password": agent.password })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, problem) = app
        .call(
            "DELETE",
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({ "confirm_slug": "wrong", "password": owner.password })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = app
        .call(
            "DELETE",
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({ "confirm_slug": owner.slug, "password": "not my password" })),
        )
        .await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));

    let (status, _) = app
        .call(
            "DELETE",
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({ "confirm_slug": owner.slug, "password": owner.password })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let schemas: i64 = sqlx::query_scalar("select count(*) from information_schema.schemata where schema_name = $1")
        .bind(&schema)
        .fetch_one(app.db())
        .await
        .expect("count");
    assert_eq!(schemas, 0, "the schema is dropped");
    assert_eq!(std::fs::read_dir(&files).map(|d| d.count()).unwrap_or(0), 0, "its files are deleted");
    for token in [owner.access.as_str(), agent.access.as_str(), key["secret"].as_str().expect("secret")] {
        let (status, _) = app.get("/api/v1/me", Some(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app.post("/api/v1/auth/refresh", None, json!({ "refresh_token": owner.refresh })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Accounts remain, with no tenant to log into.
    let (status, body) =
        app.post("/api/v1/auth/login", None, json!({ "email": agent.email, "password": agent.password })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
}

/// A node serves only the workspaces of its own region (`KEFU_REGION`): the security review found
/// nodes never checked it. A member's token, an API key and an agent socket for a workspace homed
/// elsewhere get `421 wrong_region`; the workspace's own region serves it as before.
#[tokio::test]
async fn a_node_serves_only_the_workspaces_of_its_region() {
    let home = TestApp::spawn().await;
    let owner = home.verified_owner().await;
    let (status, created) =
        home.post("/api/v1/api-keys", Some(&owner.access), serde_json::json!({ "name": "CRM", "role": "admin" })).await;
    assert_eq!(status, 201, "{created}");
    let key = created["secret"].as_str().unwrap_or_default().to_owned();
    let url = home.state.config.database_url().to_owned();
    let away = TestApp::spawn_on(&url, |c| c.region = "elsewhere".into()).await;
    for token in [&owner.access, &key] {
        let (status, problem) = away.get("/api/v1/me", Some(token)).await;
        assert_eq!((status.as_u16(), problem["code"].as_str()), (421, Some("wrong_region")), "{problem}");
        let (status, _) = home.get("/api/v1/me", Some(token)).await;
        assert_eq!(status, 200);
    }
    let socket = |app: &TestApp| app.ws_url(&format!("/ws/agent?token={}", owner.access));
    assert_eq!(kefu_api::testing::WsClient::connect(&socket(&away)).await.err(), Some(421));
    assert!(kefu_api::testing::WsClient::connect(&socket(&home)).await.is_ok());
}

/// The signup page's region choice: a node lists the deployment's regions and signs up only
/// workspaces of its own; one asked for elsewhere is refused (`421`, naming that region's
/// console) and nothing is created; an unknown region is a validation error.
#[tokio::test]
async fn signup_homes_a_workspace_in_the_region_chosen_or_points_to_its_console() {
    use kefu_api::config::RegionEntry;
    let regions = vec![
        RegionEntry {
            name: "eu-central".into(),
            label: "Europe (Frankfurt)".into(),
            app_url: "https://eu.app.example".into(),
        },
        RegionEntry {
            name: "ap-east".into(), label: "亚太（香港）".into(), app_url: "https://ap.app.example".into()
        },
    ];
    let app = TestApp::spawn_with(|c| {
        c.region = "eu-central".into();
        c.regions = regions;
    })
    .await;
    let (status, listed) = app.get("/api/v1/auth/regions", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["current"], "eu-central");
    assert_eq!(
        listed["regions"][1],
        json!({ "name": "ap-east", "label": "亚太（香港）", "app_url": "https://ap.app.example" })
    );

    // The integration database outlives a run: a fixed address would exist from the last one.
    let email = format!("{}@region-choice.example", kefu_api::testing::unique("owner-"));
    let body = |region: &str| json!({ "company_name": "Region Shop", "email": email, "password": "a region choice password", "region": region });
    let (status, problem) = app.post("/api/v1/auth/signup", None, body("ap-east")).await;
    assert_eq!((status.as_u16(), problem["code"].as_str()), (421, Some("wrong_region")), "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("https://ap.app.example/signup")), "{problem}");
    let (status, problem) = app.post("/api/v1/auth/signup", None, body("mars-1")).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
    let (status, _) =
        app.post("/api/v1/auth/login", None, json!({ "email": email, "password": "a region choice password" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "nothing was created by the refused signups");

    let (status, created) = app.post("/api/v1/auth/signup", None, body("eu-central")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, tenant) = app.get("/api/v1/tenant", created["access_token"].as_str()).await;
    assert_eq!(tenant["region"], "eu-central", "{tenant}");
}

#[test]
fn the_region_list_must_name_this_node_and_be_well_formed() {
    use kefu_api::config::{Config, RegionEntry};
    let mut config = Config::for_tests("postgres://kefu@127.0.0.1/kefu");
    config.region = "eu-central".into();
    config.regions = vec![
        RegionEntry { name: "ap-east".into(), label: String::new(), app_url: "ap.app.example/".into() },
        RegionEntry { name: "ap-east".into(), label: "Asia".into(), app_url: "https://ap.app.example".into() },
    ];
    let problems = config.validate().expect_err("refused").to_string();
    for expected in ["own region `eu-central`", "names `ap-east` twice", "regions[0].label", "regions[0].app_url"] {
        assert!(problems.contains(expected), "{expected}: {problems}");
    }
}
