//! Dashboard workloads (`dash:<page>`): a signed-in administrator viewing
//! pages of the server-rendered console at `/dashboard` (issue 7: pages
//! render within 200 ms at 1M users).
//!
//! Each connection signs in once, untimed: GET the sign-in page for its CSRF
//! cookie and token, POST the credentials, keep the session cookie. Every
//! iteration then GETs one page, timed, and requires a 200 whose HTML holds
//! the page's markers; a page without them is an error (and the connection
//! starts over). A redirect to the sign-in page counts as an error and
//! drops the session, so the next iteration signs in again.
//!
//! The administrator is [`ADMIN_EMAIL`] / [`ADMIN_PASSWORD`], or
//! `CASTELLAN_BENCH_ADMIN_EMAIL` / `CASTELLAN_BENCH_ADMIN_PASSWORD` (for
//! `--url`). castellan creates a dashboard administrator only when it creates
//! the tenant, so before the server starts on a loaded data dir,
//! [`ensure_admin`] adds this one to the store if it is missing.

use std::path::Path;

use castellan_store::{DashboardAdmin, Store};

use crate::client::{enc, Conn, Req, Resp};
use crate::data::{self, Rng};
use crate::load::Manifest;
use crate::workloads::{timed, Ctx, Outcome};

pub const ADMIN_EMAIL: &str = "castellan-bench-admin@example.com";
pub const ADMIN_PASSWORD: &str = "castellan-bench-dashboard-0123456789";

/// The users list's page size (`PER_PAGE` of the dashboard's users list).
const LIST_PER_PAGE: u64 = 50;

/// A dashboard workload: its name after `dash:`, what it requests, and
/// whether it needs a loaded data set.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub name: &'static str,
    pub what: &'static str,
    pub needs_users: bool,
}

pub const PAGES: &[Page] = &[
    Page { name: "users", what: "GET /dashboard/users (first page, newest first, with the total)", needs_users: false },
    Page {
        name: "users-deep",
        what: "GET /dashboard/users?…&page=N, N = a quarter of the pages (5,000 at 1M), as the pager links",
        needs_users: true,
    },
    Page {
        name: "search",
        what: "GET /dashboard/users?q=email:\"<a random user's email>\" (1 match)",
        needs_users: true,
    },
    Page { name: "search-prefix", what: "GET /dashboard/users?q=name:j* (~10%)", needs_users: true },
    Page { name: "user", what: "GET /dashboard/users/{random user} (Details tab)", needs_users: true },
    Page { name: "user-history", what: "GET /dashboard/users/{random user}?tab=history", needs_users: true },
    Page { name: "logs", what: "GET /dashboard/logs (first page, with the total)", needs_users: false },
    Page { name: "apps", what: "GET /dashboard/applications", needs_users: false },
];

/// The canonical name of a page workload (`users` for `dash:users`).
pub fn page(name: &str) -> Option<&'static str> {
    PAGES.iter().find(|p| p.name == name).map(|p| p.name)
}

pub fn needs_users(name: &str) -> bool {
    PAGES.iter().any(|p| p.name == name && p.needs_users)
}

/// Every dashboard workload, for `dash:all`.
pub fn all() -> impl Iterator<Item = String> {
    PAGES.iter().map(|p| format!("dash:{}", p.name))
}

/// The administrator's email and password.
pub fn admin() -> (String, String) {
    let env = |k: &str, default: &str| std::env::var(k).ok().filter(|v| !v.is_empty()).unwrap_or(default.into());
    (env("CASTELLAN_BENCH_ADMIN_EMAIL", ADMIN_EMAIL), env("CASTELLAN_BENCH_ADMIN_PASSWORD", ADMIN_PASSWORD))
}

/// Adds the administrator to the loaded store of `dir` unless it exists
/// (one row; users are not touched).
pub async fn ensure_admin(dir: &Path, m: &Manifest) -> Result<(), String> {
    let (email, password) = admin();
    let email = email.trim().to_ascii_lowercase();
    let store = Store::connect(&m.store_url(dir)).await.map_err(|e| format!("cannot open the store: {e}"))?;
    let result = async {
        let tenant = store
            .tenant_by_domain(&m.domain)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} has no tenant {}", dir.display(), m.domain))?;
        if store.dashboard_admin_by_email(tenant.id, &email).await.map_err(|e| e.to_string())?.is_some() {
            return Ok(());
        }
        let password_hash = bcrypt::hash(&password, 10).map_err(|e| e.to_string())?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let a = DashboardAdmin {
            id: castellan_domain::ids::prefixed("adm"),
            email,
            password_hash,
            created_at: now,
            last_login_at: None,
            failures: 0,
            locked_until: None,
        };
        store.insert_dashboard_admin(tenant.id, &a).await.map_err(|e| e.to_string())
    }
    .await;
    store.close().await;
    result.map_err(|e| format!("adding the dashboard administrator: {e}"))
}

/// `name=value` of cookie `name` among `Set-Cookie` headers.
fn cookie_pair(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next().map(str::trim))
        .find(|c| c.strip_prefix(name).and_then(|r| r.strip_prefix('=')).is_some_and(|v| !v.is_empty()))
        .map(str::to_string)
}

/// The value of the hidden form field `name`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let key = format!(r#"name="{name}" value=""#);
    let start = html.find(&key)? + key.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_string())
}

fn describe(what: &str, r: &Resp) -> String {
    let body = String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).to_string();
    format!("{what}: HTTP {}: {body}", r.status)
}

/// Signs in on `conn`: on success its requests carry the session cookie.
pub async fn sign_in(conn: &mut Conn) -> Result<(), String> {
    let (email, password) = admin();
    conn.cookie = None;
    let page = conn.send(&Req::get("/dashboard/login", None)).await?;
    if page.status != 200 {
        return Err(describe("GET /dashboard/login", &page));
    }
    let csrf = cookie_pair(&page.set_cookies, "castellan_csrf").ok_or("the sign-in page set no CSRF cookie")?;
    let token =
        hidden_value(&String::from_utf8_lossy(&page.body), "csrf").ok_or("the sign-in form has no csrf field")?;
    let form = format!(
        "csrf={}&email={}&password={}&next={}",
        enc(&token),
        enc(&email),
        enc(&password),
        enc("/dashboard/users")
    );
    conn.cookie = Some(csrf);
    let resp = conn.send(&Req::form("/dashboard/login", form)).await;
    conn.cookie = None;
    let resp = resp?;
    if resp.status != 303 {
        return Err(describe(&format!("sign-in as {email}"), &resp));
    }
    let session = cookie_pair(&resp.set_cookies, "castellan_dashboard").ok_or("the sign-in set no session cookie")?;
    conn.cookie = Some(session);
    Ok(())
}

/// The path of one request of `page`, and what its HTML must contain.
pub fn request(page: &str, ctx: &Ctx, r: &mut Rng) -> (String, Vec<String>) {
    let mut random_user = || data::handle(ctx.seed, r.below(ctx.users.max(1)));
    let list = r#"<table class="wide" id="users">"#.to_string();
    match page {
        "users" => ("/dashboard/users".into(), vec![list]),
        "users-deep" => {
            // The pager's links: /dashboard/users?q=&sort=created_at%3A-1&page=N
            let n = (ctx.users / LIST_PER_PAGE / 4).max(1);
            let path = format!("/dashboard/users?q=&sort={}&page={n}", enc("created_at:-1"));
            (path, vec![list, format!("<span>Page {} of ", n + 1)])
        }
        "search" => {
            let email = random_user().email;
            let path = format!("/dashboard/users?q={}", enc(&format!("email:\"{email}\"")));
            (path, vec![list, format!("<td>{email}</td>")])
        }
        "search-prefix" => (format!("/dashboard/users?q={}", enc("name:j*")), vec![list]),
        "user" | "user-history" => {
            let u = random_user();
            let (tab, marker) = if page == "user" {
                ("", r#"id="tab-details" aria-current="page""#)
            } else {
                ("?tab=history", r#"id="tab-history" aria-current="page""#)
            };
            let path = format!("/dashboard/users/{}{tab}", enc(&u.user_id));
            (path, vec![marker.to_string(), format!(r#"<p class="hint">{}</p>"#, u.user_id)])
        }
        "logs" => ("/dashboard/logs".into(), vec![r#"<table class="wide" id="logs">"#.into()]),
        _ => ("/dashboard/applications".into(), vec![r#"<table class="wide" id="applications">"#.into()]),
    }
}

/// Runs one iteration of `page` on `conn` (signing in first if it has no
/// session); one outcome, or a sign-in failure.
pub async fn iteration(page: &str, ctx: &Ctx, conn: &mut Conn, r: &mut Rng, out: &mut Vec<Outcome>) {
    if conn.cookie.is_none() {
        if let Err(e) = sign_in(conn).await {
            out.push(Outcome { resp: Err(format!("dashboard sign-in: {e}")), micros: 0 });
            return;
        }
    }
    let (path, markers) = request(page, ctx, r);
    let mut o = timed(conn, &Req::get(path.as_str(), None)).await;
    if let Ok(resp) = &o.resp {
        if resp.status == 303 {
            // Sent to the sign-in page: the session is gone.
            conn.cookie = None;
        } else if resp.status == 200 {
            let html = String::from_utf8_lossy(&resp.body);
            if let Some(m) = markers.iter().find(|m| !html.contains(m.as_str())) {
                o.resp = Err(format!("GET {path}: 200 without {m}"));
            }
        }
    }
    out.push(o);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_pair_takes_the_named_cookie_before_its_attributes() {
        let set = vec![
            "castellan_csrf=abc; Path=/dashboard; HttpOnly".to_string(),
            "castellan_dashboard=s3ss; Path=/dashboard; Secure".to_string(),
        ];
        assert_eq!(cookie_pair(&set, "castellan_dashboard").as_deref(), Some("castellan_dashboard=s3ss"));
        assert_eq!(cookie_pair(&set, "castellan_csrf").as_deref(), Some("castellan_csrf=abc"));
        assert_eq!(cookie_pair(&set, "castellan"), None);
        // A cleared cookie is no session.
        assert_eq!(cookie_pair(&["castellan_dashboard=; Max-Age=0".to_string()], "castellan_dashboard"), None);
    }

    #[test]
    fn hidden_value_reads_the_form_field() {
        let html = r#"<input type="hidden" name="csrf" value="t0k-en"><input type="hidden" name="next" value="/x">"#;
        assert_eq!(hidden_value(html, "csrf").as_deref(), Some("t0k-en"));
        assert_eq!(hidden_value(html, "next").as_deref(), Some("/x"));
        assert_eq!(hidden_value(html, "email"), None);
    }
}
