//! The named workloads: what one iteration of one connection sends.
//!
//! - `token`: client-credentials `POST /oauth/token` (JSON body, castellan and
//!   Auth0) or a form body with `resource` (oidc-provider), see [`TokenStyle`].
//! - `search:<class>`: `GET /api/v2/users?q=…&search_engine=v3&include_totals=true`
//!   for one query class of [`SEARCH_CLASSES`]; `search:lottery` is the seed's
//!   two calls (count with per_page=1, then a random page of one).
//! - `get-user`, `patch-user` (merge one user_metadata key): a random loaded user.
//! - `create-user`: `POST /api/v2/users` with a password (bcrypt on the server).
//! - `logs:<class>`: log search over the events of `load-logs`, one class of
//!   [`LOG_CLASSES`] (a random user's history, `q` by user, by type, a date
//!   range, a checkpoint page).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hyper::Method;
use serde_json::json;

use crate::client::{enc, Conn, Req, Resp};
use castellan_domain::clock::format_ms;

use crate::data::{self, Rng};

/// How a token request is written.
#[derive(Debug, Clone)]
pub struct TokenStyle {
    pub path: String,
    /// Form-encoded body instead of JSON.
    pub form: bool,
    /// Name of the parameter carrying the API identifier (`audience` or `resource`).
    pub audience_param: String,
    pub audience: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes to ask for (space-separated); none asks for every granted scope.
    pub scope: Option<String>,
}

/// What every workload may need to know about the target and its data.
#[derive(Debug)]
pub struct Ctx {
    pub seed: u64,
    pub users: u64,
    pub token_style: TokenStyle,
    pub bearer: Option<Arc<str>>,
    /// Distinguishes this run's created users from earlier runs'.
    pub nonce: u64,
    pub created: AtomicU64,
    /// The loaded log events, for the `logs:` classes.
    pub logs: Option<LogsCtx>,
}

/// What the log classes need: the window the loaded events fill.
#[derive(Debug, Clone, Copy)]
pub struct LogsCtx {
    pub start_ms: i64,
    pub end_ms: i64,
}

pub const LOG_CLASSES: &[SearchClass] = &[
    SearchClass { name: "user-history", what: "GET /api/v2/users/{random user}/logs?per_page=50&include_totals=true" },
    SearchClass { name: "q-user", what: "GET /api/v2/logs?q=user_id:\"<random user>\"&per_page=50" },
    SearchClass { name: "type", what: "GET /api/v2/logs?q=type:fp&per_page=50&page=<0..19> (~5%)" },
    SearchClass {
        name: "date-range",
        what: "GET /api/v2/logs?q=date:[<random hour> TO <+59 min>]&per_page=50 (~1/720 of the events)",
    },
    SearchClass { name: "checkpoint", what: "GET /api/v2/logs?from=<log_id at a random time>&take=100" },
];

/// A search query class: name, how selective it is meant to be, and its query.
#[derive(Debug, Clone, Copy)]
pub struct SearchClass {
    pub name: &'static str,
    pub what: &'static str,
}

pub const SEARCH_CLASSES: &[SearchClass] = &[
    SearchClass { name: "email", what: "email:\"<a random user's email>\" (exact, 1 match)" },
    SearchClass { name: "name-prefix", what: "name:j* (prefix, ~10%)" },
    SearchClass { name: "domain", what: "email.domain:gmail.com (exact, 25%)" },
    SearchClass { name: "domain-rare", what: "email.domain:<random company domain> (exact, 0.015%)" },
    SearchClass { name: "meta-eq", what: "app_metadata.plan:enterprise (metadata, 0.08%)" },
    SearchClass { name: "meta-eq-broad", what: "user_metadata.preferences.theme:dark (metadata, 25%)" },
    SearchClass { name: "logins-range", what: "logins_count:[300 TO 305] (range, ~0.03%)" },
    SearchClass { name: "logins-broad", what: "logins_count:[70 TO *] (range, ~21%)" },
    SearchClass { name: "exists", what: "_exists_:app_metadata.beta_features (0.05%)" },
    SearchClass { name: "exists-broad", what: "_exists_:user_metadata.address (25%)" },
    SearchClass {
        name: "bool",
        what: "email.domain:gmail.com AND (app_metadata.plan:enterprise OR app_metadata.roles:auditor)",
    },
    SearchClass { name: "suffix", what: "family_name:*son (suffix wildcard, ~9%)" },
    SearchClass { name: "lottery", what: "NOT app_metadata.winner:true: count (per_page=1), then a random page" },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Token,
    Search(&'static str),
    GetUser,
    PatchUser,
    CreateUser,
    Logs(&'static str),
    /// A dashboard page, see [`crate::dashboard`].
    Dash(&'static str),
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        if let Some(page) = s.strip_prefix("dash:") {
            return crate::dashboard::page(page).map(Kind::Dash);
        }
        Some(match s {
            "token" => Kind::Token,
            "get-user" => Kind::GetUser,
            "patch-user" => Kind::PatchUser,
            "create-user" => Kind::CreateUser,
            _ => {
                if let Some(class) = s.strip_prefix("logs:") {
                    return Some(Kind::Logs(LOG_CLASSES.iter().find(|c| c.name == class)?.name));
                }
                let class = s.strip_prefix("search:")?;
                Kind::Search(SEARCH_CLASSES.iter().find(|c| c.name == class)?.name)
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Kind::Token => "token".into(),
            Kind::Search(c) => format!("search:{c}"),
            Kind::GetUser => "get-user".into(),
            Kind::PatchUser => "patch-user".into(),
            Kind::CreateUser => "create-user".into(),
            Kind::Logs(c) => format!("logs:{c}"),
            Kind::Dash(p) => format!("dash:{p}"),
        }
    }

    pub fn needs_users(&self) -> bool {
        matches!(self, Kind::Search(_) | Kind::GetUser | Kind::PatchUser | Kind::Logs(_))
            || matches!(self, Kind::Dash(p) if crate::dashboard::needs_users(p))
    }
}

/// One outcome of one HTTP request.
pub struct Outcome {
    pub resp: Result<Resp, String>,
    pub micros: u64,
}

/// Sends `req` and times it.
pub async fn timed(conn: &mut Conn, req: &Req) -> Outcome {
    let t = std::time::Instant::now();
    let resp = conn.send(req).await;
    Outcome { resp, micros: t.elapsed().as_micros() as u64 }
}

pub fn token_request(s: &TokenStyle) -> Req {
    if s.form {
        let body = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&{}={}",
            enc(&s.client_id),
            enc(&s.client_secret),
            s.audience_param,
            enc(&s.audience)
        );
        let body = match &s.scope {
            Some(sc) => format!("{body}&scope={}", enc(sc)),
            None => body,
        };
        Req::form(s.path.clone(), body)
    } else {
        let mut body = json!({
            "grant_type": "client_credentials",
            "client_id": s.client_id,
            "client_secret": s.client_secret,
        });
        body[s.audience_param.as_str()] = json!(s.audience);
        if let Some(sc) = &s.scope {
            body["scope"] = json!(sc);
        }
        Req::json(Method::POST, s.path.clone(), &body, None)
    }
}

fn users_path(q: &str, extra: &str) -> String {
    format!("/api/v2/users?q={}&search_engine=v3&include_totals=true{extra}", enc(q))
}

/// The query text of a search class; randomized classes draw from `r`.
pub fn search_query(class: &str, ctx: &Ctx, r: &mut Rng) -> String {
    match class {
        "email" => format!("email:\"{}\"", data::handle(ctx.seed, r.below(ctx.users.max(1))).email),
        "name-prefix" => "name:j*".into(),
        "domain" => "email.domain:gmail.com".into(),
        "domain-rare" => format!("email.domain:{}", data::company_domain(r.below(data::COMPANY_DOMAINS))),
        "meta-eq" => "app_metadata.plan:enterprise".into(),
        "meta-eq-broad" => "user_metadata.preferences.theme:dark".into(),
        "logins-range" => "logins_count:[300 TO 305]".into(),
        "logins-broad" => "logins_count:[70 TO *]".into(),
        "exists" => "_exists_:app_metadata.beta_features".into(),
        "exists-broad" => "_exists_:user_metadata.address".into(),
        "bool" => "email.domain:gmail.com AND (app_metadata.plan:enterprise OR app_metadata.roles:auditor)".into(),
        "suffix" => "family_name:*son".into(),
        _ => "NOT app_metadata.winner:true".into(),
    }
}

/// The first search request of a class (for the lottery: the count).
pub fn search_request(class: &str, ctx: &Ctx, r: &mut Rng) -> Req {
    let q = search_query(class, ctx, r);
    let extra = if class == "lottery" { "&per_page=1&include_fields=false" } else { "" };
    Req::get(users_path(&q, extra), ctx.bearer.clone())
}

/// `total` of an include_totals response.
pub fn total_of(resp: &Resp) -> Option<u64> {
    resp.json()?.get("total")?.as_u64()
}

/// A random time of the loaded events' window (at least `margin_ms` before its end).
fn time_in(l: &LogsCtx, r: &mut Rng, margin_ms: i64) -> i64 {
    let span = (l.end_ms - l.start_ms - margin_ms).max(1);
    l.start_ms + r.below(span as u64) as i64
}

/// The request of a log class. `totals` asks for `include_totals` (to count
/// matches outside the measured loop).
pub fn logs_request(class: &str, ctx: &Ctx, r: &mut Rng, totals: bool) -> Req {
    let l = ctx.logs.unwrap_or(LogsCtx { start_ms: 0, end_ms: 3_600_000 });
    let t = if totals { "&include_totals=true" } else { "" };
    let path = match class {
        "user-history" => {
            let id = data::handle(ctx.seed, r.below(ctx.users.max(1))).user_id;
            format!("/api/v2/users/{}/logs?per_page=50&include_totals=true", enc(&id))
        }
        "q-user" => {
            let id = data::handle(ctx.seed, r.below(ctx.users.max(1))).user_id;
            format!("/api/v2/logs?q={}&per_page=50{t}", enc(&format!("user_id:\"{id}\"")))
        }
        "type" => format!("/api/v2/logs?q={}&per_page=50&page={}{t}", enc("type:fp"), r.below(20)),
        "date-range" => {
            let from = time_in(&l, r, 3_600_000);
            let q = format!("date:[{} TO {}]", minute(from), minute(from + 59 * 60_000));
            format!("/api/v2/logs?q={}&per_page=50{t}", enc(&q))
        }
        _ => {
            let stamp = crate::logs_data::log_id_stamp(&format_ms(time_in(&l, r, 0)));
            format!("/api/v2/logs?from=900{stamp}&take=100")
        }
    };
    Req::get(path, ctx.bearer.clone())
}

/// `YYYY-MM-DDTHH:MM` of a time (a minute: the query's period).
fn minute(ms: i64) -> String {
    format_ms(ms)[..16].to_string()
}

/// Runs one iteration of `kind` on `conn`; returns one outcome per request.
pub async fn iteration(kind: Kind, ctx: &Ctx, conn: &mut Conn, r: &mut Rng, out: &mut Vec<Outcome>) {
    match kind {
        Kind::Token => out.push(timed(conn, &token_request(&ctx.token_style)).await),
        Kind::Search("lottery") => {
            let first = timed(conn, &search_request("lottery", ctx, r)).await;
            let total = first.resp.as_ref().ok().filter(|x| x.ok()).and_then(total_of);
            out.push(first);
            if let Some(total) = total.filter(|t| *t > 0) {
                let q = search_query("lottery", ctx, r);
                let page = r.below(total);
                let req = Req::get(
                    users_path(&q, &format!("&page={page}&per_page=1&include_fields=false")),
                    ctx.bearer.clone(),
                );
                out.push(timed(conn, &req).await);
            }
        }
        Kind::Search(class) => out.push(timed(conn, &search_request(class, ctx, r)).await),
        Kind::Logs(class) => out.push(timed(conn, &logs_request(class, ctx, r, false)).await),
        Kind::GetUser => {
            let id = data::handle(ctx.seed, r.below(ctx.users.max(1))).user_id;
            out.push(timed(conn, &Req::get(format!("/api/v2/users/{}", enc(&id)), ctx.bearer.clone())).await);
        }
        Kind::PatchUser => {
            let id = data::handle(ctx.seed, r.below(ctx.users.max(1))).user_id;
            let body = json!({"user_metadata": {"bench_counter": r.below(1_000_000)}});
            let req = Req::json(Method::PATCH, format!("/api/v2/users/{}", enc(&id)), &body, ctx.bearer.clone());
            out.push(timed(conn, &req).await);
        }
        Kind::Dash(page) => crate::dashboard::iteration(page, ctx, conn, r, out).await,
        Kind::CreateUser => {
            let n = ctx.created.fetch_add(1, Ordering::Relaxed);
            // A realistic profile (from far beyond the loaded range), with a
            // fresh email on a domain no search class looks at.
            let p = data::user(ctx.seed, 1_000_000_000 + n);
            let body = json!({
                "connection": data::CONNECTION,
                "email": format!("bench-{:x}-{n}@create.bench", ctx.nonce),
                "password": format!("Bench-Passw0rd!{n}"),
                "given_name": p.given_name,
                "family_name": p.family_name,
                "name": p.name,
                "user_metadata": p.user_metadata,
                "app_metadata": p.app_metadata,
            });
            out.push(timed(conn, &Req::json(Method::POST, "/api/v2/users", &body, ctx.bearer.clone())).await);
        }
    }
}
