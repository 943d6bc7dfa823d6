//! The console's shared data: teams (admins manage, members read) and canned responses
//! (supervisors manage, members search), with roles and tenant isolation attacked.

use kefu_api::testing::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code(body: &Value) -> (&str, &str) {
    (body["code"].as_str().unwrap_or_default(), body["errors"][0]["code"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn teams_are_managed_by_admins_read_by_members_and_stay_in_their_tenant() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let admin = app.invite_and_accept(&owner, "admin").await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;

    let (status, team) = app.post("/api/v1/teams", Some(&admin.access), json!({ "name": " 售后 Support " })).await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(team["name"], "售后 Support");
    assert_eq!(team["user_ids"], json!([]));
    let id = team["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("team_"), "{id}");

    // A duplicate name, regardless of case, is a field error.
    let (status, problem) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "售后 SUPPORT" })).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "name_taken")));
    let (status, other) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "Sales" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let other_id = other["id"].as_str().expect("id").to_owned();
    let (status, problem) = app
        .call(
            "PATCH",
            &format!("/api/v1/teams/{other_id}"),
            Some(&owner.access),
            Some(json!({ "name": "售后 support" })),
        )
        .await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "name_taken")));
    // An exact duplicate too (found by the authorization sweep: it tripped the exact unique
    // index, which was not mapped, and answered 500).
    let (status, problem) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "Sales" })).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "name_taken")));
    let (status, problem) =
        app.call("PATCH", &format!("/api/v1/teams/{id}"), Some(&owner.access), Some(json!({ "name": "Sales" }))).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "name_taken")));

    // Staffing: only members of this tenant; duplicates collapse.
    let members = format!("/api/v1/teams/{id}/members");
    let body = json!({ "user_ids": [agent.user_id, supervisor.user_id, agent.user_id] });
    let (status, staffed) = app.call("PUT", &members, Some(&admin.access), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{staffed}");
    let mut expected = vec![agent.user_id.clone(), supervisor.user_id.clone()];
    expected.sort();
    assert_eq!(staffed["user_ids"], json!(expected));

    // Every member reads; only admins write.
    let (status, list) = app.get("/api/v1/teams", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    for (method, path, body) in [
        ("POST", "/api/v1/teams".to_owned(), Some(json!({ "name": "x" }))),
        ("PATCH", format!("/api/v1/teams/{id}"), Some(json!({ "name": "x" }))),
        ("DELETE", format!("/api/v1/teams/{id}"), None),
        ("PUT", members.clone(), Some(json!({ "user_ids": [] }))),
    ] {
        for who in [&agent, &supervisor] {
            let (status, problem) = app.call(method, &path, Some(&who.access), body.clone()).await;
            assert_eq!(
                (status, problem["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden")),
                "{method} {path}"
            );
        }
    }

    // Another tenant: its ids here are not found, its members are not members here.
    let stranger = app.verified_owner().await;
    let (status, problem) =
        app.call("PUT", &members, Some(&owner.access), Some(json!({ "user_ids": [stranger.user_id] }))).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "not_a_member")));
    for (method, path, body) in [
        ("PATCH", format!("/api/v1/teams/{id}"), Some(json!({ "name": "mine now" }))),
        ("DELETE", format!("/api/v1/teams/{id}"), None),
        ("PUT", members.clone(), Some(json!({ "user_ids": [stranger.user_id] }))),
    ] {
        let (status, problem) = app.call(method, &path, Some(&stranger.access), body).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("resource_not_found")), "{method}");
    }
    let (_, theirs) = app.get("/api/v1/teams", Some(&stranger.access)).await;
    assert_eq!(theirs, json!([]));
    let (status, _) =
        app.call("PATCH", "/api/v1/teams/team_nonsense", Some(&owner.access), Some(json!({ "name": "y" }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A removed member leaves the team; rename and delete work.
    let (status, _) =
        app.call("DELETE", &format!("/api/v1/members/{}", agent.user_id), Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, renamed) = app
        .call("PATCH", &format!("/api/v1/teams/{id}"), Some(&admin.access), Some(json!({ "name": "After-sales" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["user_ids"], json!([supervisor.user_id]));
    let (status, _) = app.call("DELETE", &format!("/api/v1/teams/{id}"), Some(&admin.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app.get("/api/v1/teams", Some(&owner.access)).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn canned_responses_are_searched_by_members_and_written_by_supervisors() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;
    let agent = app.invite_and_accept(&owner, "agent").await;

    let (status, refund) = app
        .post(
            "/api/v1/canned-responses",
            Some(&supervisor.access),
            json!({ "shortcut": "Refund", "title": "退款政策", "body": "您好，退款将在 3–5 个工作日内到账。" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{refund}");
    assert_eq!(refund["shortcut"], "refund");
    assert_eq!(refund["created_by"], supervisor.user_id.as_str());
    let id = refund["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("canned_"), "{id}");
    let (status, _) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "hours", "title": "Opening hours", "body": "We answer 9:00–18:00 (UTC+8)." }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Shortcuts are unique regardless of case; every bad field is reported.
    let (status, problem) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "REFUND", "title": "x", "body": "y" }),
        )
        .await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "shortcut_taken")));
    let (status, problem) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "has space", "title": "", "body": "x".repeat(4001) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(3), "{problem}");
    let (status, problem) = app
        .post(
            "/api/v1/canned-responses",
            Some(&owner.access),
            json!({ "shortcut": "nul", "title": "Nul", "body": "a\u{0}b" }),
        )
        .await;
    // A NUL cannot be stored in Postgres text: refused, not a 500.
    assert_eq!(
        (status, code(&problem)),
        (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "invalid")),
        "{problem}"
    );

    // Search: shortcut prefix, or title/body substring, Chinese included.
    let search = |q: &str| format!("/api/v1/canned-responses?q={}", urlencoding(q));
    for (q, expected) in [
        ("ref", vec!["refund"]),
        ("工作日", vec!["refund"]),
        ("HOURS", vec!["hours"]),
        ("", vec!["hours", "refund"]),
        ("nothing", vec![]),
    ] {
        let (status, found) = app.get(&search(q), Some(&agent.access)).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let shortcuts: Vec<&str> =
            found.as_array().into_iter().flatten().filter_map(|c| c["shortcut"].as_str()).collect();
        assert_eq!(shortcuts, expected, "q={q}");
    }

    // Agents read only; supervisors edit and delete.
    let path = format!("/api/v1/canned-responses/{id}");
    for (method, body) in [("PATCH", Some(json!({ "title": "x" }))), ("DELETE", None)] {
        let (status, problem) = app.call(method, &path, Some(&agent.access), body).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    }
    let (status, problem) = app
        .post("/api/v1/canned-responses", Some(&agent.access), json!({ "shortcut": "a", "title": "b", "body": "c" }))
        .await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (status, edited) =
        app.call("PATCH", &path, Some(&supervisor.access), Some(json!({ "title": "Refunds" }))).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!((edited["title"].as_str(), edited["shortcut"].as_str()), (Some("Refunds"), Some("refund")));
    let (status, problem) =
        app.call("PATCH", &path, Some(&supervisor.access), Some(json!({ "shortcut": "hours" }))).await;
    assert_eq!((status, code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, ("validation_failed", "shortcut_taken")));

    // Another tenant sees none and cannot touch them.
    let stranger = app.verified_owner().await;
    let (_, theirs) = app.get("/api/v1/canned-responses", Some(&stranger.access)).await;
    assert_eq!(theirs, json!([]));
    for (method, body) in [("PATCH", Some(json!({ "title": "mine" }))), ("DELETE", None)] {
        let (status, problem) = app.call(method, &path, Some(&stranger.access), body).await;
        assert_eq!((status, problem["code"].as_str()), (StatusCode::NOT_FOUND, Some("resource_not_found")));
    }
    let (status, _) = app.call("DELETE", &path, Some(&supervisor.access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.call("DELETE", &path, Some(&supervisor.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Percent-encodes a query value (UTF-8 bytes).
fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
