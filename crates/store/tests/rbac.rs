//! Roles and permissions in the store, on SQLite and (when configured)
//! PostgreSQL: role names, listing and filtering, assignments that change
//! nothing when something they name is missing, effective permissions, and
//! the clean-ups on role, API and user deletion.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use castellan_domain::rbac::{PermissionRef, Role, Source};
use castellan_domain::tenant_model::{ResourceServer, Scope};
use castellan_domain::user::User;
use castellan_store::{Missing, Store, StoreError};
use common::{backends, finish};
use serde_json::json;

async fn tenant(s: &Store, domain: &str) -> i64 {
    s.create_tenant(domain, "00", 0).await.unwrap().id
}

fn role(id: &str, name: &str) -> Role {
    Role { id: id.into(), name: name.into(), description: Some(format!("{name} role")) }
}

fn user(id: &str) -> User {
    serde_json::from_value(json!({
        "created_at": "2020-01-01T00:00:00.000Z", "updated_at": "2020-01-01T00:00:00.000Z",
        "user_id": format!("auth0|{id}"), "email": format!("{id}@example.com"), "email_verified": false,
        "name": id, "picture": format!("https://example.com/{id}.png"),
        "identities": [{"connection": "db", "user_id": id, "provider": "auth0", "isSocial": false}],
    }))
    .unwrap()
}

fn api(id: &str, identifier: &str, scopes: &[&str]) -> ResourceServer {
    ResourceServer {
        id: id.into(),
        name: format!("API {id}"),
        identifier: identifier.into(),
        scopes: scopes.iter().map(|s| Scope { value: s.to_string(), description: String::new() }).collect(),
        signing_alg: "RS256".into(),
        token_lifetime: 86400,
        allow_offline_access: false,
        skip_consent_for_verifiable_first_party_clients: false,
        is_system: false,
        extra: Default::default(),
    }
}

fn perm(api: &str, name: &str) -> PermissionRef {
    PermissionRef { resource_server_identifier: api.into(), permission_name: name.into() }
}

fn names(roles: &[Role]) -> Vec<&str> {
    roles.iter().map(|r| r.name.as_str()).collect()
}

fn ids(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.user_id.as_str()).collect()
}

#[tokio::test]
async fn roles_names_listing_and_isolation() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        let other = tenant(s, "b.example").await;
        for (id, name) in [("rol_1", "Zeta"), ("rol_2", "admin"), ("rol_3", "Admin_Readers"), ("rol_4", "50%off")] {
            s.insert_role(t, &role(id, name), 1, &[]).await.unwrap();
        }
        let plain = Role { id: "rol_5".into(), name: "plain".into(), description: None };
        s.insert_role(t, &plain, 1, &[]).await.unwrap();
        assert_eq!(s.get_role(t, "rol_5").await.unwrap(), Some(plain.clone()), "{n}");
        assert!(matches!(s.insert_role(t, &role("rol_9", "admin"), 1, &[]).await, Err(StoreError::Conflict(_))), "{n}");
        // Names are unique per tenant, by exact match.
        s.insert_role(other, &role("rol_1", "admin"), 1, &[]).await.unwrap();
        s.insert_role(t, &role("rol_6", "ADMIN"), 1, &[]).await.unwrap();
        assert_eq!(s.get_role(other, "rol_2").await.unwrap(), None, "{n}: roles are per tenant");
        assert_eq!(s.get_role(t, "rol_1\0").await.unwrap(), None, "{n}: NUL ids cannot exist");

        let all = s.list_roles(t, None, 0, 100).await.unwrap();
        assert_eq!(names(&all.items), ["50%off", "ADMIN", "admin", "Admin_Readers", "plain", "Zeta"], "{n}");
        assert_eq!(all.total, 6);
        let page = s.list_roles(t, None, 2, 2).await.unwrap();
        assert_eq!((names(&page.items), page.total), (vec!["admin", "Admin_Readers"], 6), "{n}");
        let filtered = s.list_roles(t, Some("aDmIn"), 0, 100).await.unwrap();
        assert_eq!((names(&filtered.items), filtered.total), (vec!["ADMIN", "admin", "Admin_Readers"], 3), "{n}");
        for (f, want) in [("_", vec!["Admin_Readers"]), ("%", vec!["50%off"]), ("readers", vec!["Admin_Readers"])] {
            assert_eq!(names(&s.list_roles(t, Some(f), 0, 100).await.unwrap().items), want, "{n}: filter {f}");
        }
        assert_eq!(s.list_roles(t, Some("a\0"), 0, 10).await.unwrap().total, 0, "{n}");

        let mut renamed = role("rol_1", "zeta-2");
        renamed.description = None;
        s.update_role(t, &renamed, &[]).await.unwrap();
        assert_eq!(s.get_role(t, "rol_1").await.unwrap(), Some(renamed.clone()), "{n}");
        s.update_role(t, &renamed, &[]).await.unwrap(); // its own name is no conflict
        assert!(matches!(s.update_role(t, &role("rol_1", "plain"), &[]).await, Err(StoreError::Conflict(_))), "{n}");
        assert!(matches!(s.update_role(t, &role("rol_x", "new"), &[]).await, Err(StoreError::NotFound)), "{n}");
        assert_eq!(s.get_role(other, "rol_1").await.unwrap().unwrap().name, "admin", "{n}: other tenant untouched");
    }
    finish(bs).await;
}

#[tokio::test]
async fn role_permissions_and_members() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        s.insert_resource_server(t, &api("1", "https://api/", &["read:a", "write:a"]), &[]).await.unwrap();
        s.insert_role(t, &role("rol_r", "reader"), 1, &[]).await.unwrap();
        let ps = [perm("https://api/", "write:a"), perm("https://api/", "read:a"), perm("https://gone/", "x")];
        assert!(s.add_role_permissions(t, "rol_r", &ps, &[]).await.unwrap());
        assert!(s.add_role_permissions(t, "rol_r", &ps[..1], &[]).await.unwrap(), "{n}: adding twice is a no-op");
        assert!(!s.add_role_permissions(t, "rol_missing", &ps, &[]).await.unwrap());
        let listed = s.role_permissions(t, "rol_r", 0, 10).await.unwrap();
        assert_eq!(listed.items, vec![perm("https://api/", "read:a"), perm("https://api/", "write:a")], "{n}");
        assert_eq!(listed.total, 2, "{n}: permissions of APIs that do not exist are not shown");
        assert_eq!(s.role_permissions(t, "rol_r", 1, 10).await.unwrap().items.len(), 1);
        assert!(s
            .remove_role_permissions(t, "rol_r", &[perm("https://api/", "write:a"), perm("x", "y\0")], &[])
            .await
            .unwrap());
        assert_eq!(s.role_permissions(t, "rol_r", 0, 10).await.unwrap().total, 1, "{n}");
        assert!(!s.remove_role_permissions(t, "nope", &ps, &[]).await.unwrap());

        for u in ["c", "a", "b", "d"] {
            s.insert_user(t, &user(u), None, &[]).await.unwrap();
        }
        let members: Vec<String> = ["auth0|c", "auth0|a", "auth0|b"].iter().map(|s| s.to_string()).collect();
        let with_ghost: Vec<String> = vec!["auth0|d".into(), "auth0|ghost".into()];
        assert_eq!(s.add_role_users(t, "rol_r", &with_ghost, 5, &[]).await.unwrap(), Err(Missing::User), "{n}");
        assert_eq!(s.role_users(t, "rol_r", 0, 10).await.unwrap().total, 0, "{n}: nothing added");
        assert_eq!(s.add_role_users(t, "rol_nope", &members, 5, &[]).await.unwrap(), Err(Missing::Role));
        assert_eq!(s.add_role_users(t, "rol_r", &members, 5, &[]).await.unwrap(), Ok(()));
        assert_eq!(s.add_role_users(t, "rol_r", &members[..1], 6, &[]).await.unwrap(), Ok(()));
        let page = s.role_users(t, "rol_r", 1, 1).await.unwrap();
        assert_eq!((ids(&page.items), page.total), (vec!["auth0|b"], 3), "{n}");
        let first = s.role_users_after(t, "rol_r", None, 2).await.unwrap();
        assert_eq!(ids(&first), ["auth0|a", "auth0|b"], "{n}");
        let rest = s.role_users_after(t, "rol_r", Some("auth0|b"), 2).await.unwrap();
        assert_eq!(ids(&rest), ["auth0|c"], "{n}");
        assert_eq!(rest[0].picture.as_deref(), Some("https://example.com/c.png"));

        // Deleting a user drops its membership; deleting the role drops the rest.
        assert!(s.delete_user(t, "auth0|a", &[]).await.unwrap());
        assert_eq!(s.role_users(t, "rol_r", 0, 10).await.unwrap().total, 2, "{n}");
        assert!(s.delete_role(t, "rol_r", &[]).await.unwrap());
        assert!(!s.delete_role(t, "rol_r", &[]).await.unwrap());
        assert_eq!(s.get_role(t, "rol_r").await.unwrap(), None);
        assert!(s.user_roles(t, "auth0|b", 0, 10).await.unwrap().items.is_empty(), "{n}");
        // A new role under the same name starts empty.
        s.insert_role(t, &role("rol_r", "reader"), 1, &[]).await.unwrap();
        assert_eq!(s.role_permissions(t, "rol_r", 0, 10).await.unwrap().total, 0, "{n}");
        assert_eq!(s.role_users(t, "rol_r", 0, 10).await.unwrap().total, 0, "{n}");
    }
    finish(bs).await;
}

#[tokio::test]
async fn user_roles_and_effective_permissions() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        let api_a = "https://a/";
        let api_b = "https://b/";
        s.insert_resource_server(t, &api("1", api_a, &["read", "write", "admin"]), &[]).await.unwrap();
        s.insert_resource_server(t, &api("2", api_b, &["read"]), &[]).await.unwrap();
        s.insert_user(t, &user("u"), None, &[]).await.unwrap();
        s.insert_role(t, &role("rol_w", "writer"), 1, &[]).await.unwrap();
        s.insert_role(t, &role("rol_e", "editor"), 1, &[]).await.unwrap();
        s.add_role_permissions(t, "rol_w", &[perm(api_a, "read"), perm(api_a, "write")], &[]).await.unwrap();
        s.add_role_permissions(t, "rol_e", &[perm(api_a, "write"), perm(api_b, "read")], &[]).await.unwrap();

        let both: Vec<String> = vec!["rol_w".into(), "rol_e".into()];
        let bad: Vec<String> = vec!["rol_w".into(), "rol_ghost".into()];
        assert_eq!(s.add_user_roles(t, "auth0|u", &bad, 2, &[]).await.unwrap(), Err(Missing::Role), "{n}");
        assert!(s.user_roles(t, "auth0|u", 0, 10).await.unwrap().items.is_empty(), "{n}: nothing added");
        assert_eq!(s.add_user_roles(t, "auth0|ghost", &both, 2, &[]).await.unwrap(), Err(Missing::User));
        assert_eq!(s.add_user_roles(t, "auth0|u", &both, 2, &[]).await.unwrap(), Ok(()));
        let roles = s.user_roles(t, "auth0|u", 0, 10).await.unwrap();
        assert_eq!((names(&roles.items), roles.total), (vec!["editor", "writer"], 2), "{n}");
        assert!(s
            .add_user_permissions(t, "auth0|u", &[perm(api_a, "write"), perm(api_a, "admin")], 3, &[])
            .await
            .unwrap());
        assert!(!s.add_user_permissions(t, "auth0|ghost", &[perm(api_a, "write")], 3, &[]).await.unwrap());

        let eff = s.user_effective_permissions(t, "auth0|u").await.unwrap();
        let shown: Vec<(String, Vec<Source>)> = eff
            .into_iter()
            .map(|e| {
                (format!("{}{}", e.permission.resource_server_identifier, e.permission.permission_name), e.sources)
            })
            .collect();
        let editor = Source::Role { id: "rol_e".into(), name: "editor".into() };
        let writer = Source::Role { id: "rol_w".into(), name: "writer".into() };
        assert_eq!(
            shown,
            vec![
                ("https://a/admin".to_string(), vec![Source::Direct]),
                ("https://a/read".to_string(), vec![writer.clone()]),
                ("https://a/write".to_string(), vec![Source::Direct, editor.clone(), writer.clone()]),
                ("https://b/read".to_string(), vec![editor.clone()]),
            ],
            "{n}"
        );
        assert_eq!(s.user_permissions_for_audience(t, "auth0|u", api_a).await.unwrap(), ["admin", "read", "write"]);
        assert_eq!(s.user_permissions_for_audience(t, "auth0|u", api_b).await.unwrap(), ["read"]);
        assert!(s.user_permissions_for_audience(t, "auth0|u", "https://none/").await.unwrap().is_empty());

        // Removing direct permissions leaves what roles give.
        assert!(s
            .remove_user_permissions(t, "auth0|u", &[perm(api_a, "write"), perm(api_a, "admin")], &[])
            .await
            .unwrap());
        assert_eq!(s.user_permissions_for_audience(t, "auth0|u", api_a).await.unwrap(), ["read", "write"], "{n}");
        assert!(s.remove_user_roles(t, "auth0|u", &["rol_w".to_string(), "rol_never".to_string()], &[]).await.unwrap());
        assert!(!s.remove_user_roles(t, "auth0|ghost", &both, &[]).await.unwrap());
        assert_eq!(s.user_permissions_for_audience(t, "auth0|u", api_a).await.unwrap(), ["write"], "{n}");

        // Deleting an API's permissions and deleting a role.
        s.add_user_permissions(t, "auth0|u", &[perm(api_b, "read")], 4, &[]).await.unwrap();
        s.delete_resource_server(t, "2", api_b, &[]).await.unwrap();
        assert!(s.user_permissions_for_audience(t, "auth0|u", api_b).await.unwrap().is_empty(), "{n}");
        assert_eq!(s.role_permissions(t, "rol_e", 0, 10).await.unwrap().items, vec![perm(api_a, "write")], "{n}");
        assert!(s.delete_role(t, "rol_e", &[]).await.unwrap());
        assert!(s.user_effective_permissions(t, "auth0|u").await.unwrap().is_empty(), "{n}");

        // Deleting the user removes its direct permissions and roles.
        s.add_user_permissions(t, "auth0|u", &[perm(api_a, "read")], 5, &[]).await.unwrap();
        s.add_user_roles(t, "auth0|u", &["rol_w".to_string()], 5, &[]).await.unwrap().unwrap();
        assert!(s.delete_user(t, "auth0|u", &[]).await.unwrap());
        s.insert_user(t, &user("u"), None, &[]).await.unwrap();
        assert!(s.user_effective_permissions(t, "auth0|u").await.unwrap().is_empty(), "{n}: a new user starts clean");
        assert!(s.user_roles(t, "auth0|u", 0, 10).await.unwrap().items.is_empty(), "{n}");
    }
    finish(bs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_keep_names_unique() {
    let bs = backends().await;
    for b in &bs {
        let t = tenant(&b.store, "a.example").await;
        for round in 0..5 {
            let name = format!("same-{round}");
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let (s, name) = (b.store.clone(), name.clone());
                    tokio::spawn(
                        async move { s.insert_role(t, &role(&format!("rol_{round}_{i}"), &name), 1, &[]).await },
                    )
                })
                .collect();
            let mut created = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Ok(()) => created += 1,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("{}: {e}", b.name),
                }
            }
            assert_eq!(created, 1, "{}: round {round}", b.name);
        }
        assert_eq!(b.store.list_roles(t, None, 0, 100).await.unwrap().total, 5, "{}", b.name);
    }
    finish(bs).await;
}

#[tokio::test]
async fn events_commit_with_the_change_and_only_then() {
    use castellan_domain::log_event::LogEvent;
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = tenant(s, "a.example").await;
        let ev = |i: i64| LogEvent::new("sapi", 1_700_000_000_000 + i);
        let (created, conflict, gone, missing) = (ev(1), ev(2), ev(3), ev(4));
        s.insert_role(t, &role("rol_l", "logged"), 1, std::slice::from_ref(&created)).await.unwrap();
        assert!(s.insert_role(t, &role("rol_m", "logged"), 1, std::slice::from_ref(&conflict)).await.is_err());
        assert!(s.delete_role(t, "rol_l", std::slice::from_ref(&gone)).await.unwrap());
        assert!(!s.delete_role(t, "rol_l", std::slice::from_ref(&missing)).await.unwrap());
        let users = [ev(5)];
        assert_eq!(
            s.add_user_roles(t, "auth0|nobody", &["rol_x".to_string()], 1, &users).await.unwrap(),
            Err(Missing::User)
        );
        for (e, kept) in [(&created, true), (&conflict, false), (&gone, true), (&missing, false), (&users[0], false)] {
            assert_eq!(s.get_log(t, &e.log_id).await.unwrap().is_some(), kept, "{n}: {}", e.log_id);
        }
    }
    finish(bs).await;
}
