//! Refresh tokens as device credentials (the dashboard's Devices tab and its
//! Unlink), the refresh-token endpoints, and sessions, in process: bodies and
//! statuses as Auth0 answers them, and their effect on the tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod enduser_common;

use axum::http::StatusCode;
use castellan_store::{NewSession, RefreshTokenRow};
use common::*;
use enduser_common::*;
use serde_json::json;

fn rt(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn device_credentials_list_and_unlink() {
    let s = TestServer::start().await;
    let u = setup(&s, false).await;
    let t = s.admin_token().await;
    let phone = rt(&login_as(&s, &u, [192, 0, 2, 1], "Phone/1.0", EMAIL, PASSWORD).await);
    s.clock.advance_ms(1000);
    let laptop = rt(&login_as(&s, &u, [192, 0, 2, 2], "Laptop/2.0", EMAIL, PASSWORD).await);

    let uid = u.user_id.replace('|', "%7C");
    let r = s.call("GET", &format!("/api/v2/device-credentials?user_id={uid}"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let list = r.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let phone_id = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        list[0],
        json!({"id": phone_id, "device_name": "Phone/1.0", "type": "refresh_token", "user_id": u.user_id,
               "client_id": u.client_id}),
        "oldest first, as Auth0 shows them"
    );
    assert_eq!(list[1]["device_name"], "Laptop/2.0");

    // Auth0's envelope, fields, and the type filter (refresh_token by default when paging).
    let r = s
        .call(
            "GET",
            &format!("/api/v2/device-credentials?user_id={uid}&include_totals=true&per_page=1&fields=id,type"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(
        r.body,
        json!({"device_credentials": [{"id": phone_id, "type": "refresh_token"}], "start": 0, "limit": 1, "total": 2})
    );
    for kind in ["rotating_refresh_token", "public_key"] {
        let r = s.call("GET", &format!("/api/v2/device-credentials?user_id={uid}&type={kind}"), Some(&t), None).await;
        assert_eq!(r.body, json!([]), "{kind}");
    }
    let r = s.call("GET", "/api/v2/device-credentials?type=keys", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errorCode"], "invalid_query_string");
    let r = s.call("GET", "/api/v2/device-credentials?client_id=nobody", Some(&t), None).await;
    assert_eq!(r.body, json!([]));

    // Unlink: the phone's token stops working, the laptop's does not.
    assert_eq!(refresh(&s, &u, &phone).await.status, StatusCode::OK);
    let r = s.call("DELETE", &format!("/api/v2/device-credentials/{phone_id}"), Some(&t), None).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    let r = refresh(&s, &u, &phone).await;
    assert_eq!((r.status, r.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("invalid_grant")));
    assert_eq!(refresh(&s, &u, &laptop).await.status, StatusCode::OK);
    let r = s.call("GET", &format!("/api/v2/device-credentials?user_id={uid}"), Some(&t), None).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // Deleting again (or something unknown) is still 204, as in Auth0.
    let r = s.call("DELETE", &format!("/api/v2/device-credentials/{phone_id}"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(count_events(&s, &t, "sapi").await >= 2);

    // Public keys are not stored: POST answers Auth0's 501 shape.
    let r = s
        .call(
            "POST",
            "/api/v2/device-credentials",
            Some(&t),
            Some(json!({"device_name": "d", "type": "public_key", "value": "x", "device_id": "ab"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(r.body["errorCode"], "not_implemented");

    // Scopes.
    s.client_with_scopes("reader", "reader-secret-value", &["read:users"]).await;
    let weak = s.token_for("reader", "reader-secret-value").await;
    let r = s.call("GET", "/api/v2/device-credentials", Some(&weak), None).await;
    assert_eq!(
        r.body,
        json!({"statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: read:device_credentials", "errorCode": "insufficient_scope"})
    );
    let r = s.call("DELETE", "/api/v2/device-credentials/x", Some(&weak), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn refresh_tokens_read_update_page_and_revoke() {
    let s = TestServer::start().await;
    let u = setup(&s, true).await;
    let t = s.admin_token().await;
    let born = s.now_ms();
    let first = rt(&login(&s, &u).await);
    let upath = u.user_path();

    let r = s.call("GET", &format!("{upath}/refresh-tokens"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["tokens"][0]["id"].as_str().unwrap().to_string();
    let created = castellan_domain::clock::format_ms(born);
    let expected = json!({
        "id": id, "user_id": u.user_id, "created_at": created, "idle_expires_at": null, "expires_at": null,
        "client_id": u.client_id, "session_id": null, "rotating": true,
        "resource_servers": [{"audience": API, "scopes": "openid offline_access read:things"}],
        "device": {"initial_ip": "192.0.2.1", "initial_user_agent": "test-agent/1.0", "last_ip": "192.0.2.1",
                   "last_user_agent": "test-agent/1.0"},
    });
    assert_eq!(r.body, json!({"tokens": [expected]}));

    // Rotation keeps the id and the creation time; the exchange shows.
    s.clock.advance_ms(5000);
    let second = rt(&refresh(&s, &u, &first).await);
    let r = s.call("GET", &format!("/api/v2/refresh-tokens/{id}"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["id"].as_str(), r.body["created_at"].as_str()), (Some(id.as_str()), Some(created.as_str())));
    assert_eq!(r.body["last_exchanged_at"], castellan_domain::clock::format_ms(born + 5000));
    assert_eq!(r.body["device"]["last_user_agent"], "test-agent/2.0");

    // Metadata: set, refused when invalid (nothing changes), removed.
    let r = s
        .call(
            "PATCH",
            &format!("/api/v2/refresh-tokens/{id}"),
            Some(&t),
            Some(json!({"refresh_token_metadata": {"device": "kitchen"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["refresh_token_metadata"], json!({"device": "kitchen"}));
    for bad in [
        json!({}),
        json!({"refresh_token_metadata": {"n": 1}}),
        json!({"other": true}),
        json!({"refresh_token_metadata": "x"}),
    ] {
        let r = s.call("PATCH", &format!("/api/v2/refresh-tokens/{id}"), Some(&t), Some(bad.clone())).await;
        assert_eq!((r.status, r.body["errorCode"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")), "{bad}");
    }
    let r = s.call("GET", &format!("/api/v2/refresh-tokens/{id}"), Some(&t), None).await;
    assert_eq!(r.body["refresh_token_metadata"], json!({"device": "kitchen"}), "metadata survives bad requests");
    s.clock.advance_ms(1000);
    let _third = rt(&refresh(&s, &u, &second).await);
    let r = s.call("GET", &format!("/api/v2/refresh-tokens/{id}"), Some(&t), None).await;
    assert_eq!(r.body["refresh_token_metadata"], json!({"device": "kitchen"}), "metadata survives rotation");
    let r = s
        .call("PATCH", &format!("/api/v2/refresh-tokens/{id}"), Some(&t), Some(json!({"refresh_token_metadata": null})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("refresh_token_metadata").is_none());
    let r = s.call("PATCH", "/api/v2/refresh-tokens/nope", Some(&t), Some(json!({"refresh_token_metadata": {}}))).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::NOT_FOUND,
            json!({"statusCode": 404, "error": "Not Found", "message": "The refresh token does not exist."})
        )
    );

    // Checkpoint paging over three families.
    for _ in 0..2 {
        s.clock.advance_ms(10);
        rt(&login(&s, &u).await);
    }
    let r = s.call("GET", &format!("{upath}/refresh-tokens?take=2&include_totals=true"), Some(&t), None).await;
    assert_eq!(r.body["tokens"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["tokens"][0]["id"], id.as_str());
    assert_eq!(r.body["total"], 3);
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = s.call("GET", &format!("{upath}/refresh-tokens?take=2&from={next}"), Some(&t), None).await;
    assert_eq!(r.body["tokens"].as_array().unwrap().len(), 1);
    assert!(r.body.get("next").is_none(), "no next on the last page");
    assert!(r.body.get("total").is_none());
    let last = r.body["tokens"][0]["id"].as_str().unwrap().to_string();
    for bad in ["take=0", "take=101", "from=%21%21", "take=x"] {
        let r = s.call("GET", &format!("{upath}/refresh-tokens?{bad}"), Some(&t), None).await;
        assert_eq!(
            (r.status, r.body["errorCode"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_query_string")),
            "{bad}"
        );
    }
    let r = s
        .call(
            "GET",
            &format!(
                "/api/v2/refresh-tokens?user_id={}&client_id={}&take=1",
                u.user_id.replace('|', "%7C"),
                u.client_id
            ),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.body["refresh_tokens"].as_array().unwrap().len(), 1);
    assert!(r.body["next"].is_string());
    let r = s.call("GET", "/api/v2/refresh-tokens", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Revocation: one, then in bulk by id, then all of the user's.
    let r = s.call("DELETE", &format!("/api/v2/refresh-tokens/{last}"), Some(&t), None).await;
    assert_eq!((r.status, r.raw.len()), (StatusCode::NO_CONTENT, 0));
    let r = s.call("GET", &format!("/api/v2/refresh-tokens/{last}"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for bad in
        [json!({}), json!({"ids": ["a"], "user_id": "x"}), json!({"user_id": "x", "audience": "y"}), json!({"ids": []})]
    {
        let r = s.call("POST", "/api/v2/refresh-tokens/revoke", Some(&t), Some(bad.clone())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
    let r = s.call("POST", "/api/v2/refresh-tokens/revoke", Some(&t), Some(json!({"ids": [id]}))).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::ACCEPTED, json!({})));
    let r = s.call("GET", &format!("{upath}/refresh-tokens"), Some(&t), None).await;
    assert_eq!(r.body["tokens"].as_array().unwrap().len(), 1);
    let r = s.call("DELETE", &format!("{upath}/refresh-tokens"), Some(&t), None).await;
    assert_eq!((r.status, r.body), (StatusCode::ACCEPTED, json!({})));
    let r = s.call("GET", &format!("{upath}/refresh-tokens?include_totals=true"), Some(&t), None).await;
    assert_eq!(r.body, json!({"tokens": [], "total": 0}));

    // Unknown users.
    for method in ["GET", "DELETE"] {
        let r = s.call(method, "/api/v2/users/auth0%7Cnobody/refresh-tokens", Some(&t), None).await;
        assert_eq!((r.status, r.body["errorCode"].as_str()), (StatusCode::NOT_FOUND, Some("inexistent_user")));
    }
    let logs = s.call("GET", "/api/v2/logs?q=type:sapi&per_page=100", Some(&t), None).await.body;
    let described: Vec<&str> = logs.as_array().unwrap().iter().filter_map(|e| e["description"].as_str()).collect();
    assert!(described.contains(&"Delete refresh tokens for a user"), "{described:?}");
    assert!(described.contains(&"Update a refresh token"), "{described:?}");
}

/// A session as the hosted login stores it, and a refresh token issued in it.
async fn session_with_token(s: &TestServer, u: &EndUser, id: &str, at: i64) -> String {
    let tenant = s.app.tenant_for_host(DOMAIN).await.unwrap().unwrap();
    let doc = json!({"device": {"initial_ip": "192.0.2.9", "initial_user_agent": "Browser/1", "last_ip": "192.0.2.9",
                                "last_user_agent": "Browser/1"},
                     "clients": [u.client_id], "authenticated_at": at});
    let session = NewSession {
        id: id.into(),
        cookie_hash: format!("cookie-{id}"),
        user_id: u.user_id.clone(),
        created_at: at,
        expires_at: at + 86_400_000,
        doc,
    };
    s.app.store.insert_session(tenant.id, &session).await.unwrap();
    let token = format!("token-of-{id}");
    let row = RefreshTokenRow {
        id: format!("row-{id}"),
        family: format!("fam-{id}"),
        token_hash: tenant.secrets.hash(&token),
        user_id: u.user_id.clone(),
        client_id: u.client_id.clone(),
        audience: None,
        scope: "openid offline_access".into(),
        session_id: Some(id.into()),
        rotating: false,
        created_at: at,
        expires_at: None,
        idle_expires_at: None,
        last_used_at: None,
        rotated_at: None,
        revoked_at: None,
        device: json!({}),
        auth_time: None,
    };
    s.app.store.insert_refresh_token(tenant.id, &row, &[]).await.unwrap();
    token
}

#[tokio::test]
async fn sessions_read_update_end_and_revoke() {
    let s = TestServer::start().await;
    let u = setup(&s, false).await;
    let t = s.admin_token().await;
    let at = s.now_ms();
    let token_a = session_with_token(&s, &u, "sess_a", at).await;
    let token_b = session_with_token(&s, &u, "sess_b", at + 1).await;
    let upath = u.user_path();

    let r = s.call("GET", &format!("{upath}/sessions"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let iso = castellan_domain::clock::format_ms;
    let expected_a = json!({
        "id": "sess_a", "user_id": u.user_id, "created_at": iso(at), "updated_at": iso(at),
        "authenticated_at": iso(at), "idle_expires_at": null, "expires_at": iso(at + 86_400_000),
        "last_interacted_at": iso(at),
        "device": {"initial_ip": "192.0.2.9", "initial_user_agent": "Browser/1", "last_ip": "192.0.2.9",
                   "last_user_agent": "Browser/1"},
        "clients": [{"client_id": u.client_id}],
        "authentication": {"methods": [{"name": "pwd", "timestamp": iso(at)}]},
    });
    assert_eq!(r.body["sessions"][0], expected_a);
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 2);
    let r = s.call("GET", &format!("{upath}/sessions?take=1&include_totals=true"), Some(&t), None).await;
    assert_eq!(r.body["total"], 2);
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = s.call("GET", &format!("{upath}/sessions?take=1&from={next}"), Some(&t), None).await;
    assert_eq!(r.body["sessions"][0]["id"], "sess_b");
    assert!(r.body.get("next").is_none());
    assert_eq!(s.call("GET", "/api/v2/sessions/sess_a", Some(&t), None).await.body, expected_a);

    // session_metadata
    let r = s.call("PATCH", "/api/v2/sessions/sess_a", Some(&t), Some(json!({"session_metadata": {"k": "v"}}))).await;
    assert_eq!((r.status, r.body["session_metadata"].clone()), (StatusCode::OK, json!({"k": "v"})));
    let r = s.call("GET", "/api/v2/sessions/sess_a", Some(&t), None).await;
    assert_eq!(r.body["session_metadata"], json!({"k": "v"}));
    let r = s.call("PATCH", "/api/v2/sessions/sess_a", Some(&t), Some(json!({"session_metadata": {"k": 1}}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // DELETE ends the session; its refresh token stays, as in Auth0.
    let r = s.call("DELETE", "/api/v2/sessions/sess_a", Some(&t), None).await;
    assert_eq!((r.status, r.body), (StatusCode::ACCEPTED, json!({})));
    let r = s.call("GET", "/api/v2/sessions/sess_a", Some(&t), None).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::NOT_FOUND,
            json!({"statusCode": 404, "error": "Not Found", "message": "The session does not exist."})
        )
    );
    assert_eq!(refresh(&s, &u, &token_a).await.status, StatusCode::OK);
    let r = s.call("DELETE", "/api/v2/sessions/nope", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);

    // Revoke ends it and revokes the refresh tokens issued in it.
    assert_eq!(refresh(&s, &u, &token_b).await.status, StatusCode::OK);
    let r = s.call("POST", "/api/v2/sessions/sess_b/revoke", Some(&t), None).await;
    assert_eq!((r.status, r.body), (StatusCode::ACCEPTED, json!({})));
    assert_eq!(refresh(&s, &u, &token_b).await.status, StatusCode::FORBIDDEN);
    assert_eq!(refresh(&s, &u, &token_a).await.status, StatusCode::OK, "other sessions' tokens stay");
    let r = s.call("POST", "/api/v2/sessions/sess_b/revoke", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // All of a user's sessions.
    session_with_token(&s, &u, "sess_c", at + 2).await;
    let r = s.call("DELETE", &format!("{upath}/sessions"), Some(&t), None).await;
    assert_eq!((r.status, r.body), (StatusCode::ACCEPTED, json!({})));
    let r = s.call("GET", &format!("{upath}/sessions"), Some(&t), None).await;
    assert_eq!(r.body, json!({"sessions": []}));
    let r = s.call("GET", "/api/v2/users/auth0%7Cnobody/sessions", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Scopes: revoke accepts delete:refresh_tokens too.
    s.client_with_scopes("rt", "rt-secret-value-long", &["delete:refresh_tokens"]).await;
    let weak = s.token_for("rt", "rt-secret-value-long").await;
    let r = s.call("GET", "/api/v2/sessions/sess_c", Some(&weak), None).await;
    assert_eq!(r.body["message"], "Insufficient scope, expected any of: read:sessions");
    let r = s.call("POST", "/api/v2/sessions/nope/revoke", Some(&weak), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "authorized, but there is no such session");
}
