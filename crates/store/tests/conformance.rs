//! The store conformance suite: written once, run against SQLite (a real
//! file) and PostgreSQL (the server named by CASTELLAN_TEST_PG_URL; each run
//! gets its own database). Set CASTELLAN_REQUIRE_PG=1 to make a missing
//! PostgreSQL a failure instead of a skip (CI does).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use castellan_domain::user::{Identity, User};
use castellan_query::{parse, LogSchema, UserSchema};
use castellan_store::{Dialect, Sort, SortField, Store, StoreError};
use serde_json::json;

mod common;

use common::{backends, finish};

fn user(local: &str, email: &str, name: &str, extra: serde_json::Value) -> User {
    let mut v = json!({
        "created_at": "2020-01-01T00:00:00.000Z", "updated_at": "2020-01-01T00:00:00.000Z",
        "user_id": format!("auth0|{local}"), "email": email, "email_verified": false, "name": name,
        "nickname": email.split('@').next().unwrap(),
        "identities": [{"connection": "db", "user_id": local, "provider": "auth0", "isSocial": false}],
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    serde_json::from_value(v).unwrap()
}

async fn tenant(store: &Store, domain: &str) -> i64 {
    store.create_tenant(domain, "00", 0).await.unwrap().id
}

#[tokio::test]
async fn tenants_are_unique_and_isolated() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t1 = tenant(s, "a.example").await;
        let t2 = tenant(s, "b.example").await;
        assert!(matches!(s.create_tenant("a.example", "00", 0).await, Err(StoreError::Conflict(_))), "{}", b.name);
        let u = user("1", "x@example.com", "X", json!({}));
        s.insert_user(t1, &u, Some("$2b$10$hash"), &[]).await.unwrap();
        // Same email in another tenant is a different user.
        s.insert_user(t2, &u, None, &[]).await.unwrap();
        assert!(matches!(s.insert_user(t1, &u, None, &[]).await, Err(StoreError::Conflict(_))), "{}", b.name);
        let mut other = user("2", "x@example.com", "X2", json!({}));
        assert!(
            matches!(s.insert_user(t1, &other, None, &[]).await, Err(StoreError::Conflict(_))),
            "{}: email per connection",
            b.name
        );
        other.identities = vec![Identity {
            connection: "other-db".into(),
            user_id: "2".into(),
            provider: "auth0".into(),
            is_social: false,
        }];
        s.insert_user(t1, &other, None, &[]).await.unwrap();
        let got = s.get_user(t1, "auth0|1").await.unwrap().unwrap();
        assert_eq!(got.user, u, "{}", b.name);
        assert_eq!(got.password_hash.as_deref(), Some("$2b$10$hash"));
        assert!(s.get_user(t2, "auth0|1").await.unwrap().unwrap().password_hash.is_none());
        assert!(s.delete_user(t2, "auth0|1", &[]).await.unwrap());
        assert!(!s.delete_user(t2, "auth0|1", &[]).await.unwrap());
        assert!(s.get_user(t1, "auth0|1").await.unwrap().is_some(), "{}: delete in t2 left t1 alone", b.name);
    }
    finish(bs).await;
}

async fn seed(s: &Store, t: i64) {
    let users = [
        user(
            "a1",
            "jane@example.com",
            "Jane Smith",
            json!({"logins_count": 5, "created_at": "2019-06-15T10:00:00.000Z",
            "user_metadata": {"theme": "dark", "display": {"lang": "fr"}, "addresses": [{"city": "Paris"}],
                "tags": ["vip", "vip", "beta"]},
            "app_metadata": {"plan": "gold", "winner": true}}),
        ),
        user(
            "a2",
            "john@example.org",
            "John Doe",
            json!({"logins_count": 0, "created_at": "2020-02-01T00:00:00.000Z",
            "user_metadata": {"theme": "light"}, "blocked": true}),
        ),
        user(
            "a3",
            "JOANNA@Corp.com",
            "joanna jameson",
            json!({"logins_count": 150, "created_at": "2021-03-03T00:00:00.000Z",
            "app_metadata": {"plan": "silver", "score": 42}}),
        ),
        user(
            "a4",
            "bob@usa.gov",
            "Bob Jackson",
            json!({"created_at": "2017-12-10T00:00:00.000Z", "user_metadata": {"theme": "dark"}}),
        ),
        user(
            "a5",
            "ann@example.com",
            "Ann Robinson",
            json!({"logins_count": 12, "created_at": "2017-11-20T00:00:00.000Z"}),
        ),
    ];
    for u in &users {
        s.insert_user(t, u, None, &[]).await.unwrap();
    }
}

async fn emails(s: &Store, t: i64, q: &str) -> BTreeSet<String> {
    let f = parse(q, &UserSchema).unwrap_or_else(|e| panic!("{q}: {e}"));
    let page = s.search_users(t, &f, None, 0, 100, true).await.unwrap();
    let got: BTreeSet<String> = page.users.iter().map(|u| u.user.email.clone().unwrap()).collect();
    assert_eq!(page.total, Some(got.len() as u64), "total for {q}");
    got
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn every_search_class() {
    let cases: &[(&str, &[&str])] = &[
        ("email:jane@example.com", &["jane@example.com"]),
        ("email:JANE@EXAMPLE.COM", &["jane@example.com"]),
        ("email:\"joanna@corp.com\"", &["JOANNA@Corp.com"]),
        ("name:j*", &["jane@example.com", "john@example.org", "JOANNA@Corp.com"]),
        ("name:\"jane smith\"", &["jane@example.com"]),
        ("name:Jane\\ Smith", &["jane@example.com"]),
        ("name:*son", &["JOANNA@Corp.com", "bob@usa.gov", "ann@example.com"]),
        ("name:*ack*", &["bob@usa.gov"]),
        ("name:j*son", &["JOANNA@Corp.com"]),
        ("email.domain:example.com", &["jane@example.com", "ann@example.com"]),
        (
            "identities.connection:db",
            &["jane@example.com", "john@example.org", "JOANNA@Corp.com", "bob@usa.gov", "ann@example.com"],
        ),
        ("user_id:auth0|a2", &["john@example.org"]),
        (
            "user_id:auth0*",
            &["jane@example.com", "john@example.org", "JOANNA@Corp.com", "bob@usa.gov", "ann@example.com"],
        ),
        ("user_metadata.theme:dark", &["jane@example.com", "bob@usa.gov"]),
        ("user_metadata.theme:Dark", &[]),
        ("user_metadata.display.lang:fr", &["jane@example.com"]),
        ("user_metadata.addresses.city:Paris", &["jane@example.com"]),
        // A value repeated in an array is one user (counted once).
        ("user_metadata.tags:vip", &["jane@example.com"]),
        ("user_metadata.tags:vip AND NOT blocked:true", &["jane@example.com"]),
        (
            "NOT user_metadata.tags:vip AND NOT _exists_:app_metadata",
            &["john@example.org", "bob@usa.gov", "ann@example.com"],
        ),
        ("app_metadata.winner:true", &["jane@example.com"]),
        ("app_metadata.score:42", &["JOANNA@Corp.com"]),
        ("_exists_:app_metadata", &["jane@example.com", "JOANNA@Corp.com"]),
        ("_exists_:user_metadata.display", &["jane@example.com"]),
        ("NOT _exists_:logins_count OR logins_count:0", &["john@example.org", "bob@usa.gov"]),
        ("NOT app_metadata.winner:true", &["john@example.org", "JOANNA@Corp.com", "bob@usa.gov", "ann@example.com"]),
        ("logins_count:[1 TO 100]", &["jane@example.com", "ann@example.com"]),
        ("logins_count:{5 TO *]", &["JOANNA@Corp.com", "ann@example.com"]),
        ("logins_count:[* TO 5}", &["john@example.org"]),
        ("created_at:[2017-12-01 TO 2017-12-31]", &["bob@usa.gov"]),
        ("created_at:[2017-11 TO 2017-12]", &["bob@usa.gov", "ann@example.com"]),
        ("created_at:2019", &["jane@example.com"]),
        ("blocked:true", &["john@example.org"]),
        ("name:j* AND user_metadata.theme:dark", &["jane@example.com"]),
        (
            "user_metadata.theme:dark OR app_metadata.plan:silver",
            &["jane@example.com", "bob@usa.gov", "JOANNA@Corp.com"],
        ),
        ("name:(jane* OR bob*)", &["jane@example.com", "bob@usa.gov"]),
        ("(name:j* OR name:b*) AND NOT blocked:true", &["jane@example.com", "JOANNA@Corp.com", "bob@usa.gov"]),
        ("name:j* NOT blocked:true", &["jane@example.com", "JOANNA@Corp.com"]),
        ("jane*", &["jane@example.com"]),
        ("name=j* AND user_metadata.theme:dark", &[]),
    ];
    let bs = backends().await;
    for b in &bs {
        let t = tenant(&b.store, "s.example").await;
        seed(&b.store, t).await;
        let other = tenant(&b.store, "other.example").await;
        seed(&b.store, other).await;
        for (q, want) in cases {
            assert_eq!(emails(&b.store, t, q).await, set(want), "{}: {q}", b.name);
        }
    }
    finish(bs).await;
}

/// Concurrent updates of the same users, beside batches of queued events:
/// some conflict, some are given up half-way (their request went away).
/// Each update's row, terms and event commit together or not at all, stale
/// reads (the optimistic path of update_user) never mix two updates, and
/// nothing is left holding the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_commit_whole_or_not_at_all() {
    use castellan_domain::log_event::LogEvent;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "g.example").await;
        const USERS: usize = 12;
        for i in 0..USERS {
            s.insert_user(t, &user(&format!("g{i}"), &format!("u{i}@x.com"), "G", json!({})), None, &[]).await.unwrap();
        }
        let mut tasks = Vec::new();
        for k in 0..90usize {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let i = k % USERS;
                let read = s.get_user(t, &format!("auth0|g{i}")).await.unwrap().unwrap();
                let mut u = read.user.clone();
                let mut meta = serde_json::Map::new();
                meta.insert("n".into(), json!(k));
                u.user_metadata = Some(meta);
                if k % 10 == 3 {
                    // Another user's email: a conflict, rolled back alone.
                    u.email = Some(format!("u{}@x.com", (i + 1) % USERS));
                }
                let mut e = LogEvent::new("sapi", 1_700_000_000_000 + k as i64);
                e.description = Some(format!("update {k}"));
                let update = s.update_user(t, read.pk, &read.user, &u, None, std::slice::from_ref(&e));
                if k % 7 == 5 {
                    // Given up at some await point, maybe inside its savepoint.
                    let _ = tokio::time::timeout(std::time::Duration::from_micros(200), update).await;
                    return (k, None);
                }
                let queued = LogEvent::new("seccft", 1_700_000_000_000 + k as i64);
                let batch = [(t, &queued)];
                let (r, q) = tokio::join!(update, s.insert_logs_grouped(&batch));
                q.unwrap();
                (k, Some(r))
            }));
        }
        let mut ok = 0;
        let mut given_up = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (k, Some(Ok(()))) => {
                    assert_ne!(k % 10, 3, "{}: update {k} should conflict", b.name);
                    ok += 1;
                }
                (k, Some(Err(e))) => {
                    assert_eq!(k % 10, 3, "{}: update {k}: {e}", b.name);
                    assert!(matches!(e, StoreError::Conflict(_)), "{}: {e}", b.name);
                }
                (k, None) => given_up.push(k),
            }
        }
        // A plain write afterwards neither waits for ever nor fails.
        let late = user("late", "late@x.com", "L", json!({}));
        tokio::time::timeout(std::time::Duration::from_secs(5), s.insert_user(t, &late, None, &[]))
            .await
            .expect("no write is left hanging")
            .unwrap();
        // Each user's terms are those of its document, its email unique.
        for i in 0..USERS {
            let stored = s.get_user(t, &format!("auth0|g{i}")).await.unwrap().unwrap().user;
            let email = stored.email.clone().unwrap();
            assert_eq!(email, format!("u{i}@x.com"), "{}", b.name);
            if let Some(n) = stored.user_metadata.as_ref().and_then(|m| m.get("n")) {
                assert_eq!(emails(s, t, &format!("user_metadata.n:{n}")).await, set(&[&email]), "{}", b.name);
            }
            assert_eq!(emails(s, t, &format!("email:\"{email}\"")).await, set(&[&email]), "{}", b.name);
        }
        let all = parse("_exists_:user_metadata.n", &UserSchema).unwrap();
        let total = s.search_users(t, &all, None, 0, 100, true).await.unwrap().total.unwrap();
        assert!(total <= USERS as u64, "{}: {total} users with a metadata term", b.name);
        // The events of the updates that answered Ok, none of the conflicts';
        // the abandoned ones may or may not have committed.
        let kind = |k: &str| parse(&format!("type:{k}"), &LogSchema).unwrap();
        let newest = castellan_store::LogSort { descending: true };
        let sapi = s.search_logs(t, &kind("sapi"), newest, 0, 100, true).await.unwrap();
        let (listed, n) = (sapi.0, sapi.1.unwrap() as usize);
        assert!(
            n >= ok && n <= ok + given_up.len(),
            "{}: {n} sapi events, {ok} ok, {} given up",
            b.name,
            given_up.len()
        );
        for e in &listed {
            let k: usize = e.description.as_deref().unwrap().trim_start_matches("update ").parse().unwrap();
            assert_ne!(k % 10, 3, "{}: the event of conflicting update {k} was recorded", b.name);
        }
        let seccft = s.search_logs(t, &kind("seccft"), newest, 0, 1, true).await.unwrap().1.unwrap();
        assert_eq!(seccft as usize, 90 - given_up.len(), "{}", b.name);
    }
    finish(bs).await;
}

/// `update_user_with` reads and writes in one transaction: concurrent
/// increments of one counter lose none, a refused change and a conflicting
/// one write nothing (no row, terms or event), a missing user is None, and
/// an update given up half-way leaves nothing holding the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_with_reads_and_writes_in_one_transaction() {
    use castellan_domain::log_event::LogEvent;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "w.example").await;
        for i in 0..3 {
            let u = user(&format!("w{i}"), &format!("w{i}@x.com"), "W", json!({"user_metadata": {"n": 0}}));
            s.insert_user(t, &u, None, &[]).await.unwrap();
        }
        let bump = |k: usize| {
            let s = s.clone();
            async move {
                s.update_user_with(t, "auth0|w0", |stored| {
                    let mut u = stored.user;
                    let meta = u.user_metadata.get_or_insert_with(Default::default);
                    let n = meta.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
                    meta.insert("n".into(), json!(n + 1));
                    let mut e = LogEvent::new("sapi", 1_700_000_000_000 + k as i64);
                    e.description = Some(format!("bump {k}"));
                    Ok::<_, String>((u, vec![e], n + 1))
                })
                .await
            }
        };
        let mut tasks = Vec::new();
        for k in 0..40 {
            tasks.push(tokio::spawn(bump(k)));
        }
        // Some are given up at an await point, perhaps inside the transaction.
        let mut finished = 0;
        for k in 40..46 {
            if tokio::time::timeout(std::time::Duration::from_micros(150), bump(k)).await.is_ok() {
                finished += 1;
            }
        }
        let mut seen = BTreeSet::new();
        for task in tasks {
            let n = task.await.unwrap().unwrap().unwrap().unwrap();
            assert!(seen.insert(n), "{}: two updates read the same count {n}", b.name);
        }
        let stored = s.get_user(t, "auth0|w0").await.unwrap().unwrap().user;
        let n = stored.user_metadata.as_ref().unwrap()["n"].as_i64().unwrap();
        assert!((40 + finished..=46).contains(&n), "{}: count {n}", b.name);
        assert_eq!(emails(s, t, &format!("user_metadata.n:{n}")).await, set(&["w0@x.com"]), "{}", b.name);
        assert!(emails(s, t, "user_metadata.n:0").await.len() == 2, "{}: the old term is gone", b.name);
        let sapi = parse("type:sapi", &LogSchema).unwrap();
        let newest = castellan_store::LogSort { descending: true };
        let events = s.search_logs(t, &sapi, newest, 0, 100, true).await.unwrap().1.unwrap();
        assert_eq!(events as i64, n, "{}: one event a committed update", b.name);
        // Refused: nothing is written.
        let refused = s
            .update_user_with(t, "auth0|w1", |stored| {
                let _ = stored;
                Err::<(User, Vec<LogEvent>, ()), _>("no")
            })
            .await
            .unwrap();
        assert_eq!(refused, Some(Err("no")), "{}", b.name);
        // A missing user.
        let missing = s.update_user_with(t, "auth0|nobody", |st| Ok::<_, ()>((st.user, vec![], ()))).await.unwrap();
        assert!(missing.is_none(), "{}", b.name);
        // Another user's email: a conflict, and nothing of it stays.
        let clash = s
            .update_user_with(t, "auth0|w1", |stored| {
                let mut u = stored.user;
                u.email = Some("w2@x.com".into());
                u.name = Some("Clash".into());
                Ok::<_, ()>((u, vec![LogEvent::new("sapi", 1_800_000_000_000)], ()))
            })
            .await;
        assert!(matches!(clash, Err(StoreError::Conflict(_))), "{}: {clash:?}", b.name);
        assert!(emails(s, t, "name:clash").await.is_empty(), "{}", b.name);
        assert_eq!(s.search_logs(t, &sapi, newest, 0, 1, true).await.unwrap().1.unwrap(), events, "{}", b.name);
        assert_eq!(s.users_by_email(t, "w1@x.com").await.unwrap().len(), 1, "{}", b.name);
        // The writer is free afterwards.
        let late = user("late", "late@x.com", "L", json!({}));
        tokio::time::timeout(std::time::Duration::from_secs(5), s.insert_user(t, &late, None, &[]))
            .await
            .expect("no write is left hanging")
            .unwrap();
    }
    finish(bs).await;
}

/// The part of an AND that drives its search is chosen from counts kept a
/// while; a part that grew past the driving limit since is still searched
/// whole (no page or total cut at the limit), and the driven page, read
/// from the terms alone, holds only the tenant's matches in key order.
#[tokio::test]
async fn and_parts_that_grew_since_counted_are_searched_whole() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        s.keep_part_counts_for(std::time::Duration::from_secs(600));
        let t = tenant(s, "grow.example").await;
        let other = tenant(s, "grow-other.example").await;
        let mk = |i: usize, plan: &str| {
            let meta = json!({"app_metadata": {"plan": plan}, "user_metadata": {"k": i % 2}});
            (user(&format!("g{i:05}"), &format!("g{i:05}@grow.example"), "G", meta), None)
        };
        let few: Vec<_> = (0..10).map(|i| mk(i, "rare")).collect();
        s.insert_users_bulk(t, &few).await.unwrap();
        s.insert_users_bulk(other, &few).await.unwrap();
        let q = parse("user_metadata.k:0 AND app_metadata.plan:rare", &UserSchema).unwrap();
        let page = s.search_users(t, &q, None, 0, 3, true).await.unwrap();
        assert_eq!(page.total, Some(5), "{}", b.name);
        let ids: Vec<_> = page.users.iter().map(|u| u.user.user_id.clone()).collect();
        assert_eq!(ids, ["auth0|g00000", "auth0|g00002", "auth0|g00004"], "{}", b.name);
        // The rare part grows past the limit; its kept count still says 10.
        let many: Vec<_> = (10..10_050).map(|i| mk(i, "rare")).collect();
        for chunk in many.chunks(2_000) {
            s.insert_users_bulk(t, chunk).await.unwrap();
        }
        let page = s.search_users(t, &q, None, 5_000, 2, true).await.unwrap();
        assert_eq!(page.total, Some(5_025), "{}", b.name);
        let ids: Vec<_> = page.users.iter().map(|u| u.user.user_id.clone()).collect();
        assert_eq!(ids, ["auth0|g10000", "auth0|g10002"], "{}", b.name);
        s.keep_part_counts_for(std::time::Duration::from_secs(2));
    }
    finish(bs).await;
}

/// A field that had one term and gets another (a date, a count, a
/// metadata value) is updated in place: each index answers for the new
/// value and none for the old, suffixes follow the reversed value, and the
/// user keeps one term of the field.
#[tokio::test]
async fn terms_changed_in_place_follow_every_index() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "inplace.example").await;
        let extra = json!({"logins_count": 1, "last_login": "2021-01-01T00:00:00.000Z",
            "user_metadata": {"theme": "light", "n": 7, "tags": ["a", "b"]}});
        s.insert_user(t, &user("ip", "ip@inplace.example", "Ip", extra), None, &[]).await.unwrap();
        let steps = [
            (2, "2022-06-01T00:00:00.000Z", json!("green"), json!(8)),
            (3, "2023-03-01T12:00:00.000Z", json!("dark"), json!("eight")),
            (4, "2024-01-01T00:00:00.000Z", json!(["dark", "dim"]), json!(9)),
            (5, "2025-01-01T00:00:00.000Z", json!("dusk"), json!(9.5)),
        ];
        for (count, login, theme, n) in steps {
            let done = s
                .update_user_with(t, "auth0|ip", |stored| {
                    let mut u = stored.user;
                    u.logins_count = Some(count);
                    u.last_login = Some(login.to_string());
                    u.name = Some(format!("Alpha{count}"));
                    let meta = u.user_metadata.get_or_insert_with(Default::default);
                    meta.insert("theme".into(), theme.clone());
                    meta.insert("n".into(), n.clone());
                    Ok::<_, ()>((u, vec![], ()))
                })
                .await
                .unwrap();
            assert_eq!(done, Some(Ok(())), "{}", b.name);
            let me = set(&["ip@inplace.example"]);
            let none = BTreeSet::new();
            assert_eq!(emails(s, t, &format!("logins_count:{count}")).await, me, "{}", b.name);
            assert_eq!(emails(s, t, &format!("logins_count:[{count} TO *]")).await, me, "{}", b.name);
            assert_eq!(emails(s, t, &format!("logins_count:{}", count - 1)).await, none, "{}", b.name);
            let year = &login[..4];
            assert_eq!(emails(s, t, &format!("last_login:[{year}-01-01 TO {year}-12-31]")).await, me, "{}", b.name);
            assert_eq!(emails(s, t, "last_login:[2021-01-01 TO 2021-12-31]").await, none, "{}", b.name);
            assert_eq!(emails(s, t, "_exists_:last_login").await, me, "{}", b.name);
            let themes: Vec<&str> = match &theme {
                serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
                v => vec![v.as_str().unwrap()],
            };
            for th in ["light", "green", "dark", "dim", "dusk"] {
                let want = if themes.contains(&th) { me.clone() } else { none.clone() };
                assert_eq!(emails(s, t, &format!("user_metadata.theme:{th}")).await, want, "{}: {th}", b.name);
            }
            // A text field's reversed value follows it (suffix search).
            assert_eq!(emails(s, t, &format!("name:*ha{count}")).await, me, "{}", b.name);
            assert_eq!(emails(s, t, &format!("name:*ha{}", count - 1)).await, none, "{}", b.name);
            let n_text = match &n {
                serde_json::Value::String(x) => x.clone(),
                v => v.to_string(),
            };
            assert_eq!(emails(s, t, &format!("user_metadata.n:{n_text}")).await, me, "{}: n {n_text}", b.name);
            assert_eq!(emails(s, t, "user_metadata.tags:a").await, me, "{}", b.name);
        }
    }
    finish(bs).await;
}

#[tokio::test]
async fn log_searches_use_indexes() {
    // SQLite only: the plans name the indexes migration 9 leaves.
    let bs = backends().await;
    for b in bs.iter().filter(|b| b.store.dialect() == Dialect::Sqlite) {
        let t = tenant(&b.store, "l.example").await;
        for (q, index) in [
            ("user_id:\"auth0|a1\"", "logs_user"),
            ("type:fp", "logs_type"),
            ("client_id:abc", "logs_client"),
            ("date:[2024-01-01T10:00:00 TO 2024-01-01T11:00:00]", "logs_id"),
        ] {
            let plan = b.store.explain_log_search(t, &parse(q, &LogSchema).unwrap()).await.unwrap();
            assert!(plan.contains(&format!("USING INDEX {index}")), "{q}:\n{plan}");
            assert!(!plan.contains("SCAN l") && !plan.contains("TEMP B-TREE"), "{q}:\n{plan}");
        }
    }
    finish(bs).await;
}

#[tokio::test]
async fn search_classes_use_indexes() {
    let indexed = [
        "email:jane@example.com",
        "name:j*",
        "name:*son",
        "logins_count:[1 TO 100]",
        "created_at:[2017-11 TO 2017-12]",
        "_exists_:app_metadata",
        "user_metadata.theme:dark",
        "name:j* AND user_metadata.theme:dark",
        "email:a@b.co OR name:x*",
        "email.domain:example.com AND (user_metadata.theme:dark OR app_metadata.plan:gold)",
        "name:j* AND NOT blocked:true AND logins_count:[1 TO *]",
    ];
    let bs = backends().await;
    for b in &bs {
        let t = tenant(&b.store, "p.example").await;
        seed(&b.store, t).await;
        for q in indexed {
            let plan = b.store.explain_user_search(t, &parse(q, &UserSchema).unwrap()).await.unwrap();
            match b.store.dialect() {
                Dialect::Sqlite => {
                    assert!(!plan.contains("SCAN t"), "{}: {q} scans user_terms:\n{plan}", b.name);
                    // The page is driven by the terms, not by visiting the
                    // tenant's users (fields are anchored: the users table is
                    // only looked up by key).
                    assert!(!plan.contains("SCAN u"), "{}: {q} scans users:\n{plan}", b.name);
                    assert!(!plan.contains("SEARCH u USING INDEX users_"), "{}: {q} walks users:\n{plan}", b.name);
                    assert!(
                        plan.contains("USING COVERING INDEX user_terms_") || plan.contains("USING INDEX user_terms_"),
                        "{}: {q}:\n{plan}",
                        b.name
                    );
                }
                Dialect::Postgres => {
                    assert!(!plan.contains("Seq Scan on user_terms"), "{}: {q}:\n{plan}", b.name);
                    assert!(plan.contains("user_terms_"), "{}: {q}:\n{plan}", b.name);
                }
            }
        }
        if b.store.dialect() == Dialect::Sqlite {
            // What no term can drive walks the tenant's keys, not the rows.
            for q in ["", "NOT app_metadata.winner:true"] {
                let plan = b.store.explain_user_search(t, &parse(q, &UserSchema).unwrap()).await.unwrap();
                assert!(plan.contains("USING COVERING INDEX users_tenant"), "{}: {q:?}:\n{plan}", b.name);
                assert!(!plan.contains("SCAN u") && !plan.contains("TEMP B-TREE FOR ORDER BY"), "{q:?}:\n{plan}");
            }
        }
    }
    finish(bs).await;
}

#[tokio::test]
async fn update_rewrites_terms_and_delete_removes_them() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "u.example").await;
        seed(s, t).await;
        let read = s.get_user(t, "auth0|a1").await.unwrap().unwrap();
        let mut jane = read.clone();
        jane.user.user_metadata = Some(json!({"theme": "light"}).as_object().unwrap().clone());
        jane.user.name = Some("Zed".into());
        s.update_user(t, jane.pk, &read.user, &jane.user, Some("newhash"), &[]).await.unwrap();
        assert_eq!(emails(s, t, "user_metadata.theme:dark").await, set(&["bob@usa.gov"]), "{}", b.name);
        assert_eq!(emails(s, t, "name:zed").await, set(&["jane@example.com"]), "{}", b.name);
        assert_eq!(s.get_user(t, "auth0|a1").await.unwrap().unwrap().password_hash.as_deref(), Some("newhash"));
        // Only changed terms are rewritten: repeated array values, a removed
        // key and an unchanged key all come out right after several updates.
        for (tags, want_x, want_y) in
            [(json!(["x", "x", "y"]), true, true), (json!(["x"]), true, false), (json!([]), false, false)]
        {
            let mut u = s.get_user(t, "auth0|a1").await.unwrap().unwrap();
            let before = u.user.clone();
            u.user.user_metadata.as_mut().unwrap().insert("tags".into(), tags.clone());
            s.update_user(t, u.pk, &before, &u.user, None, &[]).await.unwrap();
            let x = emails(s, t, "user_metadata.tags:x").await;
            let y = emails(s, t, "user_metadata.tags:y").await;
            assert_eq!((x.len() == 1, y.len() == 1), (want_x, want_y), "{}: tags {tags}", b.name);
            assert_eq!(emails(s, t, "user_metadata.theme:light").await, set(&["jane@example.com", "john@example.org"]));
        }
        // A caller whose read is stale (another update came between) still
        // leaves the terms of what it wrote, not a mix with the other update.
        let stale = s.get_user(t, "auth0|a1").await.unwrap().unwrap();
        let mut other = stale.clone();
        other.user.user_metadata.as_mut().unwrap().insert("theme".into(), json!("blue"));
        other.user.name = Some("Yan".into());
        other.user.email = Some("jane2@example.com".into());
        s.update_user(t, other.pk, &stale.user, &other.user, None, &[]).await.unwrap();
        assert_eq!(emails(s, t, "user_metadata.theme:blue").await, set(&["jane2@example.com"]), "{}", b.name);
        assert_eq!(emails(s, t, "name:yan").await, set(&["jane2@example.com"]), "{}", b.name);
        let mut late = stale.clone();
        late.user.user_metadata.as_mut().unwrap().insert("theme".into(), json!("green"));
        s.update_user(t, late.pk, &stale.user, &late.user, None, &[]).await.unwrap();
        assert!(emails(s, t, "user_metadata.theme:blue").await.is_empty(), "{}", b.name);
        assert_eq!(emails(s, t, "user_metadata.theme:green").await, set(&["jane@example.com"]), "{}", b.name);
        // The name column too: `late` has the name `stale` had, which the
        // stored row no longer has.
        assert_eq!(emails(s, t, "name:zed").await, set(&["jane@example.com"]), "{}", b.name);
        assert!(emails(s, t, "name:yan").await.is_empty(), "{}", b.name);
        let by_email = s.users_by_email(t, "jane@example.com").await.unwrap();
        assert_eq!(by_email.len(), 1, "{}: the email column follows the document", b.name);
        assert!(s.users_by_email(t, "jane2@example.com").await.unwrap().is_empty(), "{}", b.name);
        let mut back = late.clone();
        back.user.user_metadata.as_mut().unwrap().insert("theme".into(), json!("light"));
        s.update_user(t, back.pk, &late.user, &back.user, None, &[]).await.unwrap();
        // Moving to an email another user holds is a conflict and changes nothing.
        let mut clash = jane.user.clone();
        clash.email = Some("ann@example.com".into());
        assert!(matches!(s.update_user(t, jane.pk, &jane.user, &clash, None, &[]).await, Err(StoreError::Conflict(_))));
        assert_eq!(emails(s, t, "email:ann@example.com").await, set(&["ann@example.com"]));
        assert!(s.delete_user(t, "auth0|a1", &[]).await.unwrap());
        assert!(emails(s, t, "name:zed").await.is_empty(), "{}", b.name);
        assert!(matches!(
            s.update_user(t, jane.pk, &jane.user, &jane.user, None, &[]).await,
            Err(StoreError::NotFound)
        ));
    }
    finish(bs).await;
}

#[tokio::test]
async fn bulk_insert_is_all_or_nothing() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "bulk.example").await;
        let batch: Vec<_> = (0..50)
            .map(|i| {
                (user(&format!("b{i}"), &format!("u{i}@bulk.example"), "Bulk", json!({"app_metadata": {"i": i}})), None)
            })
            .collect();
        s.insert_users_bulk(t, &batch).await.unwrap();
        assert_eq!(emails(s, t, "app_metadata.i:49").await, set(&["u49@bulk.example"]), "{}", b.name);
        // Terms written batch-wide (sorted) still belong to the right users.
        assert_eq!(emails(s, t, "email:u7@bulk.example").await, set(&["u7@bulk.example"]), "{}", b.name);
        assert_eq!(
            emails(s, t, "email:u10@bulk.example OR email:u11@bulk.example").await,
            set(&["u10@bulk.example", "u11@bulk.example"])
        );
        assert_eq!(s.count_users(t, &parse("name:bulk", &UserSchema).unwrap()).await.unwrap(), 50);
        let mut clash: Vec<_> = (50..60)
            .map(|i| (user(&format!("b{i}"), &format!("u{i}@bulk.example"), "Bulk", json!({})), None))
            .collect();
        clash.push((user("b3", "again@bulk.example", "Dup", json!({})), None));
        assert!(matches!(s.insert_users_bulk(t, &clash).await, Err(StoreError::Conflict(_))), "{}", b.name);
        assert_eq!(
            s.count_users(t, &parse("", &UserSchema).unwrap()).await.unwrap(),
            50,
            "{}: the failed batch left nothing",
            b.name
        );
    }
    finish(bs).await;
}

#[tokio::test]
async fn sorting_paging_and_by_email() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "o.example").await;
        seed(s, t).await;
        let all = parse("", &UserSchema).unwrap();
        let by = |field, descending| Some(Sort { field, descending });
        let names = |p: castellan_store::SearchPage| -> Vec<String> {
            p.users.into_iter().map(|u| u.user.name.unwrap()).collect()
        };
        let asc = names(s.search_users(t, &all, by(SortField::Name, false), 0, 10, false).await.unwrap());
        assert_eq!(asc, ["Ann Robinson", "Bob Jackson", "Jane Smith", "joanna jameson", "John Doe"], "{}", b.name);
        let desc = names(s.search_users(t, &all, by(SortField::Name, true), 0, 10, false).await.unwrap());
        assert_eq!(desc, ["John Doe", "joanna jameson", "Jane Smith", "Bob Jackson", "Ann Robinson"], "{}", b.name);
        let logins = names(s.search_users(t, &all, by(SortField::LoginsCount, true), 0, 2, false).await.unwrap());
        assert_eq!(logins, ["joanna jameson", "Ann Robinson"], "{}", b.name);
        // Users without the value come last in both directions.
        let up = names(s.search_users(t, &all, by(SortField::LoginsCount, false), 0, 10, false).await.unwrap());
        assert_eq!(up, ["John Doe", "Jane Smith", "Ann Robinson", "joanna jameson", "Bob Jackson"], "{}", b.name);
        let down = names(s.search_users(t, &all, by(SortField::LoginsCount, true), 0, 10, false).await.unwrap());
        assert_eq!(down, ["joanna jameson", "Ann Robinson", "Jane Smith", "John Doe", "Bob Jackson"], "{}", b.name);
        let newest = names(s.search_users(t, &all, by(SortField::CreatedAt, true), 0, 2, false).await.unwrap());
        assert_eq!(newest, ["joanna jameson", "John Doe"], "{}", b.name);
        let page2 = s.search_users(t, &all, by(SortField::CreatedAt, false), 2, 2, true).await.unwrap();
        assert_eq!(page2.total, Some(5));
        assert_eq!(names(page2), ["Jane Smith", "John Doe"], "{}", b.name);
        let past = s.search_users(t, &all, None, 10, 5, true).await.unwrap();
        assert!(past.users.is_empty());
        assert_eq!(past.total, Some(5));
        // Exact and case-sensitive on the stored email (the service stores
        // database users' emails lower-cased).
        assert_eq!(s.users_by_email(t, "JOANNA@Corp.com").await.unwrap().len(), 1, "{}", b.name);
        assert_eq!(s.users_by_email(t, "joanna@corp.com").await.unwrap().len(), 0, "{}", b.name);
        assert_eq!(s.users_by_email(t, "ann@example.com").await.unwrap().len(), 1, "{}", b.name);
    }
    finish(bs).await;
}

/// A broad match in a requested order: past a few thousand matches the page
/// is found by walking the order's index (SQLite), and must be the same page
/// the sorted matches give.
#[tokio::test]
async fn broad_sorted_pages() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "broad.example").await;
        // 6,000 users, 5,400 of them "Kim" (more than a term-driven page
        // takes), created in a shuffled order.
        let batch: Vec<_> = (0..6000u32)
            .map(|i| {
                let minute = (i * 7919) % 6000;
                let created =
                    format!("2020-01-{:02}T{:02}:{:02}:00.000Z", 1 + minute / 1440, (minute / 60) % 24, minute % 60);
                let name = if i % 10 != 0 { format!("Kim {i}") } else { format!("Lee {i}") };
                let extra = json!({"created_at": created, "updated_at": created});
                (user(&format!("w{i}"), &format!("w{i}@broad.example"), &name, extra), None)
            })
            .collect();
        s.insert_users_bulk(t, &batch).await.unwrap();
        let mut kims: Vec<(String, String)> = batch
            .iter()
            .filter(|(u, _)| u.name.as_deref().is_some_and(|n| n.starts_with("Kim")))
            .map(|(u, _)| (u.created_at.clone(), u.user_id.clone()))
            .collect();
        kims.sort();
        kims.reverse();
        let f = parse("name:kim*", &UserSchema).unwrap();
        let sort = Some(Sort { field: SortField::CreatedAt, descending: true });
        for offset in [0u64, 1234, 5395] {
            let page = s.search_users(t, &f, sort, offset, 5, true).await.unwrap();
            let got: Vec<&str> = page.users.iter().map(|u| u.user.user_id.as_str()).collect();
            let want: Vec<&str> = kims.iter().skip(offset as usize).take(5).map(|(_, id)| id.as_str()).collect();
            assert_eq!(got, want, "{}: offset {offset}", b.name);
            assert_eq!(page.total, Some(5400), "{}", b.name);
        }
    }
    finish(bs).await;
}

/// Events reach the outbox of each stream whose filters take them, in the
/// commit of the change they record (an update) or of the batch of queued
/// events (several tenants in one script), each pointing at its own event.
#[tokio::test]
async fn events_reach_the_outbox_of_the_streams_that_take_them() {
    use castellan_domain::log_event::LogEvent;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let (t1, t2) = (tenant(s, "o1.example").await, tenant(s, "o2.example").await);
        let all = json!({"name": "all", "type": "http", "status": "active"});
        let tokens = json!({"name": "tokens", "type": "http", "status": "active",
            "filters": [{"type": "category", "name": "auth.token_exchange.success"}]});
        s.insert_log_stream(t1, "lst_all", &all, 1, &[]).await.unwrap();
        s.insert_log_stream(t1, "lst_tokens", &tokens, 1, &[]).await.unwrap();
        s.insert_log_stream(t2, "lst_all", &all, 1, &[]).await.unwrap();
        let id = s.insert_user(t1, &user("o1", "o1@x.com", "O", json!({})), None, &[]).await.unwrap();
        let read = s.get_user(t1, "auth0|o1").await.unwrap().unwrap();
        let mut u = read.user.clone();
        u.name = Some("O two".into());
        let mut api = LogEvent::new("sapi", 1_700_000_000_001);
        api.description = Some("update".into());
        s.update_user(t1, id, &read.user, &u, None, std::slice::from_ref(&api)).await.unwrap();
        let events: Vec<(i64, LogEvent)> = [(t1, "seccft", 2), (t2, "seccft", 3), (t1, "feccft", 4), (t1, "seccft", 5)]
            .into_iter()
            .map(|(t, kind, ms)| (t, LogEvent::new(kind, 1_700_000_000_000 + ms)))
            .collect();
        let refs: Vec<(i64, &LogEvent)> = events.iter().map(|(t, e)| (*t, e)).collect();
        s.insert_logs_grouped(&refs).await.unwrap();
        let ids = |q: Vec<castellan_store::Queued>| q.into_iter().map(|q| q.event.log_id).collect::<Vec<_>>();
        let id_of = |i: usize| events[i].1.log_id.clone();
        let got = ids(s.log_outbox_batch(t1, "lst_all", i64::MAX, 100).await.unwrap());
        assert_eq!(got, vec![api.log_id.clone(), id_of(0), id_of(2), id_of(3)], "{}", b.name);
        let got = ids(s.log_outbox_batch(t1, "lst_tokens", i64::MAX, 100).await.unwrap());
        assert_eq!(got, vec![id_of(0), id_of(3)], "{}: the filter takes successful exchanges only", b.name);
        let got = ids(s.log_outbox_batch(t2, "lst_all", i64::MAX, 100).await.unwrap());
        assert_eq!(got, vec![id_of(1)], "{}", b.name);
    }
    finish(bs).await;
}

/// Totals that count every user of the tenant (no query, or `NOT …`) stay
/// exact across creations and deletions of every kind, whether or not the
/// count was just taken (SQLite keeps it between changes).
#[tokio::test]
async fn all_user_totals_follow_creations_and_deletions() {
    use castellan_domain::tenant_model::Connection;
    use castellan_query::Filter;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let (t, other) = (tenant(s, "n.example").await, tenant(s, "n2.example").await);
        let not_winner = parse("NOT app_metadata.winner:true", &UserSchema).unwrap();
        let check = |want: u64, winners: u64, step: &'static str| {
            let f = not_winner.clone();
            async move {
                for _ in 0..2 {
                    assert_eq!(s.count_users(t, &Filter::All).await.unwrap(), want, "{}: {step}", b.name);
                    assert_eq!(s.count_users(t, &f).await.unwrap(), want - winners, "{}: {step}", b.name);
                    let page = s.search_users(t, &Filter::All, None, 0, 1, true).await.unwrap();
                    assert_eq!(page.total, Some(want), "{}: {step}", b.name);
                }
            }
        };
        check(0, 0, "empty").await;
        let win = json!({"app_metadata": {"winner": true}});
        s.insert_user(t, &user("n1", "n1@x.com", "N", win), None, &[]).await.unwrap();
        s.insert_user(other, &user("n1", "n1@x.com", "N", json!({})), None, &[]).await.unwrap();
        check(1, 1, "one created (another tenant's does not count)").await;
        let bulk: Vec<(User, Option<String>)> =
            (2..5).map(|i| (user(&format!("n{i}"), &format!("n{i}@x.com"), "N", json!({})), None)).collect();
        s.insert_users_bulk(t, &bulk).await.unwrap();
        check(4, 1, "bulk").await;
        assert!(s.delete_user(t, "auth0|n2", &[]).await.unwrap());
        check(3, 1, "one deleted").await;
        let conn: Connection =
            serde_json::from_value(json!({"id": "con_db", "name": "db", "strategy": "auth0"})).unwrap();
        s.insert_connection(t, &conn, &[]).await.unwrap();
        assert_eq!(s.delete_connection(t, "con_db", "db", &[]).await.unwrap(), Some(3));
        check(0, 0, "their connection deleted").await;
        assert_eq!(s.count_users(other, &Filter::All).await.unwrap(), 1, "{}", b.name);
    }
    finish(bs).await;
}

/// Pages of `NOT <few users>` in key order: every offset and page size
/// gives the users that are not excluded, in creation order, and the total.
#[tokio::test]
async fn pages_of_everyone_but_a_few() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "c.example").await;
        let other = tenant(s, "c2.example").await;
        let mut kept = Vec::new();
        for i in 0..120 {
            // Winners: 0, 1, 2 (a run at the start), every 7th, and 119 (the end).
            let winner = i < 3 || i % 7 == 0 || i == 119;
            let extra = if winner { json!({"app_metadata": {"winner": true}}) } else { json!({}) };
            s.insert_user(t, &user(&format!("c{i}"), &format!("c{i}@x.com"), "C", extra.clone()), None, &[])
                .await
                .unwrap();
            if i % 10 == 0 {
                s.insert_user(other, &user(&format!("o{i}"), &format!("o{i}@x.com"), "O", extra), None, &[])
                    .await
                    .unwrap();
            }
            if !winner {
                kept.push(format!("auth0|c{i}"));
            }
        }
        let f = parse("NOT app_metadata.winner:true", &UserSchema).unwrap();
        for limit in [1u64, 3, 10, 50] {
            for offset in (0..kept.len() as u64 + 3).step_by(1) {
                let page = s.search_users(t, &f, None, offset, limit, true).await.unwrap();
                let got: Vec<&str> = page.users.iter().map(|u| u.user.user_id.as_str()).collect();
                let want: Vec<&str> =
                    kept.iter().skip(offset as usize).take(limit as usize).map(String::as_str).collect();
                assert_eq!(got, want, "{}: offset {offset}, limit {limit}", b.name);
                assert_eq!(page.total, Some(kept.len() as u64), "{}", b.name);
            }
        }
    }
    finish(bs).await;
}

/// Deep pages of everyone (no query) and of `NOT <few>` in key order,
/// across the kept keys' steps (every 4096th on SQLite), before and after
/// users are created and deleted.
#[tokio::test]
async fn deep_pages_of_everyone() {
    use castellan_query::Filter;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "d.example").await;
        let winner = |i: usize| i.is_multiple_of(97);
        let mut ids: Vec<String> = Vec::new();
        let mut batch: Vec<(User, Option<String>)> = Vec::new();
        for i in 0..10_000usize {
            let extra = if winner(i) { json!({"app_metadata": {"winner": true}}) } else { json!({}) };
            batch.push((user(&format!("d{i}"), &format!("d{i}@x.com"), "D", extra), None));
            ids.push(format!("auth0|d{i}"));
        }
        for chunk in batch.chunks(2500) {
            s.insert_users_bulk(t, chunk).await.unwrap();
        }
        let not_winner = parse("NOT app_metadata.winner:true", &UserSchema).unwrap();
        let check = |all: Vec<String>, kept: Vec<String>, step: &'static str| {
            let not_winner = not_winner.clone();
            async move {
                for offset in
                    [0u64, 1, 4094, 4095, 4096, 4097, 8191, 8192, 8193, 9897, 9898, 9899, 9999, 10_000, 10_001]
                {
                    for (f, want) in [(&Filter::All, &all), (&not_winner, &kept)] {
                        let page = s.search_users(t, f, None, offset, 3, true).await.unwrap();
                        let got: Vec<&str> = page.users.iter().map(|u| u.user.user_id.as_str()).collect();
                        let w: Vec<&str> = want.iter().skip(offset as usize).take(3).map(String::as_str).collect();
                        assert_eq!(got, w, "{}: {step}, offset {offset}, {f:?}", b.name);
                        assert_eq!(page.total, Some(want.len() as u64), "{}: {step}", b.name);
                    }
                }
            }
        };
        let kept = |ids: &[String]| -> Vec<String> {
            ids.iter().filter(|id| !winner(id[7..].parse::<usize>().unwrap())).cloned().collect()
        };
        check(ids.clone(), kept(&ids), "loaded").await;
        // The largest offset paging can ask for: an empty page, no error.
        for f in [&Filter::All, &not_winner] {
            let page = s.search_users(t, f, None, u64::MAX, 3, true).await.unwrap();
            assert!(page.users.is_empty(), "{}", b.name);
        }
        // Changes: the kept keys are read again (or the walk is plain) and
        // pages stay exact.
        for gone in ["auth0|d5", "auth0|d4096", "auth0|d9000"] {
            assert!(s.delete_user(t, gone, &[]).await.unwrap());
            ids.retain(|id| id != gone);
        }
        s.insert_user(t, &user("d10000", "d10000@x.com", "D", json!({})), None, &[]).await.unwrap();
        ids.push("auth0|d10000".into());
        check(ids.clone(), kept(&ids), "after changes").await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        check(ids.clone(), kept(&ids), "after changes, kept keys read again").await;
    }
    finish(bs).await;
}

/// Conditions whose terms do not come in key order (ranges, prefixes,
/// suffixes, `_exists_` on a scalar) and that many users match: pages in key
/// order at every offset (on SQLite found by walking the users), totals
/// exact.
#[tokio::test]
async fn broad_unordered_conditions_page_in_key_order() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "w.example").await;
        let mut all = Vec::new();
        for i in 0..300usize {
            let name = if i % 3 == 0 { format!("Ann {i}") } else { format!("Bob {i}") };
            let mut extra = json!({"logins_count": i % 10});
            extra["nickname"] = if i % 5 == 0 { json!(format!("Nick{i}")) } else { json!(null) };
            if i % 2 == 0 {
                extra["user_metadata"] = json!({"k": format!("v{}", i % 7)});
            }
            let email = if i % 4 == 0 { format!("w{i}@corp.example") } else { format!("w{i}@mail.example") };
            s.insert_user(t, &user(&format!("w{i}"), &email, &name, extra), None, &[]).await.unwrap();
            all.push((i, format!("auth0|w{i}")));
        }
        type Matches = fn(usize) -> bool;
        // Fields the users row holds (logins_count, name, email, nickname)
        // are tested there on the walk; the others on the user's terms.
        let cases: [(&str, Matches); 9] = [
            ("logins_count:[4 TO *]", |i| i % 10 >= 4),
            ("logins_count:{2 TO 8]", |i| i % 10 > 2 && i % 10 <= 8),
            ("name:bob*", |i| i % 3 != 0),
            ("name:*b\\ 13", |i| i == 13),
            ("email:*@mail.example", |i| i % 4 != 0),
            ("_exists_:nickname", |i| i % 5 == 0),
            ("nickname:nick1*", |i| i % 5 == 0 && i.to_string().starts_with('1')),
            ("name:bob*3*", |i| i % 3 != 0 && i.to_string().contains('3')),
            ("_exists_:user_metadata.k", |i| i % 2 == 0),
        ];
        for (q, matches) in cases {
            let f = parse(q, &UserSchema).unwrap();
            let want: Vec<&str> = all.iter().filter(|(i, _)| matches(*i)).map(|(_, id)| id.as_str()).collect();
            for (offset, limit) in
                [(0u64, 1u64), (0, 10), (1, 10), (7, 3), (100, 50), (want.len() as u64 - 1, 5), (want.len() as u64, 5)]
            {
                let page = s.search_users(t, &f, None, offset, limit, true).await.unwrap();
                let got: Vec<&str> = page.users.iter().map(|u| u.user.user_id.as_str()).collect();
                let w: Vec<&str> = want.iter().skip(offset as usize).take(limit as usize).copied().collect();
                assert_eq!(got, w, "{}: {q}, offset {offset}, limit {limit}", b.name);
                assert_eq!(page.total, Some(want.len() as u64), "{}: {q}", b.name);
            }
            let page = s.search_users(t, &f, None, u64::MAX, 5, true).await.unwrap();
            assert!(page.users.is_empty(), "{}: {q} at the largest offset", b.name);
            assert_eq!(page.total, Some(want.len() as u64), "{}: {q}", b.name);
        }
    }
    finish(bs).await;
}

/// A long scope (an application granted every Management API scope) is
/// stored once per tenant and named by each event that has it; a short one
/// stays in the event. Every read (by id, search, checkpoint, a stream's
/// outbox) gives the events back as they were made.
#[tokio::test]
async fn long_event_scopes_are_stored_once_and_read_back() {
    use castellan_domain::log_event::LogEvent;
    use castellan_store::LogSort;
    use sqlx::Row;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let (t1, t2) = (tenant(s, "sc1.example").await, tenant(s, "sc2.example").await);
        let all = json!({"name": "all", "type": "http", "status": "active"});
        s.insert_log_stream(t1, "lst_all", &all, 1, &[]).await.unwrap();
        let long = (0..60).map(|i| format!("read:thing_{i}")).collect::<Vec<_>>().join(" ");
        let other = format!("{long} update:thing");
        assert!(long.len() > 256);
        let event = |ms: i64, scope: &str| {
            let mut e = LogEvent::new("seccft", 1_700_000_000_000 + ms);
            e.client_id = Some("app".into());
            e.scope = Some(scope.to_string());
            e
        };
        let made = [(t1, event(1, &long)), (t1, event(2, &long)), (t2, event(3, &long)), (t1, event(4, "read:users"))];
        let refs: Vec<(i64, &LogEvent)> = made.iter().map(|(t, e)| (*t, e)).collect();
        s.insert_logs_grouped(&refs).await.unwrap();
        s.insert_logs(t1, &[event(5, &other)]).await.unwrap();
        s.insert_logs_bulk(t2, &[event(6, &other), event(7, &long)]).await.unwrap();
        let scopes =
            |events: Vec<LogEvent>| events.into_iter().map(|e| e.scope.unwrap_or_default()).collect::<Vec<_>>();
        let want1 = vec![long.clone(), long.clone(), "read:users".to_string(), other.clone()];
        let want2 = vec![long.clone(), other.clone(), long.clone()];
        let seccft = parse("type:seccft", &LogSchema).unwrap();
        let oldest = LogSort { descending: false };
        let (found, total) = s.search_logs(t1, &seccft, oldest, 0, 100, true).await.unwrap();
        assert_eq!((scopes(found), total), (want1.clone(), Some(4)), "{}", b.name);
        assert_eq!(scopes(s.logs_after(t2, "", 100).await.unwrap()), want2, "{}", b.name);
        let queued = s.log_outbox_batch(t1, "lst_all", i64::MAX, 100).await.unwrap();
        assert_eq!(scopes(queued.into_iter().map(|q| q.event).collect()), want1, "{}", b.name);
        for (t, e) in &made {
            assert_eq!(s.get_log(*t, &e.log_id).await.unwrap().as_ref(), Some(e), "{}", b.name);
        }
        // What was written: each long scope once per tenant, the events
        // naming it, their documents without it.
        let raw = sqlx::AnyPool::connect(&b.url).await.unwrap();
        for (t, n) in [(t1, 2), (t2, 2)] {
            let q = format!("SELECT COUNT(*) AS n FROM log_scopes WHERE tenant_id = {t}");
            assert_eq!(sqlx::query(&q).fetch_one(&raw).await.unwrap().get::<i64, _>("n"), n, "{}", b.name);
        }
        let q = format!("SELECT doc, scope_ref FROM logs WHERE tenant_id = {t1} ORDER BY log_id");
        let rows = sqlx::query(&q).fetch_all(&raw).await.unwrap();
        let stored: Vec<(bool, bool)> = rows
            .iter()
            .map(|r| {
                (r.get::<String, _>("doc").contains("\"scope\""), r.get::<Option<String>, _>("scope_ref").is_some())
            })
            .collect();
        assert_eq!(stored, vec![(false, true), (false, true), (true, false), (false, true)], "{}", b.name);
        raw.close().await;
    }
    finish(bs).await;
}

/// `_exists_` on a metadata path: a path that holds only objects is read in
/// key order from the value index (no sort of every match), and counts each
/// user once even with several objects; a path holding values for some
/// users and objects for others still finds them all.
#[tokio::test]
async fn exists_on_object_paths_is_read_in_key_order() {
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "x.example").await;
        let people = [
            ("x1", json!({"user_metadata": {"address": {"city": "Oslo"}, "mixed": {"a": 1}}})),
            ("x2", json!({"user_metadata": {"address": [{"city": "Rome"}, {"city": "Pisa"}], "mixed": "text"}})),
            ("x3", json!({"user_metadata": {"other": true}})),
            ("x4", json!({"user_metadata": {"address": {"zip": "0150"}}})),
        ];
        for (id, extra) in people {
            s.insert_user(t, &user(id, &format!("{id}@x.com"), id, extra), None, &[]).await.unwrap();
        }
        assert_eq!(emails(s, t, "_exists_:user_metadata.address").await, set(&["x1@x.com", "x2@x.com", "x4@x.com"]));
        assert_eq!(emails(s, t, "_exists_:user_metadata.mixed").await, set(&["x1@x.com", "x2@x.com"]), "{}", b.name);
        assert_eq!(
            emails(s, t, "_exists_:user_metadata.address AND NOT _exists_:user_metadata.address.zip").await,
            set(&["x1@x.com", "x2@x.com"]),
            "{}",
            b.name
        );
        let f = parse("_exists_:user_metadata.address", &UserSchema).unwrap();
        let page = s.search_users(t, &f, None, 1, 1, true).await.unwrap();
        assert_eq!(page.total, Some(3), "{}", b.name);
        assert_eq!(page.users.len(), 1, "{}", b.name);
        if s.dialect() == Dialect::Sqlite {
            let plan = s.explain_user_search(t, &f).await.unwrap();
            assert!(plan.contains("INDEX user_terms_value (tenant_id=? AND field=? AND value=?)"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "an object path's markers come in key order:\n{plan}");
            let mixed = parse("_exists_:user_metadata.mixed", &UserSchema).unwrap();
            let plan = s.explain_user_search(t, &mixed).await.unwrap();
            assert!(
                !plan.contains("value=?"),
                "a path with values keeps the plain condition:
{plan}"
            );
        }
    }
    finish(bs).await;
}

#[tokio::test]
async fn an_older_stores_repeated_terms_are_removed_and_counts_stay_exact() {
    sqlx::any::install_default_drivers();
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        assert!(s.terms_unique(), "a new store has no repeated terms ({})", b.name);
        let t = tenant(s, "d.example").await;
        for (id, extra) in [
            ("d1", json!({"user_metadata": {"tags": ["a", "b", "a"], "n": [4.5, "4.5"], "o": {"k": 1}}})),
            ("d2", json!({"user_metadata": {"tags": ["a"], "o": [{"k": 1}, {"k": 2}]}})),
            ("d3", json!({"user_metadata": {"tags": ["b"]}})),
        ] {
            s.insert_user(t, &user(id, &format!("{id}@x.com"), id, extra), None, &[]).await.unwrap();
        }
        let raw = sqlx::AnyPool::connect(&b.url).await.unwrap();
        let rows = |field: &'static str| {
            let raw = raw.clone();
            async move {
                let q = format!("SELECT COUNT(*) AS n FROM user_terms WHERE field = '{field}'");
                sqlx::Row::get::<i64, _>(&sqlx::query(&q).fetch_one(&raw).await.unwrap(), "n")
            }
        };
        // Written as sets: one row per user and value.
        assert_eq!((rows("user_metadata.tags").await, rows("user_metadata.o").await), (4, 2), "{}", b.name);
        assert_eq!(rows("user_metadata.n").await, 1, "{}", b.name);
        // What an earlier version wrote: every tag and marker twice, and the
        // string "4.5" as a row of its own, older than the number's.
        for q in [
            "INSERT INTO user_terms (tenant_id, field, value, rvalue, num, user_pk) \
             SELECT tenant_id, field, value, rvalue, num, user_pk FROM user_terms \
             WHERE field IN ('user_metadata.tags', 'user_metadata.o')",
            "INSERT INTO user_terms (tenant_id, field, value, rvalue, num, user_pk) \
             SELECT tenant_id, field, value, rvalue, NULL, user_pk FROM user_terms WHERE field = 'user_metadata.n'",
            "INSERT INTO user_terms (tenant_id, field, value, rvalue, num, user_pk) \
             SELECT tenant_id, field, value, rvalue, num, user_pk FROM user_terms \
             WHERE field = 'user_metadata.n' AND num IS NOT NULL",
            "DELETE FROM store_flags",
        ] {
            sqlx::query(q).execute(&raw).await.unwrap();
        }
        // The first number row (older than the string) goes, so the string
        // row is the oldest of the three.
        let first = match s.dialect() {
            Dialect::Sqlite => "DELETE FROM user_terms WHERE rowid = (SELECT MIN(rowid) FROM user_terms WHERE field = 'user_metadata.n')",
            Dialect::Postgres => "DELETE FROM user_terms WHERE ctid = (SELECT MIN(ctid) FROM user_terms WHERE field = 'user_metadata.n')",
        };
        sqlx::query(first).execute(&raw).await.unwrap();
        assert_eq!((rows("user_metadata.tags").await, rows("user_metadata.n").await), (8, 2), "{}", b.name);

        let old = Store::connect(&b.url).await.unwrap();
        assert!(!old.terms_unique(), "{}", b.name);
        // Meanwhile counts take DISTINCT users: exact.
        let both = set(&["d1@x.com", "d2@x.com"]);
        assert_eq!(emails(&old, t, "user_metadata.tags:a").await, both, "{}", b.name);
        assert_eq!(emails(&old, t, "_exists_:user_metadata.o").await, both, "{}", b.name);

        assert_eq!(old.dedupe_terms().await.unwrap(), 4 + 2 + 1, "{}", b.name);
        assert!(old.terms_unique(), "{}", b.name);
        assert_eq!((rows("user_metadata.tags").await, rows("user_metadata.o").await), (4, 2), "{}", b.name);
        // The row kept of "4.5" is the one with the number.
        let kept =
            sqlx::query("SELECT num FROM user_terms WHERE field = 'user_metadata.n'").fetch_all(&raw).await.unwrap();
        assert_eq!(kept.len(), 1, "{}", b.name);
        assert_eq!(sqlx::Row::get::<Option<f64>, _>(&kept[0], "num"), Some(4.5), "{}", b.name);
        // Counted by rows now, and still exact.
        assert_eq!(emails(&old, t, "user_metadata.tags:a").await, both, "{}", b.name);
        assert_eq!(emails(&old, t, "user_metadata.tags:b").await, set(&["d1@x.com", "d3@x.com"]), "{}", b.name);
        assert_eq!(emails(&old, t, "_exists_:user_metadata.o").await, both, "{}", b.name);
        // Done once: the flag is stored.
        assert_eq!(old.dedupe_terms().await.unwrap(), 0);
        let again = Store::connect(&b.url).await.unwrap();
        assert!(again.terms_unique(), "{}", b.name);
        again.close().await;
        old.close().await;
        raw.close().await;
    }
    finish(bs).await;
}

#[tokio::test]
async fn a_store_written_by_a_newer_castellan_is_refused() {
    sqlx::any::install_default_drivers();
    let bs = backends().await;
    for b in &bs {
        let raw = sqlx::AnyPool::connect(&b.url).await.unwrap();
        sqlx::query("INSERT INTO schema_migrations (version) VALUES (1000000)").execute(&raw).await.unwrap();
        raw.close().await;
        let err = Store::connect(&b.url).await.expect_err("a store of a newer schema is refused");
        assert!(matches!(err, StoreError::Newer(_)), "{}: {err}", b.name);
        assert!(err.to_string().contains("version 1000000"), "{}: {err}", b.name);
    }
    finish(bs).await;
}

#[tokio::test]
async fn an_event_committed_after_a_later_one_is_not_lost_to_checkpoint_readers() {
    use castellan_domain::log_event::LogEvent;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "o.example").await;
        let base = 1_700_000_000_000;
        let event = |what: &str, ms: i64| {
            let mut e = LogEvent::new("sapi", ms);
            e.description = Some(what.into());
            e
        };
        // Built first, written second (it waited for the write lock).
        let first = event("built first", base);
        let second = event("built second", base + 5);
        s.insert_logs(t, std::slice::from_ref(&second)).await.unwrap();
        // A reader pages up to here and keeps `second` as its checkpoint.
        assert_eq!(s.logs_after(t, "", 10).await.unwrap().len(), 1);
        s.insert_logs(t, std::slice::from_ref(&first)).await.unwrap();
        let after = s.logs_after(t, &second.log_id, 10).await.unwrap();
        if s.dialect() == Dialect::Sqlite {
            assert_eq!(after.len(), 1, "the late event comes after the checkpoint");
            let late = &after[0];
            assert_eq!(late.description.as_deref(), Some("built first"));
            assert!(late.log_id > second.log_id);
            assert_eq!(late.date, second.date, "dated as written, a few ms later");
            assert!(s.get_log(t, &first.log_id).await.unwrap().is_none(), "it has only its new id");
        }
        // Several in one batch, out of order: written in order of their ids.
        let (x, y) = (event("x", base + 20), event("y", base + 10));
        s.insert_logs(t, &[x.clone(), y.clone()]).await.unwrap();
        let tail = s.logs_after(t, &second.log_id, 10).await.unwrap();
        let order: Vec<&str> = tail.iter().filter_map(|e| e.description.as_deref()).collect();
        if s.dialect() == Dialect::Sqlite {
            assert_eq!(order, ["built first", "x", "y"], "{}", b.name);
        }
        // An event for a time long past is written as it is.
        let old = event("a day before", base - 86_400_000);
        s.insert_logs(t, std::slice::from_ref(&old)).await.unwrap();
        let kept = s.get_log(t, &old.log_id).await.unwrap().expect("kept under its own id");
        assert_eq!(kept.date, old.date, "{}", b.name);
    }
    finish(bs).await;
}

/// A log row's document keeps only what its columns do not hold, and every
/// reader gives back the event as it was made: through the queue's batches,
/// the change-transaction path and bulk loads; with every field, with none,
/// and with a date the `date` column cannot give back as written. Rows of
/// an older castellan (the whole event in the document) read alike.
#[tokio::test]
async fn log_rows_keep_what_columns_lack_and_read_back_whole() {
    use castellan_domain::log_event::LogEvent;
    use castellan_store::LogSort;
    use sqlx::Row;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "rows.example").await;
        s.insert_log_stream(t, "lst_all", &json!({"name": "all", "type": "http", "status": "active"}), 1, &[])
            .await
            .unwrap();
        let mut full = LogEvent::new("s", 1_700_000_000_001);
        full.description = Some("Success Login".into());
        full.client_id = Some("app1".into());
        full.client_name = Some("App \"one\"".into());
        full.ip = Some("203.0.113.9".into());
        full.user_agent = Some("Firefox 120".into());
        full.user_id = Some("auth0|u1".into());
        full.user_name = Some("u1@x.com".into());
        full.connection = Some("Username-Password-Authentication".into());
        full.connection_id = Some("con_1".into());
        full.strategy = Some("auth0".into());
        full.strategy_type = Some("database".into());
        full.hostname = Some("rows.example".into());
        full.audience = Some("https://api".into());
        full.scope = Some("openid profile".into());
        full.details = Some(json!({"prompts": [{"name": "login"}], "n": 1.5}));
        let bare = LogEvent::new("fapi", 1_700_000_000_002);
        let mut odd_date = LogEvent::new("seccft", 1_700_000_000_003);
        odd_date.date = "2023-11-14T22:13:20.003456Z".into();
        let long = (0..60).map(|i| format!("read:thing_{i}")).collect::<Vec<_>>().join(" ");
        let mut long_scope = LogEvent::new("seccft", 1_700_000_000_004);
        long_scope.client_id = Some("app2".into());
        long_scope.scope = Some(long);
        let queued = [full.clone(), bare.clone(), odd_date.clone(), long_scope.clone()];
        let refs: Vec<(i64, &LogEvent)> = queued.iter().map(|e| (t, e)).collect();
        s.insert_logs_grouped(&refs).await.unwrap();
        let in_tx = LogEvent { log_id: castellan_domain::log_event::new_log_id(1_700_000_000_005), ..full.clone() };
        let in_tx = LogEvent { date: castellan_domain::clock::format_ms(1_700_000_000_005), ..in_tx };
        s.insert_logs(t, std::slice::from_ref(&in_tx)).await.unwrap();
        let bulk = LogEvent { log_id: castellan_domain::log_event::new_log_id(1_700_000_000_006), ..odd_date.clone() };
        s.insert_logs_bulk(t, std::slice::from_ref(&bulk)).await.unwrap();
        // An older castellan's row: the whole event in its document.
        let mut old = full.clone();
        old.log_id = castellan_domain::log_event::new_log_id(1_700_000_000_007);
        old.date = castellan_domain::clock::format_ms(1_700_000_000_007);
        let raw = sqlx::AnyPool::connect(&b.url).await.unwrap();
        sqlx::query(
            "INSERT INTO logs (tenant_id, log_id, date, type, user_id, user_name, client_id, client_name, connection, \
             ip, audience, hostname, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(t)
        .bind(old.log_id.clone())
        .bind(1_700_000_000_007_i64)
        .bind(old.kind.clone())
        .bind(old.user_id.clone())
        .bind(old.user_name.clone())
        .bind(old.client_id.clone())
        .bind(old.client_name.clone())
        .bind(old.connection.clone())
        .bind(old.ip.clone())
        .bind(old.audience.clone())
        .bind(old.hostname.clone())
        .bind(serde_json::to_string(&old).unwrap())
        .execute(&raw)
        .await
        .unwrap();
        let want: Vec<LogEvent> = [&queued[..], &[in_tx, bulk, old]].concat();
        let (found, total) =
            s.search_logs(t, &castellan_query::Filter::All, LogSort { descending: false }, 0, 100, true).await.unwrap();
        assert_eq!((found, total), (want.clone(), Some(want.len() as u64)), "{}", b.name);
        assert_eq!(s.logs_after(t, "", 100).await.unwrap(), want, "{}", b.name);
        for e in &want {
            assert_eq!(s.get_log(t, &e.log_id).await.unwrap().as_ref(), Some(e), "{}", b.name);
        }
        // The stream's outbox has what was written through the queue and
        // the change path (bulk loads and the hand-written row queue none).
        let outbox: Vec<LogEvent> =
            s.log_outbox_batch(t, "lst_all", i64::MAX, 100).await.unwrap().into_iter().map(|q| q.event).collect();
        assert_eq!(outbox, want[..5].to_vec(), "{}", b.name);
        // What the new rows' documents hold.
        let q = format!("SELECT log_id, doc FROM logs WHERE tenant_id = {t}");
        let docs: std::collections::HashMap<String, serde_json::Value> = sqlx::query(&q)
            .fetch_all(&raw)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>("log_id"), serde_json::from_str(&r.get::<String, _>("doc")).unwrap()))
            .collect();
        let doc = |e: &LogEvent| docs[&e.log_id].clone();
        assert_eq!(
            doc(&full),
            json!({"description": "Success Login", "user_agent": "Firefox 120", "connection_id": "con_1",
                   "strategy": "auth0", "strategy_type": "database", "scope": "openid profile",
                   "details": {"prompts": [{"name": "login"}], "n": 1.5}}),
            "{}",
            b.name
        );
        assert_eq!(doc(&bare), json!({}), "{}", b.name);
        assert_eq!(doc(&odd_date), json!({"date": "2023-11-14T22:13:20.003456Z"}), "{}", b.name);
        assert_eq!(doc(&long_scope), json!({}), "{}: the long scope is stored apart", b.name);
        raw.close().await;
    }
    finish(bs).await;
}

/// A batch of events that cannot all be written leaves none: the insert
/// stops at the conflict (`OR FAIL` on SQLite keeps the rows before it in
/// the statement) and the whole transaction rolls back.
#[tokio::test]
async fn a_batch_of_events_is_written_whole_or_not_at_all() {
    use castellan_domain::log_event::LogEvent;
    use castellan_store::LogSort;
    let bs = backends().await;
    for b in &bs {
        let s = &b.store;
        let t = tenant(s, "batch.example").await;
        let first = LogEvent::new("seccft", 1_700_000_000_001);
        s.insert_logs(t, std::slice::from_ref(&first)).await.unwrap();
        // Two minutes later: SQLite's writer gives an event that sorts
        // before the newest a new id only within a minute of it.
        let mut batch: Vec<LogEvent> = (2..40).map(|ms| LogEvent::new("seccft", 1_700_000_120_000 + ms)).collect();
        // The 30th repeats an id already written (a back-dated event).
        batch[29].log_id = first.log_id.clone();
        batch[29].date = first.date.clone();
        let refs: Vec<(i64, &LogEvent)> = batch.iter().map(|e| (t, e)).collect();
        assert!(s.insert_logs_grouped(&refs).await.is_err(), "{}", b.name);
        assert!(s.insert_logs_bulk(t, &batch).await.is_err(), "{}", b.name);
        let (found, total) =
            s.search_logs(t, &castellan_query::Filter::All, LogSort { descending: false }, 0, 100, true).await.unwrap();
        assert_eq!((found, total), (vec![first.clone()], Some(1)), "{}", b.name);
        // The store writes on afterwards.
        let next = LogEvent::new("seccft", 1_700_000_000_050);
        s.insert_logs_grouped(&[(t, &next)]).await.unwrap();
        assert_eq!(s.logs_after(t, "", 100).await.unwrap(), vec![first, next], "{}", b.name);
    }
    finish(bs).await;
}
