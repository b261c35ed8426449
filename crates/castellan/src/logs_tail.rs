//! `castellan logs tail`: follows a tenant's log events over the Management
//! API, as `auth0 logs tail` does: it prints the latest events, then polls for
//! those after the last one seen (`q=log_id:{LAST TO *]`, oldest first),
//! optionally narrowed by a Lucene query.

use std::time::Duration;

use castellan_service::webclient;
use clap::Args;
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The tenant's domain (host[:port]); the API is at https://DOMAIN unless --url.
    #[arg(long, env = "CASTELLAN_DOMAIN")]
    pub domain: String,
    /// Base URL to call instead of https://DOMAIN (e.g. http://127.0.0.1:8080 behind --tls off).
    #[arg(long)]
    pub url: Option<String>,
    /// A machine-to-machine application with read:logs on the Management API.
    #[arg(long, env = "CASTELLAN_CLIENT_ID")]
    pub client_id: String,
    #[arg(long, env = "CASTELLAN_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: String,
    /// Only events matching this query (log search syntax, e.g. type:sapi).
    #[arg(long)]
    pub q: Option<String>,
    /// How many recent events to show first.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub number: u64,
    /// Seconds between polls.
    #[arg(long, default_value_t = 2)]
    pub interval: u64,
    /// Print events as JSON lines instead of one summary line each.
    #[arg(long)]
    pub json: bool,
    /// Print the recent events and exit.
    #[arg(long)]
    pub once: bool,
    /// PEM CA to trust (castellan's generated DATA_DIR/tls/ca.pem).
    #[arg(long)]
    pub ca_file: Option<String>,
}

fn enc(s: &str) -> String {
    percent_encode(s)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Api {
    base: String,
    token: String,
}

async fn call(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<(u16, Value), String> {
    let r = webclient::send(method, url, headers, body, Duration::from_secs(30)).await.map_err(|e| e.to_string())?;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    Ok((r.status, v))
}

impl Api {
    async fn connect(a: &TailArgs) -> Result<Api, String> {
        let base = a.url.clone().unwrap_or_else(|| format!("https://{}", a.domain)).trim_end_matches('/').to_string();
        let body = json!({"grant_type": "client_credentials", "client_id": a.client_id, "client_secret": a.client_secret,
                          "audience": format!("https://{}/api/v2/", a.domain)});
        let headers =
            vec![("content-type".to_string(), "application/json".to_string()), ("host".to_string(), a.domain.clone())];
        let (status, v) = call("POST", &format!("{base}/oauth/token"), &headers, body.to_string().into_bytes()).await?;
        if status != 200 {
            return Err(format!("token request failed ({status}): {}", v["error_description"].as_str().unwrap_or("")));
        }
        let token = v["access_token"].as_str().ok_or("no access_token in the response")?.to_string();
        Ok(Api { base, token })
    }

    async fn logs(&self, domain: &str, query: &str) -> Result<Vec<Value>, String> {
        let headers = vec![
            ("authorization".to_string(), format!("Bearer {}", self.token)),
            ("host".to_string(), domain.to_string()),
        ];
        let (status, v) = call("GET", &format!("{}/api/v2/logs?{query}", self.base), &headers, Vec::new()).await?;
        if status != 200 {
            return Err(format!("GET /api/v2/logs failed ({status}): {}", v["message"].as_str().unwrap_or("")));
        }
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}

fn print(e: &Value, as_json: bool) {
    if as_json {
        println!("{e}");
        return;
    }
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
    let who =
        [s("client_name"), s("user_name")].iter().filter(|x| !x.is_empty()).copied().collect::<Vec<_>>().join(" / ");
    println!("{}  {:<7} {}  {}", s("date"), s("type"), s("description"), who);
}

pub async fn run(a: TailArgs) -> Result<(), String> {
    if let Some(ca) = &a.ca_file {
        std::env::set_var("CASTELLAN_EXTRA_CA_FILE", ca);
    }
    let api = Api::connect(&a).await?;
    let user_q = a.q.clone().filter(|q| !q.trim().is_empty());
    let with_q = |base: String| match &user_q {
        Some(q) => format!("({base}) AND ({q})"),
        None => base,
    };
    let first = match &user_q {
        Some(q) => format!("q={}&", enc(q)),
        None => String::new(),
    };
    let mut recent = api.logs(&a.domain, &format!("{first}sort=date:-1&per_page={}", a.number.clamp(1, 100))).await?;
    recent.reverse();
    let mut last = recent.last().and_then(|e| e["log_id"].as_str()).map(str::to_string);
    for e in &recent {
        print(e, a.json);
    }
    if a.once {
        return Ok(());
    }
    // Several instances can commit events slightly out of log_id order, so
    // each poll looks back OVERLAP before the last event seen and skips the
    // ids already printed (as `auth0 logs tail` de-duplicates).
    let mut seen: std::collections::VecDeque<String> =
        recent.iter().filter_map(|e| e["log_id"].as_str().map(str::to_string)).collect();
    loop {
        tokio::time::sleep(Duration::from_secs(a.interval.max(1))).await;
        let query = match &last {
            Some(id) => {
                format!("q={}&sort=date:1&per_page=100", enc(&with_q(format!("log_id:[{} TO *]", look_back(id)))))
            }
            None => format!("{first}sort=date:1&per_page=100"),
        };
        match api.logs(&a.domain, &query).await {
            Ok(events) => {
                for e in &events {
                    let Some(id) = e["log_id"].as_str() else { continue };
                    if seen.iter().any(|s| s == id) {
                        continue;
                    }
                    print(e, a.json);
                    seen.push_back(id.to_string());
                    if seen.len() > 2000 {
                        seen.pop_front();
                    }
                    if last.as_deref().is_none_or(|l| id > l) {
                        last = Some(id.to_string());
                    }
                }
            }
            Err(e) => eprintln!("castellan logs tail: {e}"),
        }
    }
}

/// How far back each poll looks: log ids start with `900` and the event's
/// time `yyyyMMddHHmmssSSS`; the bound is that time minus 5 seconds.
const OVERLAP_MS: i64 = 5000;

fn look_back(log_id: &str) -> String {
    let stamp = log_id.get(3..20).unwrap_or("");
    match chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S%3f") {
        Ok(t) => castellan_domain::log_event::log_id_prefix(t.and_utc().timestamp_millis() - OVERLAP_MS)
            .unwrap_or_else(|| log_id.to_string()),
        Err(_) => log_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn looks_back_five_seconds() {
        assert_eq!(super::look_back("90020231114221320123000000000001"), "90020231114221315123");
        assert_eq!(super::look_back("junk"), "junk");
    }

    #[test]
    fn encodes_queries() {
        assert_eq!(super::percent_encode("log_id:{9 TO *]"), "log_id%3A%7B9%20TO%20%2A%5D");
    }
}
