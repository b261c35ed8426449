//! End users' credentials and attack protection state in the store, on
//! SQLite and (when configured) PostgreSQL: refresh tokens listed by family
//! across rotations with keyset and offset paging, their metadata, bulk
//! revocation, sessions ended with and without their tokens, brute-force
//! counters in both counting modes, IP throttling buckets, and atomic
//! updates of one tenant setting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use castellan_domain::log_event::LogEvent;
use castellan_store::{Bucket, NewSession, RefreshTokenRow, SessionsOf, Store, TokenFilter, TokensOf};
use common::{backends, finish};
use serde_json::json;

async fn tenant(s: &Store, domain: &str) -> i64 {
    s.create_tenant(domain, "00", 0).await.unwrap().id
}

fn token(id: &str, family: &str, user: &str, client: &str, at: i64) -> RefreshTokenRow {
    RefreshTokenRow {
        id: id.into(),
        family: family.into(),
        token_hash: format!("hash-{id}"),
        user_id: user.into(),
        client_id: client.into(),
        audience: Some("https://api/".into()),
        scope: "openid offline_access".into(),
        session_id: None,
        rotating: false,
        created_at: at,
        expires_at: None,
        idle_expires_at: None,
        last_used_at: None,
        rotated_at: None,
        revoked_at: None,
        device: json!({"initial_user_agent": "UA"}),
        auth_time: None,
    }
}

fn families(items: &[castellan_store::LiveRefreshToken]) -> Vec<&str> {
    items.iter().map(|t| t.row.family.as_str()).collect()
}

fn event(kind: &str) -> LogEvent {
    LogEvent::new(kind, 1)
}

async fn count_logs(s: &Store, t: i64) -> u64 {
    s.logs_after(t, "", 10_000).await.unwrap().len() as u64
}

#[tokio::test]
async fn refresh_tokens_by_family() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        let other = tenant(s, "b.example").await;
        s.insert_refresh_token(t, &token("r1", "famA", "u1", "c1", 100), &[]).await.unwrap();
        let mut rotating = token("r2", "famB", "u1", "c2", 200);
        rotating.rotating = true;
        s.insert_refresh_token(t, &rotating, &[]).await.unwrap();
        s.insert_refresh_token(t, &token("r3", "famC", "u1", "c1", 300), &[]).await.unwrap();
        s.insert_refresh_token(t, &token("r4", "famD", "u2", "c1", 150), &[]).await.unwrap();
        let mut expired = token("r5", "famE", "u1", "c1", 50);
        expired.expires_at = Some(900);
        s.insert_refresh_token(t, &expired, &[]).await.unwrap();
        s.insert_refresh_token(other, &token("r6", "famF", "u1", "c1", 10), &[]).await.unwrap();

        // Rotation replaces the live member; the family keeps its birth.
        let mut next = token("r2b", "famB", "u1", "c2", 500);
        next.rotating = true;
        assert!(s.rotate_refresh_token(t, "r2", &next, 500, &[]).await.unwrap());

        let u1 = TokenFilter { user_id: Some("u1"), ..Default::default() };
        let (all, total) = s.live_refresh_tokens(t, &u1, 1000, None, 0, 10).await.unwrap();
        assert_eq!((families(&all), total), (vec!["famA", "famB", "famC"], 3), "{n}: oldest first, expired left out");
        let b_live = &all[1];
        assert_eq!((b_live.row.id.as_str(), b_live.born, b_live.row.created_at), ("r2b", 200, 500), "{n}");

        // Keyset and offset paging, filters.
        let (page, _) = s.live_refresh_tokens(t, &u1, 1000, None, 0, 2).await.unwrap();
        let cursor = (page[1].born, page[1].row.family.clone());
        let (rest, total) = s.live_refresh_tokens(t, &u1, 1000, Some(&cursor), 0, 2).await.unwrap();
        assert_eq!((families(&rest), total), (vec!["famC"], 3), "{n}");
        let (skipped, _) = s.live_refresh_tokens(t, &u1, 1000, None, 1, 1).await.unwrap();
        assert_eq!(families(&skipped), ["famB"], "{n}");
        let c1 = TokenFilter { user_id: Some("u1"), client_id: Some("c1"), rotating: Some(false) };
        assert_eq!(families(&s.live_refresh_tokens(t, &c1, 1000, None, 0, 10).await.unwrap().0), ["famA", "famC"]);
        let rot = TokenFilter { rotating: Some(true), ..Default::default() };
        assert_eq!(families(&s.live_refresh_tokens(t, &rot, 1000, None, 0, 10).await.unwrap().0), ["famB"]);
        let everyone = TokenFilter::default();
        assert_eq!(s.live_refresh_tokens(t, &everyone, 1000, None, 0, 10).await.unwrap().1, 4, "{n}");
        assert_eq!(s.live_refresh_tokens(t, &everyone, 10, None, 0, 10).await.unwrap().1, 5, "{n}: not yet expired");

        // Metadata, by family, survives rotation.
        assert_eq!(s.live_refresh_token(t, "famB", 1000).await.unwrap().unwrap().metadata, None);
        s.set_refresh_token_metadata(t, "famB", Some(&json!({"k": "v"})), &[event("sapi")]).await.unwrap();
        let mut third = token("r2c", "famB", "u1", "c2", 600);
        third.rotating = true;
        assert!(s.rotate_refresh_token(t, "r2b", &third, 600, &[]).await.unwrap());
        let live = s.live_refresh_token(t, "famB", 1000).await.unwrap().unwrap();
        assert_eq!((live.row.id.as_str(), live.metadata), ("r2c", Some(json!({"k": "v"}))), "{n}");
        s.set_refresh_token_metadata(t, "famB", None, &[]).await.unwrap();
        assert_eq!(s.live_refresh_token(t, "famB", 1000).await.unwrap().unwrap().metadata, None, "{n}");
        assert_eq!(s.live_refresh_token(t, "famF", 1000).await.unwrap(), None, "{n}: other tenant");
        assert_eq!(s.live_refresh_token(t, "famE", 1000).await.unwrap(), None, "{n}: expired");

        // Bulk revocation by family, and by user, client and audience.
        let before = count_logs(s, t).await;
        let ids = vec!["famA".to_string(), "famX".to_string()];
        assert_eq!(
            s.revoke_refresh_tokens_where(t, TokensOf::Families(&ids), 1000, &[event("sapi")]).await.unwrap(),
            1
        );
        assert_eq!(count_logs(s, t).await, before + 1, "{n}: the event commits with the write");
        assert_eq!(s.revoke_refresh_tokens_where(t, TokensOf::Families(&[]), 1000, &[]).await.unwrap(), 0);
        let which = TokensOf::User { user_id: "u1", client_id: Some("c1"), audience: Some("https://other/") };
        assert_eq!(s.revoke_refresh_tokens_where(t, which, 1000, &[]).await.unwrap(), 0, "{n}");
        let which = TokensOf::User { user_id: "u1", client_id: Some("c1"), audience: Some("https://api/") };
        assert_eq!(s.revoke_refresh_tokens_where(t, which, 1000, &[]).await.unwrap(), 2, "{n}: famC and expired famE");
        assert_eq!(families(&s.live_refresh_tokens(t, &u1, 1000, None, 0, 10).await.unwrap().0), ["famB"], "{n}");
        assert_eq!(s.live_refresh_tokens(other, &u1, 1000, None, 0, 10).await.unwrap().1, 1, "{n}");
    }
    finish(bs).await;
}

fn session(id: &str, user: &str, at: i64) -> NewSession {
    NewSession {
        id: id.into(),
        cookie_hash: format!("cookie-{id}"),
        user_id: user.into(),
        created_at: at,
        expires_at: at + 1000,
        doc: json!({"clients": ["c1"]}),
    }
}

#[tokio::test]
async fn sessions_end_with_or_without_their_tokens() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        for (id, at) in [("s1", 10), ("s2", 20), ("s3", 30)] {
            s.insert_session(t, &session(id, "u1", at)).await.unwrap();
            let mut rt = token(&format!("rt-{id}"), &format!("fam-{id}"), "u1", "c1", at);
            rt.session_id = Some(id.into());
            s.insert_refresh_token(t, &rt, &[]).await.unwrap();
        }
        s.insert_session(t, &session("s9", "u2", 5)).await.unwrap();

        let (all, total) = s.live_sessions(t, "u1", 100, None, 10).await.unwrap();
        let ids: Vec<&str> = all.iter().map(|x| x.id.as_str()).collect();
        assert_eq!((ids, total), (vec!["s1", "s2", "s3"], 3), "{n}");
        let (page, _) = s.live_sessions(t, "u1", 100, Some(&(10, "s1".into())), 1).await.unwrap();
        assert_eq!(page[0].id, "s2", "{n}");
        assert_eq!(s.live_sessions(t, "u1", 1015, None, 10).await.unwrap().1, 2, "{n}: s1 expired at 1010");
        assert_eq!(s.live_session(t, "s2", 100).await.unwrap().unwrap().doc, json!({"clients": ["c1"]}));

        assert!(s.set_session_metadata(t, "s2", Some(&json!({"a": "b"})), 100, &[]).await.unwrap());
        let doc = s.live_session(t, "s2", 100).await.unwrap().unwrap().doc;
        assert_eq!(doc, json!({"clients": ["c1"], "session_metadata": {"a": "b"}}), "{n}");
        assert!(s.set_session_metadata(t, "s2", None, 100, &[]).await.unwrap());
        assert!(!s.set_session_metadata(t, "nope", None, 100, &[]).await.unwrap(), "{n}");

        let live = TokenFilter { user_id: Some("u1"), ..Default::default() };
        // Ending a session leaves its token; revoking one takes its token too.
        assert_eq!(s.end_sessions(t, SessionsOf::Id("s1"), false, 100, &[]).await.unwrap(), 1);
        assert_eq!(s.live_refresh_tokens(t, &live, 100, None, 0, 10).await.unwrap().1, 3, "{n}");
        assert_eq!(s.end_sessions(t, SessionsOf::Id("s2"), true, 100, &[event("sapi")]).await.unwrap(), 1);
        let left = s.live_refresh_tokens(t, &live, 100, None, 0, 10).await.unwrap().0;
        assert_eq!(families(&left), ["fam-s1", "fam-s3"], "{n}");
        assert_eq!(s.live_session(t, "s2", 100).await.unwrap(), None, "{n}");
        assert_eq!(s.end_sessions(t, SessionsOf::Id("s2"), true, 100, &[]).await.unwrap(), 0, "{n}: already ended");
        assert_eq!(s.end_sessions(t, SessionsOf::User("u1"), false, 100, &[]).await.unwrap(), 1, "{n}: s3");
        assert_eq!(s.live_sessions(t, "u1", 100, None, 10).await.unwrap().1, 0, "{n}");
        assert_eq!(s.live_sessions(t, "u2", 100, None, 10).await.unwrap().1, 1, "{n}: other users keep theirs");
    }
    finish(bs).await;
}

#[tokio::test]
async fn brute_force_counters_and_blocks() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        for i in 1..=3 {
            let (failures, blocked) = s.record_login_failure(t, "u1", "1.1.1.1", i, 3).await.unwrap();
            assert_eq!((failures, blocked), (i, i == 3), "{n}");
        }
        assert!(s.login_blocked(t, "u1", "1.1.1.1", 3).await.unwrap(), "{n}");
        assert!(!s.login_blocked(t, "u1", "2.2.2.2", 3).await.unwrap(), "{n}: per IP");
        assert!(!s.login_blocked(t, "u1", "1.1.1.1", 4).await.unwrap(), "{n}: a raised threshold lifts it");
        // Past a raised threshold the block is new again.
        assert_eq!(s.record_login_failure(t, "u1", "1.1.1.1", 9, 4).await.unwrap(), (4, true), "{n}");
        // Every IP together, under "".
        for i in 1..=2 {
            s.record_login_failure(t, "u1", "", i, 2).await.unwrap();
        }
        assert!(s.login_blocked(t, "u1", "9.9.9.9", 2).await.unwrap(), "{n}: blocked from any IP");

        let users = vec!["u1".to_string(), "u2".to_string()];
        let blocks = s.login_blocks(t, &users).await.unwrap();
        let seen: Vec<(&str, i64)> = blocks.iter().map(|b| (b.ip.as_str(), b.failures)).collect();
        assert_eq!(seen, [("", 2), ("1.1.1.1", 4)], "{n}");
        assert!(s.login_blocks(t, &[]).await.unwrap().is_empty());

        // A success forgets the IP's count and the all-IP count.
        s.record_login_failure(t, "u2", "5.5.5.5", 1, 3).await.unwrap();
        s.record_login_failure(t, "u2", "", 1, 3).await.unwrap();
        s.record_login_failure(t, "u2", "6.6.6.6", 1, 3).await.unwrap();
        assert_eq!(s.clear_login_failures(t, "u2", Some("5.5.5.5"), &[]).await.unwrap(), 2, "{n}");
        let before = count_logs(s, t).await;
        assert_eq!(s.clear_login_blocks(t, &users, &[event("ublkdu")]).await.unwrap(), 3, "{n}");
        assert_eq!(count_logs(s, t).await, before + 1);
        assert!(!s.login_blocked(t, "u1", "1.1.1.1", 3).await.unwrap(), "{n}");
        assert_eq!(s.clear_login_blocks(t, &[], &[event("sapi")]).await.unwrap(), 0);
        assert_eq!(count_logs(s, t).await, before + 2, "{n}: the event is recorded anyway");
    }
    finish(bs).await;
}

#[tokio::test]
async fn ip_buckets_throttle_and_release() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        let other = tenant(s, "b.example").await;
        let bucket = Bucket { max: 3, rate_ms: 100 };
        let mut newly = Vec::new();
        for i in 0..4 {
            newly.push(s.record_ip_failure(t, "7.7.7.7", 1000 + i, bucket).await.unwrap());
        }
        assert_eq!(newly, [false, false, true, false], "{n}: the third failure empties the bucket");
        assert!(s.ip_throttled(t, "7.7.7.7", 1010, bucket).await.unwrap(), "{n}");
        assert!(s.ip_throttled(t, "7.7.7.7", 1110, bucket).await.unwrap(), "{n}: 4 - 1 = 3 left");
        assert!(!s.ip_throttled(t, "7.7.7.7", 1210, bucket).await.unwrap(), "{n}: two attempts granted back");
        assert!(!s.ip_throttled(other, "7.7.7.7", 1010, bucket).await.unwrap(), "{n}: per tenant");
        assert!(!s.ip_throttled(t, "8.8.8.8", 1010, bucket).await.unwrap());

        s.block_ip(t, "7.7.7.7", 1000, &[]).await.unwrap();
        assert!(s.ip_blocked(t, "7.7.7.7").await.unwrap());
        assert_eq!(s.release_ip(t, "7.7.7.7", &[event("ublkdu")]).await.unwrap(), 2, "{n}");
        assert!(!s.ip_blocked(t, "7.7.7.7").await.unwrap(), "{n}");
        assert!(!s.ip_throttled(t, "7.7.7.7", 1010, bucket).await.unwrap(), "{n}");
        assert_eq!(s.release_ip(t, "7.7.7.7", &[]).await.unwrap(), 0);
    }
    finish(bs).await;
}

#[tokio::test]
async fn one_setting_updates_atomically() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        s.set_tenant_settings(t, &json!({"lift_search_cap": true})).await.unwrap();
        let before = count_logs(s, t).await;
        let v = s
            .update_tenant_setting(t, "brute_force_protection", |current| {
                assert_eq!(current, None);
                (json!({"max_attempts": 3}), vec![event("sapi")])
            })
            .await
            .unwrap();
        assert_eq!(v, json!({"max_attempts": 3}));
        s.update_tenant_setting(t, "brute_force_protection", |current| {
            let mut v = current.cloned().unwrap();
            v["enabled"] = json!(false);
            (v, vec![])
        })
        .await
        .unwrap();
        let settings = s.tenant_by_domain("a.example").await.unwrap().unwrap().settings;
        assert_eq!(
            settings,
            json!({"lift_search_cap": true, "brute_force_protection": {"max_attempts": 3, "enabled": false}}),
            "{n}: other keys are kept"
        );
        assert_eq!(count_logs(s, t).await, before + 1, "{n}");
    }
    finish(bs).await;
}

#[tokio::test]
async fn deleting_a_user_removes_its_tokens_sessions_and_counters() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        for id in ["gone", "kept"] {
            let u: castellan_domain::user::User = serde_json::from_value(serde_json::json!({
                "user_id": id, "created_at": "2024-01-01T00:00:00.000Z", "updated_at": "2024-01-01T00:00:00.000Z",
                "identities": [{"connection": "db", "provider": "auth0", "user_id": id, "isSocial": false}]
            }))
            .unwrap();
            s.insert_user(t, &u, None, &[]).await.unwrap();
            s.insert_session(t, &session(&format!("s-{id}"), id, 10)).await.unwrap();
            s.insert_refresh_token(t, &token(&format!("rt-{id}"), &format!("f-{id}"), id, "c1", 10), &[])
                .await
                .unwrap();
            s.record_login_failure(t, id, "1.1.1.1", 1, 1).await.unwrap();
        }
        assert!(s.delete_user(t, "gone", &[]).await.unwrap());
        assert_eq!(s.user_refresh_tokens(t, Some("gone"), None, 0, 10).await.unwrap().1, 0, "{n}");
        assert_eq!(s.live_sessions(t, "gone", 0, None, 10).await.unwrap().1, 0, "{n}");
        assert!(!s.login_blocked(t, "gone", "1.1.1.1", 1).await.unwrap(), "{n}");
        // The other user keeps everything.
        assert_eq!(s.user_refresh_tokens(t, Some("kept"), None, 0, 10).await.unwrap().1, 1, "{n}");
        assert_eq!(s.live_sessions(t, "kept", 0, None, 10).await.unwrap().1, 1, "{n}");
        assert!(s.login_blocked(t, "kept", "1.1.1.1", 1).await.unwrap(), "{n}");
    }
    finish(bs).await;
}
