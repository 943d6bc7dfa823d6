//! Handing conversations on (F16, F17): transfer to an agent or a team with a private system
//! note, capacity, reopening, tags with inbox filters, invited participants; roles and tenant
//! isolation attacked, and what consoles and visitors see live.

use kefu_api::testing::{Session, TestApp, WsClient};
use kefu_protocol::VisitorId;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Opens a conversation with a new visitor; returns the visitor's socket and the id.
async fn conversation(app: &TestApp, owner: &Session, text: &str) -> (WsClient, VisitorId, String) {
    let visitor_id = VisitorId::from_uuid(uuid::Uuid::now_v7());
    let (mut visitor, _) = app.visitor(&owner.tenant_id, visitor_id, None).await;
    visitor.send(json!({ "type": "send", "client_id": "first", "body": text })).await;
    let id = visitor.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned();
    (visitor, visitor_id, id)
}

/// The next `conversation_updated` for `id` that satisfies `wanted` (within 30 s).
async fn update_of(client: &mut WsClient, id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let wait = async {
        loop {
            let update = client.next_of("conversation_updated").await;
            if update["conversation_id"] == id && wanted(&update) {
                return update;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait).await.expect("no such conversation_updated")
}

/// The next system note this agent's socket receives.
async fn system_note(client: &mut WsClient) -> Value {
    let wait = async {
        loop {
            let message = client.next_of("message").await;
            if message["sender"]["kind"] == "system" {
                return message;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait).await.expect("no system note")
}

fn problem_code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn transfers_to_agents_and_teams_leave_notes_respect_capacity_and_roles() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let alice = app.invite_and_accept(&owner, "agent").await;
    let bob = app.invite_and_accept(&owner, "agent").await;
    let supervisor = app.invite_and_accept(&owner, "supervisor").await;
    // An admin sets another member's capacity, skills and employee number.
    let (status, profile) = app
        .call(
            "PATCH",
            &format!("/api/v1/members/{}/profile", bob.user_id),
            Some(&owner.access),
            Some(json!({ "max_concurrent_chats": 1, "skills": ["退款", "billing"], "employee_no": "E-042" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!((profile["max_concurrent_chats"].as_i64(), profile["employee_no"].as_str()), (Some(1), Some("E-042")));
    let (_, team) = app.post("/api/v1/teams", Some(&owner.access), json!({ "name": "Billing" })).await;
    let team_id = team["id"].as_str().expect("team").to_owned();

    let mut alice_ws = app.agent(&alice).await;
    let mut bob_ws = app.agent(&bob).await;
    bob_ws.send(json!({ "type": "subscribe_inbox" })).await;
    let (_v1, _, first) = conversation(&app, &owner, "我要退款").await;
    let (_v2, _, second) = conversation(&app, &owner, "hello").await;
    let (_v3, _, third) = conversation(&app, &owner, "anyone?").await;

    alice_ws.send(json!({ "type": "join", "conversation_id": first })).await;
    alice_ws.next_of("message").await;
    alice_ws.send(json!({ "type": "claim", "conversation_id": first })).await;
    update_of(&mut alice_ws, &first, |u| u["assignee"] == alice.user_id.as_str()).await;

    // Only the assignee (or a supervisor) hands on an assigned conversation.
    let transfer = |id: &str| format!("/api/v1/conversations/{id}/transfer");
    let (status, body) = app.post(&transfer(&first), Some(&bob.access), json!({ "to": bob.user_id })).await;
    assert_eq!((status, problem_code(&body)), (StatusCode::FORBIDDEN, "forbidden"));

    let note = "VIP: wants a refund for order 1234";
    let (status, moved) =
        app.post(&transfer(&first), Some(&alice.access), json!({ "to": bob.user_id, "note": note })).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["assignee"], bob.user_id.as_str());
    // Bob's console sees it arrive; the note is in the sequence, for agents only.
    update_of(&mut bob_ws, &first, |u| u["assignee"] == bob.user_id.as_str()).await;
    let live_note = system_note(&mut alice_ws).await;
    assert_eq!((live_note["private"].as_bool(), live_note["sender"]["kind"].as_str()), (Some(true), Some("system")));
    bob_ws.send(json!({ "type": "join", "conversation_id": first })).await;
    let replayed = system_note(&mut bob_ws).await;
    assert_eq!(replayed["body"], note);
    assert_eq!(
        replayed["event"],
        json!({ "kind": "transferred", "by": alice.user_id, "to_agent": bob.user_id, "note": note })
    );
    assert_eq!(replayed["seq"], moved["last_seq"]);

    // Bob is at his capacity of one: agents cannot give him more, nor can he claim more; a
    // supervisor can.
    let (status, body) = app.post(&transfer(&second), Some(&alice.access), json!({ "to": bob.user_id })).await;
    assert_eq!((status, problem_code(&body)), (StatusCode::CONFLICT, "capacity_reached"));
    bob_ws.send(json!({ "type": "claim", "conversation_id": third })).await;
    assert_eq!(bob_ws.next_of("error").await["code"], "capacity_reached");
    let (status, body) = app.post(&transfer(&second), Some(&supervisor.access), json!({ "to": bob.user_id })).await;
    assert_eq!((status, body["assignee"].as_str()), (StatusCode::OK, Some(bob.user_id.as_str())), "{body}");

    // To a team: unassigned, in its queue; the inbox filters by team.
    let (status, queued) = app.post(&transfer(&third), Some(&alice.access), json!({ "to": team_id })).await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    assert_eq!((queued["assignee"].is_null(), queued["team_id"].as_str()), (true, Some(team_id.as_str())));
    let (_, page) = app.get(&format!("/api/v1/conversations?team={team_id}"), Some(&alice.access)).await;
    let ids: Vec<&str> =
        page["conversations"].as_array().into_iter().flatten().filter_map(|c| c["conversation_id"].as_str()).collect();
    assert_eq!(ids, vec![third.as_str()]);
    let (status, _) = app.get("/api/v1/conversations?team=usr_x", Some(&alice.access)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bad targets and notes.
    for body in [
        json!({ "to": "conv_0190c8e5b7a87c3e9f000000000000ab" }),
        json!({ "to": team_id, "note": "x".repeat(4001) }),
        json!({ "to": team_id, "note": "nul \u{0} inside" }),
    ] {
        let (status, problem) = app.post(&transfer(&third), Some(&owner.access), body).await;
        assert_eq!((status, problem_code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    }

    // Another tenant: its token on our conversation, our conversation to its member or team.
    let stranger = app.verified_owner().await;
    let (_, their_team) = app.post("/api/v1/teams", Some(&stranger.access), json!({ "name": "Billing" })).await;
    let (status, problem) =
        app.post(&transfer(&third), Some(&stranger.access), json!({ "to": stranger.user_id })).await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::NOT_FOUND, "resource_not_found"));
    for to in [json!(stranger.user_id), their_team["id"].clone()] {
        let (status, problem) = app.post(&transfer(&third), Some(&owner.access), json!({ "to": to })).await;
        assert_eq!((status, problem_code(&problem)), (StatusCode::NOT_FOUND, "resource_not_found"), "{to}");
    }

    // Closed conversations are not transferred.
    alice_ws.send(json!({ "type": "close", "conversation_id": third })).await;
    update_of(&mut bob_ws, &third, |u| u["status"] == "closed").await;
    let (status, problem) = app.post(&transfer(&third), Some(&owner.access), json!({ "to": alice.user_id })).await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::CONFLICT, "conversation_closed"));
}

#[tokio::test]
async fn reopening_tags_and_participants() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let alice = app.invite_and_accept(&owner, "agent").await;
    let mut owner_ws = app.agent(&owner).await;
    owner_ws.send(json!({ "type": "subscribe_inbox" })).await;
    let (mut visitor, visitor_id, first) = conversation(&app, &owner, "first question").await;
    owner_ws.send(json!({ "type": "claim", "conversation_id": first })).await;
    owner_ws.send(json!({ "type": "close", "conversation_id": first })).await;
    update_of(&mut owner_ws, &first, |u| u["status"] == "closed").await;

    // Reopen: open again, same assignee; the visitor's next message goes into it.
    let reopen = |id: &str| format!("/api/v1/conversations/{id}/reopen");
    let (status, reopened) = app.post(&reopen(&first), Some(&alice.access), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reopened}");
    assert_eq!(
        (reopened["status"].as_str(), reopened["assignee"].as_str()),
        (Some("open"), Some(owner.user_id.as_str()))
    );
    update_of(&mut owner_ws, &first, |u| u["status"] == "open").await;
    let (status, problem) = app.post(&reopen(&first), Some(&alice.access), json!({})).await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::CONFLICT, "conversation_open"));
    visitor.send(json!({ "type": "send", "client_id": "again", "body": "one more thing" })).await;
    assert_eq!(visitor.next_of("ack").await["conversation_id"], first.as_str());
    let (_, transcript) = app.get(&format!("/api/v1/conversations/{first}/messages"), Some(&owner.access)).await;
    let events: Vec<&str> =
        transcript["messages"].as_array().into_iter().flatten().filter_map(|m| m["event"]["kind"].as_str()).collect();
    assert_eq!(events, vec!["reopened"]);

    // Once the visitor has a newer open conversation, the old one stays closed.
    owner_ws.send(json!({ "type": "close", "conversation_id": first })).await;
    update_of(&mut owner_ws, &first, |u| u["status"] == "closed").await;
    visitor.send(json!({ "type": "send", "client_id": "new", "body": "new question" })).await;
    let second = visitor.next_of("ack").await["conversation_id"].as_str().expect("id").to_owned();
    assert_ne!(second, first);
    let (status, problem) = app.post(&reopen(&first), Some(&owner.access), json!({})).await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::CONFLICT, "visitor_has_open_conversation"));

    // Tags: normalised, announced to agents, never shown to the visitor.
    let tags = format!("/api/v1/conversations/{second}/tags");
    let (status, tagged) =
        app.call("PUT", &tags, Some(&alice.access), Some(json!({ "tags": [" VIP ", "退款", "vip"] }))).await;
    assert_eq!(status, StatusCode::OK, "{tagged}");
    assert_eq!(tagged["tags"], json!(["vip", "退款"]));
    update_of(&mut owner_ws, &second, |u| u["tags"] == json!(["vip", "退款"])).await;
    let seen = update_of(&mut visitor, &second, |_| true).await;
    assert_eq!(seen["tags"], json!([]), "visitors never see tags: {seen}");
    let (status, problem) = app
        .call(
            "PUT",
            &tags,
            Some(&alice.access),
            Some(json!({ "tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>() })),
        )
        .await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    // The first conversation is the owner's: Alice may not retag it, the owner may, closed too.
    let first_tags = format!("/api/v1/conversations/{first}/tags");
    let (status, problem) = app.call("PUT", &first_tags, Some(&alice.access), Some(json!({ "tags": ["vip"] }))).await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::FORBIDDEN, "forbidden"));
    let (_, first_tagged) = app.call("PUT", &first_tags, Some(&owner.access), Some(json!({ "tags": ["vip"] }))).await;
    assert_eq!(first_tagged["status"], "closed", "closed conversations can be tagged");

    // The inbox by tag, paged one at a time over both statuses.
    let mut seen_ids = Vec::new();
    let mut path = "/api/v1/conversations?status=all&tag=VIP&limit=1".to_owned();
    loop {
        let (status, page) = app.get(&path, Some(&owner.access)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen_ids.extend(
            page["conversations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["conversation_id"].as_str().map(str::to_owned)),
        );
        match page["next_before"].as_str() {
            Some(cursor) => path = format!("/api/v1/conversations?status=all&tag=VIP&limit=1&before={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen_ids, vec![first.clone(), second.clone()], "newest activity first");
    let (_, untagged) = app.get("/api/v1/conversations?status=all&tag=%E9%80%80%E6%AC%BE", Some(&owner.access)).await;
    assert_eq!(untagged["conversations"].as_array().map(Vec::len), Some(1));

    // Participants: a colleague invited in, once; a system note says so.
    let participants = format!("/api/v1/conversations/{second}/participants");
    let (status, with) = app.post(&participants, Some(&owner.access), json!({ "user_id": alice.user_id })).await;
    assert_eq!(status, StatusCode::OK, "{with}");
    assert_eq!(with["participants"], json!([alice.user_id]));
    update_of(&mut owner_ws, &second, |u| u["participants"] == json!([alice.user_id])).await;
    let (status, again) = app.post(&participants, Some(&owner.access), json!({ "user_id": alice.user_id })).await;
    assert_eq!((status, again["last_seq"].clone()), (StatusCode::OK, with["last_seq"].clone()), "nothing new");
    // The invited colleague sends in it.
    let mut alice_ws = app.agent(&alice).await;
    alice_ws.send(json!({ "type": "send", "conversation_id": second, "client_id": "a-1", "body": "我来帮忙" })).await;
    alice_ws.next_of("ack").await;
    assert_eq!(visitor.next_of("message").await["body"], "我来帮忙");
    let (_, summary) = app.get(&format!("/api/v1/conversations/{second}"), Some(&owner.access)).await;
    assert_eq!(summary["participants"], json!([alice.user_id]));
    let (status, problem) = app
        .post(
            &format!("/api/v1/conversations/{first}/participants"),
            Some(&owner.access),
            json!({ "user_id": alice.user_id }),
        )
        .await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::CONFLICT, "conversation_closed"));

    // Another tenant: not found everywhere, and our members are not its members.
    let stranger = app.verified_owner().await;
    let attempts = [
        ("POST", reopen(&first), json!({})),
        ("PUT", tags.clone(), json!({ "tags": ["mine"] })),
        ("POST", participants.clone(), json!({ "user_id": stranger.user_id })),
    ];
    for (method, path, body) in attempts {
        let (status, problem) = app.call(method, &path, Some(&stranger.access), Some(body)).await;
        assert_eq!((status, problem_code(&problem)), (StatusCode::NOT_FOUND, "resource_not_found"), "{method} {path}");
    }
    let (status, problem) = app.post(&participants, Some(&owner.access), json!({ "user_id": stranger.user_id })).await;
    assert_eq!((status, problem_code(&problem)), (StatusCode::NOT_FOUND, "resource_not_found"));
    let _ = visitor_id;
}
