//! Deterministic log events for the log benchmarks.
//!
//! Event `i` of a load depends only on `(seed, i)`, the load's time window
//! and the users of the data set: its type (drawn from [`KINDS`], roughly
//! the mix of a B2C tenant: logins, token exchanges, Management API calls,
//! failures), its user (uniform over the loaded users, for the ~60% of types
//! that carry one), application, IP and user agent. Dates advance evenly
//! through the window in `i` order, so a load appends to the time-ordered
//! indexes the way a live server does; the 24 random digits of the log_id
//! come from the event's generator, the 12-digit sequence is `i`.

use castellan_domain::clock::format_ms;
use castellan_domain::log_event::LogEvent;
use serde_json::json;

use crate::data::{self, Handle, Rng};

/// One event type: its code, weight (per 1000), whether it names a user,
/// whether it comes from a machine-to-machine application, and Auth0's
/// description.
pub struct KindSpec {
    pub code: &'static str,
    pub weight: u32,
    pub user: bool,
    pub m2m: bool,
    pub description: &'static str,
}

pub const KINDS: &[KindSpec] = &[
    KindSpec { code: "s", weight: 240, user: true, m2m: false, description: "Success Login" },
    KindSpec {
        code: "seccft",
        weight: 180,
        user: false,
        m2m: true,
        description: "Client Credentials for Access Token",
    },
    KindSpec { code: "sertft", weight: 100, user: true, m2m: false, description: "Refresh Token for Access Token" },
    KindSpec { code: "sapi", weight: 90, user: false, m2m: true, description: "Update a User" },
    KindSpec { code: "seacft", weight: 80, user: true, m2m: false, description: "Authorization Code for Access Token" },
    KindSpec { code: "mgmt_api_read", weight: 70, user: false, m2m: true, description: "Get users" },
    KindSpec { code: "slo", weight: 60, user: true, m2m: false, description: "User successfully logged out" },
    KindSpec { code: "fp", weight: 50, user: true, m2m: false, description: "Wrong email or password." },
    KindSpec { code: "f", weight: 30, user: true, m2m: false, description: "Wrong email or password." },
    KindSpec { code: "fu", weight: 20, user: false, m2m: false, description: "Invalid email or username" },
    KindSpec { code: "ss", weight: 20, user: true, m2m: false, description: "Successful signup" },
    KindSpec { code: "fapi", weight: 10, user: false, m2m: true, description: "Failed API Operation" },
    KindSpec { code: "scp", weight: 10, user: true, m2m: false, description: "Successful change password" },
    KindSpec { code: "sv", weight: 10, user: true, m2m: false, description: "Successful verification email" },
    KindSpec { code: "sdu", weight: 5, user: true, m2m: true, description: "Successful user deletion" },
    KindSpec { code: "fcpr", weight: 5, user: true, m2m: false, description: "Failed change password request" },
];

const USER_AGENTS: [&str; 5] = [
    "Chrome 120.0.0 / Windows 10.0.0",
    "Safari 17.1.0 / Mac OS X 10.15.7",
    "Mobile Safari 17.1.0 / iOS 17.1.2",
    "Chrome Mobile 119.0.0 / Android 14.0.0",
    "Firefox 121.0.0 / Ubuntu 0.0.0",
];

/// Applications users log in to, and machine-to-machine applications.
const APPS: u64 = 12;
const M2M_APPS: u64 = 4;

/// The client id and name of application `k` (`m2m`: of the machine ones).
pub fn app(k: u64, m2m: bool) -> (String, String) {
    if m2m {
        (format!("BenchM2M{k:02}xxxxxxxxxxxxxxxxxxxxxx"), format!("Bench backend {k}"))
    } else {
        (format!("BenchApp{k:02}xxxxxxxxxxxxxxxxxxxxxx"), format!("Bench app {k}"))
    }
}

/// A load's time window and where it sits in the event numbering.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Events `[from, to)` are spread evenly over `[start_ms, end_ms)`.
    pub from: u64,
    pub to: u64,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    pub fn date_of(&self, i: u64) -> i64 {
        let n = (self.to - self.from).max(1) as i128;
        let span = (self.end_ms - self.start_ms) as i128;
        self.start_ms + ((i - self.from) as i128 * span / n) as i64
    }
}

/// The `yyyyMMddHHmmssSSS` of an ISO date, as log_ids start (after `900`).
pub fn log_id_stamp(iso: &str) -> String {
    iso.chars().filter(char::is_ascii_digit).collect()
}

fn pick_kind(r: &mut Rng) -> &'static KindSpec {
    let total: u32 = KINDS.iter().map(|k| k.weight).sum();
    let mut x = r.below(total as u64) as u32;
    for k in KINDS {
        if x < k.weight {
            return k;
        }
        x -= k.weight;
    }
    &KINDS[0]
}

/// Event `i` of data set `seed`, dated by `w`, naming users of `users`.
pub fn event(seed: u64, i: u64, w: &Window, users: &[Handle], domain: &str) -> LogEvent {
    let mut r = Rng::for_user(seed ^ 0x106_5EED_0000, i);
    let ms = w.date_of(i);
    let date = format_ms(ms);
    let stamp = log_id_stamp(&date);
    let log_id = format!(
        "900{stamp}{:012}{:012}{:012}",
        i % 1_000_000_000_000,
        r.below(1_000_000_000_000),
        r.below(1_000_000_000_000)
    );
    let k = pick_kind(&mut r);
    let (client_id, client_name) = if k.m2m { app(r.below(M2M_APPS), true) } else { app(r.below(APPS), false) };
    let mut e = LogEvent {
        log_id,
        date,
        kind: k.code.to_string(),
        description: Some(k.description.to_string()),
        client_id: Some(client_id),
        client_name: Some(client_name),
        ip: Some(format!("{}.{}.{}.{}", 1 + r.below(223), r.below(256), r.below(256), 1 + r.below(254))),
        hostname: Some(domain.to_string()),
        ..Default::default()
    };
    if !k.m2m {
        e.user_agent = Some(r.pick(&USER_AGENTS).to_string());
        e.connection = Some(data::CONNECTION.to_string());
        e.connection_id = Some("con_BenchDatabase0001".into());
        e.strategy = Some("auth0".into());
        e.strategy_type = Some("database".into());
    }
    if k.user && !users.is_empty() {
        let u = &users[r.below(users.len() as u64) as usize];
        e.user_id = Some(u.user_id.clone());
        e.user_name = Some(u.email.clone());
    } else if k.code == "fu" {
        e.user_name = Some(format!("nobody{}@example.com", r.below(100_000)));
    }
    match k.code {
        "seccft" | "sertft" | "seacft" => {
            e.audience = Some(format!("https://{domain}/api/v2/"));
            e.scope = Some("read:users update:users".into());
        }
        "sapi" | "fapi" | "mgmt_api_read" => {
            let path = match users.len() {
                0 => "/api/v2/users".to_string(),
                n => format!("/api/v2/users/{}", users[r.below(n as u64) as usize].user_id),
            };
            let (method, status) = match k.code {
                "sapi" => ("patch", 200),
                "fapi" => ("patch", 400),
                _ => ("get", 200),
            };
            e.details = Some(json!({"request": {"method": method, "path": path}, "response": {"statusCode": status}}));
        }
        "s" => e.details = Some(json!({"stats": {"loginsCount": 1 + r.below(200)}})),
        _ => {}
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window { from: 0, to: 10_000, start_ms: 1_790_000_000_000, end_ms: 1_790_000_000_000 + 30 * 86_400_000 }
    }

    #[test]
    fn events_are_deterministic_ordered_and_mixed() {
        let users: Vec<Handle> = (0..50).map(|i| data::handle(1, i)).collect();
        let w = window();
        assert_eq!(event(1, 7, &w, &users, "d"), event(1, 7, &w, &users, "d"));
        let all: Vec<LogEvent> = (0..10_000).map(|i| event(1, i, &w, &users, "d")).collect();
        assert!(all.windows(2).all(|p| p[0].log_id < p[1].log_id), "ids sort in event order");
        assert!(all.iter().all(|e| e.log_id.len() == 56));
        let with_user = all.iter().filter(|e| e.user_id.is_some()).count() as f64 / 1e4;
        assert!((0.55..0.66).contains(&with_user), "{with_user}");
        let fp = all.iter().filter(|e| e.kind == "fp").count() as f64 / 1e4;
        assert!((0.04..0.06).contains(&fp), "{fp}");
        assert_eq!(all[0].date, format_ms(w.start_ms));
        assert!(all[9_999].date < format_ms(w.end_ms));
    }
}
