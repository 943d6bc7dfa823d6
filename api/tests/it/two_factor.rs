//! Two-factor sign-in: setting up an authenticator, signing in with its codes (computed by an
//! independent implementation, pyotp, from the `otpauth://` URI as an authenticator app would),
//! codes accepted once, recovery codes, lockout after wrong codes, the workspace requirement and
//! invitations.

use kefu_api::testing::{Session, TestApp, WsEnd, unique};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The code an authenticator app shows for `uri`, `steps` 30-second steps from now.
fn code(uri: &str, steps: i64) -> String {
    let python = std::env::var("KEFU_TEST_PYTHON")
        .expect("KEFU_TEST_PYTHON is not set: run tests through `make test` (infra/local/test-tools.sh)");
    let script = "import pyotp, sys, time\n\
                  totp = pyotp.parse_uri(sys.argv[1])\n\
                  print(totp.at(int(time.time()) + 30 * int(sys.argv[2])))";
    let output =
        std::process::Command::new(python).args(["-c", script, uri, &steps.to_string()]).output().expect("run pyotp");
    assert!(output.status.success(), "pyotp: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

async fn login(app: &TestApp, who: &Session, code: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({ "email": who.email, "password": who.password, "tenant": who.slug });
    if let Some(code) = code {
        body["two_factor_code"] = json!(code);
    }
    app.post("/api/v1/auth/login", None, body).await
}

/// Starts setting up an authenticator; its `otpauth://` URI.
async fn start_setup(app: &TestApp, who: &Session) -> String {
    let (status, body) =
        app.post("/api/v1/auth/two-factor/setup", None, json!({ "email": who.email, "password": who.password })).await;
    assert_eq!(status, StatusCode::OK, "setup: {body}");
    body["otpauth_uri"].as_str().expect("uri").to_owned()
}

/// Sets up and confirms an authenticator (its code for the current step is then used); the URI
/// and the recovery codes.
async fn enable(app: &TestApp, who: &Session) -> (String, Vec<String>) {
    let uri = start_setup(app, who).await;
    let (status, body) =
        app.post("/api/v1/me/two-factor/confirm", Some(&who.access), json!({ "code": code(&uri, 0) })).await;
    assert_eq!(status, StatusCode::OK, "confirm: {body}");
    let codes: Vec<String> =
        body["codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code").to_owned()).collect();
    (uri, codes)
}

fn problem(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, answer.1["code"].as_str().unwrap_or_default())
}

async fn audit_actions(app: &TestApp, admin: &str) -> Vec<String> {
    let (status, page) = app.get("/api/v1/audit-log?limit=100", Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["entries"].as_array().expect("entries").iter().map(|e| e["action"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn an_authenticator_guards_sign_in_with_codes_that_work_once_and_recovery_codes() {
    let app = TestApp::spawn().await;
    let owner = app.signup().await;

    let uri = start_setup(&app, &owner).await;
    assert!(uri.starts_with("otpauth://totp/Kefu:"), "{uri}");
    // SHA-1, six digits and 30 seconds are the URI format's defaults, which every app assumes.
    for part in ["issuer=Kefu", "secret="] {
        assert!(uri.contains(part), "{part} in {uri}");
    }
    let (_, status) = app.get("/api/v1/me/two-factor", Some(&owner.access)).await;
    assert_eq!((status["enabled"].as_bool(), status["pending"].as_bool()), (Some(false), Some(true)), "{status}");
    // Scanned but not proven: sign-in does not ask for a code yet.
    assert_eq!(login(&app, &owner, None).await.0, StatusCode::OK);

    // The secret is sealed at rest: the database alone does not hold it.
    let secret = uri.split("secret=").nth(1).and_then(|s| s.split('&').next()).expect("secret").to_owned();
    let sealed: String = sqlx::query_scalar(
        "select secret_sealed from control.user_totp where user_id = (select id from control.users where email = $1)",
    )
    .bind(&owner.email)
    .fetch_one(app.db())
    .await
    .expect("row");
    assert!(sealed.starts_with("test-2fa-1:") && !sealed.contains(&secret), "{sealed}");

    let wrong = app.post("/api/v1/me/two-factor/confirm", Some(&owner.access), json!({ "code": "12345" })).await;
    assert_eq!(problem(&wrong), (StatusCode::UNAUTHORIZED, "invalid_two_factor_code"));
    let now = code(&uri, 0);
    let (status, body) = app.post("/api/v1/me/two-factor/confirm", Some(&owner.access), json!({ "code": now })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recovery: Vec<String> =
        body["codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code").to_owned()).collect();
    assert_eq!(recovery.len(), 10);
    let (_, status) = app.get("/api/v1/me/two-factor", Some(&owner.access)).await;
    assert_eq!((status["enabled"].as_bool(), status["recovery_codes_left"].as_i64()), (Some(true), Some(10)));
    let again = app
        .post("/api/v1/auth/two-factor/setup", None, json!({ "email": owner.email, "password": owner.password }))
        .await;
    assert_eq!(problem(&again), (StatusCode::CONFLICT, "two_factor_already_enabled"), "never replaced silently");

    assert_eq!(problem(&login(&app, &owner, None).await), (StatusCode::UNAUTHORIZED, "two_factor_required"));
    let replayed = login(&app, &owner, Some(&now)).await;
    assert_eq!(problem(&replayed), (StatusCode::UNAUTHORIZED, "invalid_two_factor_code"), "a code works once");
    let garbage = login(&app, &owner, Some(&"9".repeat(5000))).await;
    assert_eq!(problem(&garbage), (StatusCode::UNAUTHORIZED, "invalid_two_factor_code"));
    let (status, signed_in) = login(&app, &owner, Some(&code(&uri, 1))).await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert!(signed_in["recovery_codes"].is_null());
    let wrong_password = app
        .post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": "not the password at all" }))
        .await;
    assert_eq!(problem(&wrong_password), (StatusCode::UNAUTHORIZED, "invalid_credentials"));

    // A recovery code, typed loosely, works once, and the owner is told by mail.
    let typed = recovery[0].to_uppercase().replace('-', " ");
    let (status, body) = login(&app, &owner, Some(&typed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(problem(&login(&app, &owner, Some(&recovery[0])).await).1, "invalid_two_factor_code");
    let mails = app.mailbox(&owner.email).await;
    assert!(mails.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("recovery code was used"))));
    let (_, status) = app.get("/api/v1/me/two-factor", Some(&owner.access)).await;
    assert_eq!(status["recovery_codes_left"], 9);

    // New recovery codes need the password and retire the old ones.
    let refused =
        app.post("/api/v1/me/two-factor/recovery-codes", Some(&owner.access), json!({ "password": "wrong one" })).await;
    assert_eq!(problem(&refused), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let (status, fresh) = app
        .post("/api/v1/me/two-factor/recovery-codes", Some(&owner.access), json!({ "password": owner.password }))
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(problem(&login(&app, &owner, Some(&recovery[1])).await).1, "invalid_two_factor_code");
    let first_new = fresh["codes"][0].as_str().expect("code");
    assert_eq!(login(&app, &owner, Some(first_new)).await.0, StatusCode::OK);

    let actions = audit_actions(&app, &owner.access).await;
    for action in [
        "member.two_factor_enabled",
        "auth.recovery_code_used",
        "auth.two_factor_failed",
        "member.recovery_codes_replaced",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }

    // Turning it off needs the password; then sign-in asks for no code.
    let (status, _) =
        app.post("/api/v1/me/two-factor/disable", Some(&owner.access), json!({ "password": owner.password })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(login(&app, &owner, None).await.0, StatusCode::OK);
    assert!(audit_actions(&app, &owner.access).await.iter().any(|a| a == "member.two_factor_disabled"));
}

#[tokio::test]
async fn wrong_codes_lock_the_second_step_for_a_while_and_mail_the_account() {
    let app = TestApp::spawn_with(|c| {
        c.auth.two_factor_max_failures = 3;
        c.auth.two_factor_lockout_secs = 600;
    })
    .await;
    let owner = app.signup().await;
    let (uri, _) = enable(&app, &owner).await;
    // A code that is certainly wrong: the right one with its last digit changed.
    let right = code(&uri, 1);
    let mut wrong = right.clone();
    let last = wrong.pop().expect("digit");
    wrong.push(if last == '0' { '1' } else { '0' });

    for _ in 0..2 {
        assert_eq!(
            problem(&login(&app, &owner, Some(&wrong)).await),
            (StatusCode::UNAUTHORIZED, "invalid_two_factor_code")
        );
    }
    let locked = login(&app, &owner, Some(&wrong)).await;
    assert_eq!(problem(&locked), (StatusCode::TOO_MANY_REQUESTS, "two_factor_locked"), "{}", locked.1);
    let still = login(&app, &owner, Some(&right)).await;
    assert_eq!(problem(&still), (StatusCode::TOO_MANY_REQUESTS, "two_factor_locked"), "even the right code");
    // Without the password nobody learns of the lock.
    let stranger = app
        .post("/api/v1/auth/login", None, json!({ "email": owner.email, "password": "a guess of a password" }))
        .await;
    assert_eq!(problem(&stranger), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let mails = app.mailbox(&owner.email).await;
    assert!(mails.iter().any(|m| m["subject"].as_str().is_some_and(|s| s.contains("locked"))), "{mails:?}");
    assert!(audit_actions(&app, &owner.access).await.iter().any(|a| a == "auth.two_factor_locked"));

    // When the lock ends, the right code signs in.
    sqlx::query(
        "update control.user_totp set locked_until = now() - interval '1 second'
          where user_id = (select id from control.users where email = $1)",
    )
    .bind(&owner.email)
    .execute(app.db())
    .await
    .expect("end the lock");
    let (status, body) = login(&app, &owner, Some(&right)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_workspace_that_requires_two_factor_signs_out_members_without_it_until_they_set_it_up() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let agent = app.invite_and_accept(&owner, "agent").await;
    let mut agent_socket = app.agent(&agent).await;

    let refused =
        app.call("PATCH", "/api/v1/tenant", Some(&owner.access), Some(json!({ "require_two_factor": true }))).await;
    assert_eq!(problem(&refused), (StatusCode::CONFLICT, "two_factor_not_enabled"), "the admin first");
    enable(&app, &owner).await;
    let (status, tenant) =
        app.call("PATCH", "/api/v1/tenant", Some(&owner.access), Some(json!({ "require_two_factor": true }))).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    assert_eq!(tenant["require_two_factor"], true);

    // The agent without a second step is signed out at once, socket included.
    let (status, _) = app.get("/api/v1/me", Some(&agent.access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    agent_socket.next_of("session_ended").await;
    let end = loop {
        match agent_socket.next().await {
            Ok(_) => continue,
            Err(end) => break end,
        }
    };
    assert_eq!(end, WsEnd::Closed(4005));
    let (status, _) = app.get("/api/v1/me", Some(&owner.access)).await;
    assert_eq!(status, StatusCode::OK, "the owner's session stays");

    // Signing in now sends them to set up an authenticator; its first code signs them in and
    // hands over the recovery codes.
    assert_eq!(problem(&login(&app, &agent, None).await), (StatusCode::FORBIDDEN, "two_factor_setup_required"));
    let uri = start_setup(&app, &agent).await;
    assert_eq!(problem(&login(&app, &agent, None).await).1, "two_factor_setup_required", "scanning is not enough");
    let (status, body) = login(&app, &agent, Some(&code(&uri, 0))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["recovery_codes"].as_array().map(Vec::len), Some(10));
    let agent_access = body["access_token"].as_str().expect("access").to_owned();
    let off =
        app.post("/api/v1/me/two-factor/disable", Some(&agent_access), json!({ "password": agent.password })).await;
    assert_eq!(problem(&off), (StatusCode::FORBIDDEN, "two_factor_required_by_tenant"));
    let (_, members) = app.get("/api/v1/members", Some(&owner.access)).await;
    assert!(members.as_array().expect("members").iter().all(|m| m["two_factor"] == true), "{members}");

    // A new invitee joins but gets a session only after setting it up.
    let email = format!("{}@example.com", unique("strict-"));
    let (status, _) =
        app.post("/api/v1/invitations", Some(&owner.access), json!({ "email": email, "role": "agent" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = app.mailed_token(&email, "/accept-invite?token=").await;
    let password = "an invited passphrase";
    let joined = app.post("/api/v1/invitations/accept", None, json!({ "token": token, "password": password })).await;
    assert_eq!(problem(&joined), (StatusCode::FORBIDDEN, "two_factor_setup_required"), "{}", joined.1);
    let (_, members) = app.get("/api/v1/members", Some(&owner.access)).await;
    assert!(members.as_array().expect("members").iter().any(|m| m["email"] == email.as_str()), "joined");
    let invitee =
        Session { email: email.clone(), password: password.into(), slug: owner.slug.clone(), ..agent.clone() };
    let uri = start_setup(&app, &invitee).await;
    let (status, body) = login(&app, &invitee, Some(&code(&uri, 0))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let actions = audit_actions(&app, &owner.access).await;
    assert!(actions.iter().any(|a| a == "tenant.two_factor_requirement_changed"), "{actions:?}");
    // Turning the requirement off signs nobody out.
    let (status, _) =
        app.call("PATCH", "/api/v1/tenant", Some(&owner.access), Some(json!({ "require_two_factor": false }))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_account_with_two_factor_accepts_an_invitation_only_with_its_code() {
    let app = TestApp::spawn().await;
    let other = app.verified_owner().await;
    let person = app.signup().await;
    let (uri, _) = enable(&app, &person).await;

    let (status, _) =
        app.post("/api/v1/invitations", Some(&other.access), json!({ "email": person.email, "role": "agent" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = app.mailed_token(&person.email, "/accept-invite?token=").await;
    let body = json!({ "token": token, "password": person.password });
    let without = app.post("/api/v1/invitations/accept", None, body.clone()).await;
    assert_eq!(problem(&without), (StatusCode::UNAUTHORIZED, "two_factor_required"));
    let mut with_code = body;
    with_code["two_factor_code"] = json!(code(&uri, 1));
    let (status, joined) = app.post("/api/v1/invitations/accept", None, with_code).await;
    assert_eq!(status, StatusCode::OK, "the invitation was still usable: {joined}");
    assert_eq!(joined["tenant"]["slug"], other.slug.as_str());
}

#[tokio::test]
async fn two_factor_changes_are_for_signed_in_members_only() {
    let app = TestApp::spawn().await;
    let owner = app.verified_owner().await;
    let (status, key) =
        app.post("/api/v1/api-keys", Some(&owner.access), json!({ "name": "ci", "role": "admin" })).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().expect("secret");
    for path in
        ["/api/v1/me/two-factor/confirm", "/api/v1/me/two-factor/disable", "/api/v1/me/two-factor/recovery-codes"]
    {
        let answer = app.post(path, Some(secret), json!({ "code": "123456", "password": "x" })).await;
        assert!(matches!(answer.0, StatusCode::FORBIDDEN | StatusCode::UNPROCESSABLE_ENTITY), "{path}: {answer:?}");
    }
    let (status, _) = app.get("/api/v1/me/two-factor", Some(secret)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let setup = app
        .post("/api/v1/auth/two-factor/setup", None, json!({ "email": owner.email, "password": "not the password" }))
        .await;
    assert_eq!(problem(&setup), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    let confirm = app.post("/api/v1/me/two-factor/confirm", Some(&owner.access), json!({ "code": "123456" })).await;
    assert_eq!(problem(&confirm), (StatusCode::CONFLICT, "two_factor_not_enabled"), "nothing being set up");
}

#[tokio::test]
async fn an_invitation_accepted_with_a_new_authenticators_first_code_answers_the_recovery_codes() {
    let app = TestApp::spawn().await;
    let other = app.verified_owner().await;
    let person = app.signup().await;
    let uri = start_setup(&app, &person).await;
    let (status, _) =
        app.post("/api/v1/invitations", Some(&other.access), json!({ "email": person.email, "role": "agent" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let token = app.mailed_token(&person.email, "/accept-invite?token=").await;
    let body = json!({ "token": token, "password": person.password, "two_factor_code": code(&uri, 0) });
    let (status, joined) = app.post("/api/v1/invitations/accept", None, body).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["recovery_codes"].as_array().map(Vec::len), Some(10), "shown once, with the session");
    assert_eq!(problem(&login(&app, &person, None).await).1, "two_factor_required", "now on");
}
