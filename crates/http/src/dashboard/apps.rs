//! Applications (list, create, settings, credentials: reveal and rotate the
//! secret) and APIs (list, create, scopes, and the "Test" tab that asks
//! /oauth/token for a client-credentials token, as Auth0's dashboard does).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use castellan_service::{DocFilter, TokenAnswer, TokenRequest};
use serde_json::{json, Value};

use super::{alert, enc, message, pretty, s, see_other, Admin, Nav, Posted};
use crate::extract::AppState;
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/applications", get(apps_list).post(app_create))
        .route("/dashboard/applications/{id}", get(app_show).post(app_save))
        .route("/dashboard/applications/{id}/reveal", post(app_reveal))
        .route("/dashboard/applications/{id}/rotate", post(app_rotate))
        .route("/dashboard/apis", get(apis_list).post(api_create))
        .route("/dashboard/apis/{id}", get(api_show))
        .route("/dashboard/apis/{id}/scopes", post(api_scopes))
        .route("/dashboard/apis/{id}/test", post(api_test))
}

const APP_TYPES: &[(&str, &str)] = &[
    ("regular_web", "Regular web application"),
    ("spa", "Single page application"),
    ("native", "Native"),
    ("non_interactive", "Machine to machine"),
];
const GRANTS: &[&str] = &["authorization_code", "implicit", "refresh_token", "client_credentials", "password"];

/// The tabs of an application's pages (`current`: "settings" or "apis").
pub(super) fn app_tabs(id: &str, current: &str) -> String {
    let href = format!("/dashboard/applications/{}", enc(id));
    [("settings", "Settings", href.clone()), ("apis", "APIs", format!("{href}/apis"))]
        .iter()
        .map(|(k, label, to)| {
            let cur = if *k == current { r#" aria-current="page""# } else { "" };
            format!(r#"<li><a href="{}" id="tab-{k}"{cur}>{label}</a></li>"#, esc(to))
        })
        .fold(r#"<ul class="tabs" role="list">"#.to_string(), |acc, li| acc + &li)
        + "</ul>"
}

fn lines(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn split_lines(text: &str) -> Vec<String> {
    text.split(['\n', ',']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

async fn apps_list(admin: Admin) -> Response {
    apps_page(&admin, StatusCode::OK, None, "").await
}

async fn apps_page(admin: &Admin, status: StatusCode, error: Option<&str>, name: &str) -> Response {
    let (apps, _) = match admin.app.list_clients(&admin.tenant, 0, 1000, false, |_| true).await {
        Ok(l) => l,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    let rows: String = apps
        .iter()
        .map(|a| {
            format!(
                r#"<tr><td><a href="/dashboard/applications/{}">{}</a></td><td>{}</td><td><code>{}</code></td></tr>"#,
                esc(&enc(s(a, "client_id"))),
                esc(s(a, "name")),
                esc(s(a, "app_type")),
                esc(s(a, "client_id"))
            )
        })
        .collect();
    let types: String = APP_TYPES.iter().map(|(v, l)| format!(r#"<option value="{v}">{l}</option>"#)).collect();
    let body = format!(
        r#"{err}<table class="wide" id="applications"><thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Client ID</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Create application</h2>
<form method="post" action="/dashboard/applications" class="row">{csrf}
<div><label for="name">Name</label><input id="name" name="name" type="text" required value="{name}"></div>
<div><label for="app_type">Type</label><select id="app_type" name="app_type">{types}</select></div>
<div><button type="submit" id="create-application">Create</button></div>
</form>"#,
        err = error.map(alert).unwrap_or_default(),
        csrf = admin.csrf_field(),
        name = esc(name),
    );
    admin.page_status(status, Some(Nav::Applications), "Applications", &body)
}

async fn app_create(Posted { admin, f }: Posted) -> Response {
    let app_type = f.get("app_type");
    let mut body = json!({"name": f.get("name").trim(), "app_type": app_type});
    if app_type == "non_interactive" {
        body["grant_types"] = json!(["client_credentials"]);
    }
    let caller = admin.act("POST", "/api/v2/clients", "/api/v2/clients");
    match admin.app.create_client(&admin.tenant, &caller, &body).await {
        Ok(c) => see_other(&format!("/dashboard/applications/{}?ok=app_created", enc(s(&c, "client_id")))),
        Err(e) => apps_page(&admin, StatusCode::BAD_REQUEST, Some(&message(&e)), f.get("name")).await,
    }
}

async fn app_show(admin: Admin, Path(id): Path<String>) -> Response {
    app_page(&admin, &id, StatusCode::OK, None, false).await
}

async fn app_page(admin: &Admin, id: &str, status: StatusCode, error: Option<&str>, reveal: bool) -> Response {
    let a = match admin.app.get_client(&admin.tenant, id, reveal).await {
        Ok(a) => a,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    let href = format!("/dashboard/applications/{}", enc(id));
    let granted: Vec<&str> =
        a.get("grant_types").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let grants: String = GRANTS
        .iter()
        .map(|g| {
            let checked = if granted.contains(g) { " checked" } else { "" };
            format!(r#"<div><input type="checkbox" id="grant-{g}" name="grant_types" value="{g}"{checked}> <label for="grant-{g}" style="display:inline">{g}</label></div>"#)
        })
        .collect();
    let secret = if reveal {
        format!(r#"<dd><code id="client-secret">{}</code></dd>"#, esc(s(&a, "client_secret")))
    } else {
        format!(
            r#"<dd>•••••••• {}</dd>"#,
            admin.button(&format!("{href}/reveal"), "Reveal", "secondary", "reveal-secret")
        )
    };
    let body = format!(
        r#"{tabs}{err}<h2>Credentials</h2><dl class="kv"><dt>Domain</dt><dd><code>{domain}</code></dd><dt>Client ID</dt><dd><code id="client-id">{cid}</code></dd><dt>Client secret</dt>{secret}</dl>
<form method="post" action="{href_e}/rotate">{csrf}<p class="hint">Rotating makes the current secret stop working at once.</p><button type="submit" class="danger" id="rotate-secret">Rotate secret</button></form>
<h2>Settings</h2>
<form method="post" action="{href_e}">{csrf}
<label for="name">Name</label><input id="name" name="name" type="text" value="{name}">
<label for="callbacks">Allowed callback URLs</label><textarea id="callbacks" name="callbacks" aria-describedby="urls-hint">{callbacks}</textarea>
<label for="allowed_logout_urls">Allowed logout URLs</label><textarea id="allowed_logout_urls" name="allowed_logout_urls" aria-describedby="urls-hint">{logout}</textarea>
<p class="hint" id="urls-hint">One URL per line (or separated by commas).</p>
<fieldset><legend>Grant types</legend>{grants}</fieldset>
<button type="submit" id="save-application">Save changes</button>
</form>{danger}"#,
        tabs = app_tabs(id, "settings"),
        danger = super::deletes::danger_zone(&href, "Delete application"),
        err = error.map(alert).unwrap_or_default(),
        domain = esc(&admin.tenant.domain),
        cid = esc(s(&a, "client_id")),
        href_e = esc(&href),
        csrf = admin.csrf_field(),
        name = esc(s(&a, "name")),
        callbacks = esc(&lines(&a, "callbacks")),
        logout = esc(&lines(&a, "allowed_logout_urls")),
    );
    admin.page_status(status, Some(Nav::Applications), s(&a, "name"), &body)
}

async fn app_save(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let body = json!({
        "name": f.get("name").trim(),
        "callbacks": split_lines(f.get("callbacks")),
        "allowed_logout_urls": split_lines(f.get("allowed_logout_urls")),
        "grant_types": f.all("grant_types"),
    });
    let caller = admin.act("PATCH", "/api/v2/clients/{id}", &format!("/api/v2/clients/{}", enc(&id)));
    match admin.app.update_client(&admin.tenant, &caller, &id, &body, false).await {
        Ok(_) => see_other(&format!("/dashboard/applications/{}?ok=app_saved", enc(&id))),
        Err(e) => app_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e)), false).await,
    }
}

async fn app_reveal(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    app_page(&admin, &id, StatusCode::OK, None, true).await
}

async fn app_rotate(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    let caller =
        admin.act("POST", "/api/v2/clients/{id}/rotate-secret", &format!("/api/v2/clients/{}/rotate-secret", enc(&id)));
    match admin.app.rotate_client_secret(&admin.tenant, &caller, &id).await {
        Ok(_) => see_other(&format!("/dashboard/applications/{}?ok=secret_rotated", enc(&id))),
        Err(e) => admin.error(Some(Nav::Applications), &e),
    }
}

async fn apis_list(admin: Admin) -> Response {
    apis_page(&admin, StatusCode::OK, None).await
}

async fn apis_page(admin: &Admin, status: StatusCode, error: Option<&str>) -> Response {
    let (apis, _) = match admin.app.list_resource_servers(&admin.tenant, &[], 0, 1000).await {
        Ok(l) => l,
        Err(e) => return admin.error(Some(Nav::Apis), &e),
    };
    let rows: String = apis
        .iter()
        .map(|a| {
            format!(
                r#"<tr><td><a href="/dashboard/apis/{}">{}</a></td><td><code>{}</code></td></tr>"#,
                esc(&enc(s(a, "id"))),
                esc(s(a, "name")),
                esc(s(a, "identifier"))
            )
        })
        .collect();
    let body = format!(
        r#"{err}<table class="wide" id="apis"><thead><tr><th scope="col">Name</th><th scope="col">Identifier (audience)</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Create API</h2>
<form method="post" action="/dashboard/apis" class="row">{csrf}
<div><label for="name">Name</label><input id="name" name="name" type="text" required></div>
<div><label for="identifier">Identifier</label><input id="identifier" name="identifier" type="text" required placeholder="https://api.example.com"></div>
<div><button type="submit" id="create-api">Create</button></div>
</form>"#,
        err = error.map(alert).unwrap_or_default(),
        csrf = admin.csrf_field(),
    );
    admin.page_status(status, Some(Nav::Apis), "APIs", &body)
}

async fn api_create(Posted { admin, f }: Posted) -> Response {
    let body = json!({"name": f.get("name").trim(), "identifier": f.get("identifier").trim()});
    let caller = admin.act("POST", "/api/v2/resource-servers", "/api/v2/resource-servers");
    match admin.app.create_resource_server(&admin.tenant, &caller, &body).await {
        Ok(a) => see_other(&format!("/dashboard/apis/{}?ok=api_created", enc(s(&a, "id")))),
        Err(e) => apis_page(&admin, StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn api_show(admin: Admin, Path(id): Path<String>) -> Response {
    api_page(&admin, &id, StatusCode::OK, None, "").await
}

async fn api_page(admin: &Admin, id: &str, status: StatusCode, error: Option<&str>, test: &str) -> Response {
    api_page_for(admin, id, status, error, test, "").await
}

/// The API's page; `chosen`: the application selected on the Test tab.
async fn api_page_for(
    admin: &Admin,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
    test: &str,
    chosen: &str,
) -> Response {
    let api = match admin.app.get_resource_server(&admin.tenant, id).await {
        Ok(a) => a,
        Err(e) => return admin.error(Some(Nav::Apis), &e),
    };
    let href = format!("/dashboard/apis/{}", enc(id));
    let scopes: Vec<&Value> = api.get("scopes").and_then(Value::as_array).into_iter().flatten().collect();
    let scope_text: String = scopes.iter().map(|sc| format!("{} {}\n", s(sc, "value"), s(sc, "description"))).collect();
    let filter = DocFilter { audience: Some(s(&api, "identifier").to_string()), client_id: None };
    let grants = match admin.app.list_client_grants(&admin.tenant, &filter, |_| true, 0, 100).await {
        Ok((g, _)) => g,
        Err(e) => return admin.error(Some(Nav::Apis), &e),
    };
    let mut options = String::new();
    for g in &grants {
        let cid = s(g, "client_id");
        let name = admin.app.client_name(&admin.tenant, cid).await.unwrap_or_else(|| cid.to_string());
        let sel = if cid == chosen { " selected" } else { "" };
        options.push_str(&format!(r#"<option value="{}"{sel}>{}</option>"#, esc(cid), esc(&name)));
    }
    let test_form = if options.is_empty() {
        r#"<p class="empty">No application is authorized for this API yet. Authorize one on its APIs tab (<a href="/dashboard/applications">Applications</a>).</p>"#.to_string()
    } else {
        format!(
            r#"<form method="post" action="{}/test" class="row">{}<div><label for="client_id">Application</label><select id="client_id" name="client_id">{options}</select></div><div><button type="submit" id="get-token">Get a test token</button></div></form>"#,
            esc(&href),
            admin.csrf_field()
        )
    };
    let body = format!(
        r#"{err}<dl class="kv"><dt>Identifier</dt><dd><code>{identifier}</code></dd><dt>Signing algorithm</dt><dd>{alg}</dd></dl>
<h2>Permissions (scopes)</h2>
<form method="post" action="{href_e}/scopes">{csrf}
<label for="scopes">Scopes</label>
<textarea id="scopes" name="scopes" aria-describedby="scopes-hint">{scope_text}</textarea>
<p class="hint" id="scopes-hint">One scope a line: the value, a space, then its description (<code>read:reports Read the reports</code>).</p>
<button type="submit" id="save-scopes">Save scopes</button>
</form>
<h2 id="test">Test</h2>
<p class="hint">Asks /oauth/token for a client-credentials token for the chosen application, as your back end would.</p>
{test_form}{test}{danger}"#,
        err = error.map(alert).unwrap_or_default(),
        identifier = esc(s(&api, "identifier")),
        alg = esc(s(&api, "signing_alg")),
        href_e = esc(&href),
        csrf = admin.csrf_field(),
        scope_text = esc(&scope_text),
        danger = super::deletes::danger_zone(&href, "Delete API"),
    );
    admin.page_status(status, Some(Nav::Apis), s(&api, "name"), &body)
}

async fn api_scopes(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let scopes: Vec<Value> = f
        .get("scopes")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (value, description) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            json!({"value": value, "description": description.trim()})
        })
        .collect();
    let caller = admin.act("PATCH", "/api/v2/resource-servers/{id}", &format!("/api/v2/resource-servers/{}", enc(&id)));
    match admin.app.update_resource_server(&admin.tenant, &caller, &id, &json!({"scopes": scopes})).await {
        Ok(_) => see_other(&format!("/dashboard/apis/{}?ok=api_saved", enc(&id))),
        Err(e) => api_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e)), "").await,
    }
}

async fn api_test(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let api = match admin.app.get_resource_server(&admin.tenant, &id).await {
        Ok(a) => a,
        Err(e) => return admin.error(Some(Nav::Apis), &e),
    };
    let client_id = f.get("client_id").to_string();
    let secret = match admin.app.get_client(&admin.tenant, &client_id, true).await {
        Ok(c) => s(&c, "client_secret").to_string(),
        Err(e) => return api_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e)), "").await,
    };
    let audience = s(&api, "identifier").to_string();
    let mut info = admin.info.clone();
    info.method = "POST".into();
    info.path = "/oauth/token".into();
    let req = TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some(client_id.clone()),
        client_secret: Some(castellan_crypto::Secret::new(secret.clone())),
        audience: Some(audience.clone()),
        info,
        ..Default::default()
    };
    let result = match admin.app.token(&admin.tenant, req).await {
        Ok(TokenAnswer::Client(t)) => {
            let body = json!({"client_id": client_id, "client_secret": secret, "audience": audience, "grant_type": "client_credentials"});
            let curl = format!(
                "curl --request POST \\\n  --url https://{}/oauth/token \\\n  --header 'content-type: application/json' \\\n  --data '{}'",
                admin.tenant.domain, body
            );
            format!(
                r#"<h3>Response</h3>{}<h3>Sending the request yourself</h3><pre id="curl">{}</pre>"#,
                pretty(
                    &json!({"access_token": t.access_token, "expires_in": t.expires_in, "token_type": t.token_type, "scope": t.scope})
                ),
                esc(&curl)
            )
        }
        Ok(TokenAnswer::User(_)) => String::new(),
        Err(e) => alert(&format!("{}: {}", e.error, e.description)),
    };
    api_page_for(&admin, &id, StatusCode::OK, None, &result, &client_id).await
}
