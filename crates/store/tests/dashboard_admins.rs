//! Dashboard administrators in the store, on SQLite and (when configured)
//! PostgreSQL: listing by email, deleting one with their sessions, and the
//! tenant's last administrator, who cannot be deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use castellan_store::DashboardAdmin;
use common::{backends, finish};

fn admin(id: &str, email: &str) -> DashboardAdmin {
    DashboardAdmin {
        id: id.into(),
        email: email.into(),
        password_hash: "$2b$10$x".into(),
        created_at: 1,
        last_login_at: None,
        failures: 0,
        locked_until: None,
    }
}

#[tokio::test]
async fn administrators_are_listed_and_deleted_but_never_the_last() {
    let bs = backends().await;
    for b in &bs {
        let (s, n) = (&b.store, b.name);
        let t = s.create_tenant("a.example", "00", 0).await.unwrap().id;
        let other = s.create_tenant("b.example", "00", 0).await.unwrap().id;
        s.insert_dashboard_admin(t, &admin("adm_b", "b@x.io")).await.unwrap();
        s.insert_dashboard_admin(t, &admin("adm_a", "a@x.io")).await.unwrap();
        s.insert_dashboard_admin(other, &admin("adm_o", "o@x.io")).await.unwrap();
        s.insert_dashboard_session(t, "ses_1", "hash-1", "adm_b", 1, 1_000).await.unwrap();
        let emails: Vec<String> = s.list_dashboard_admins(t).await.unwrap().into_iter().map(|a| a.email).collect();
        assert_eq!(emails, ["a@x.io", "b@x.io"], "{n}");
        // Another tenant's administrator is not reachable by id.
        assert!(!s.delete_dashboard_admin(t, "adm_o").await.unwrap(), "{n}");
        assert!(s.delete_dashboard_admin(t, "adm_b").await.unwrap(), "{n}");
        assert!(s.dashboard_session(t, "hash-1", 2, 0).await.unwrap().is_none(), "{n}");
        // The last one stays, in each tenant.
        assert!(!s.delete_dashboard_admin(t, "adm_a").await.unwrap(), "{n}");
        assert!(!s.delete_dashboard_admin(other, "adm_o").await.unwrap(), "{n}");
        assert_eq!(s.list_dashboard_admins(t).await.unwrap().len(), 1, "{n}");
        assert_eq!(s.list_dashboard_admins(other).await.unwrap().len(), 1, "{n}");
    }
    finish(bs).await;
}
