//! An application's "APIs" tab: which APIs it may call with the
//! client-credentials grant, and with which permissions (Auth0's client
//! grants). Authorize, change the chosen scopes and revoke go through the
//! same service functions as `/api/v2/client-grants`.
//!
//! Rule beyond the API: the last authorization for the Management API
//! cannot be revoked here (the tenant would have no application left that
//! can manage it); the Management API itself says so.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use castellan_service::{DocFilter, ServiceError};
use serde_json::{json, Value};

use super::apps::app_tabs;
use super::{alert, enc, message, s, see_other, Admin, Nav, Posted};
use crate::extract::AppState;
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/applications/{id}/apis", get(show).post(authorize))
        .route("/dashboard/applications/{id}/apis/{grant}", post(update))
        .route("/dashboard/applications/{id}/apis/{grant}/revoke", get(confirm_revoke).post(revoke))
}

fn tab_href(id: &str) -> String {
    format!("/dashboard/applications/{}/apis", enc(id))
}

fn grant_path(grant: &str) -> String {
    format!("/api/v2/client-grants/{}", enc(grant))
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The grants of application `id`, each with its audience.
async fn grants_of(admin: &Admin, id: &str) -> Result<Vec<Value>, ServiceError> {
    let filter = DocFilter { audience: None, client_id: Some(id.to_string()) };
    Ok(admin.app.list_client_grants(&admin.tenant, &filter, |_| true, 0, 1000).await?.0)
}

/// A grant of application `id` (another application's, or another
/// tenant's, is "not found").
async fn own_grant(admin: &Admin, id: &str, grant: &str) -> Result<Value, ServiceError> {
    let g = admin.app.get_client_grant(&admin.tenant, grant).await?;
    if s(&g, "client_id") != id {
        return Err(castellan_service::apps::grant_not_found());
    }
    Ok(g)
}

async fn show(admin: Admin, Path(id): Path<String>) -> Response {
    page(&admin, &id, StatusCode::OK, None).await
}

async fn page(admin: &Admin, id: &str, status: StatusCode, error: Option<&str>) -> Response {
    let t = &admin.tenant;
    let loaded = async {
        let app = admin.app.get_client(t, id, false).await?;
        let grants = grants_of(admin, id).await?;
        let (apis, _) = admin.app.list_resource_servers(t, &[], 0, 1000).await?;
        Ok::<_, ServiceError>((app, grants, apis))
    };
    let (app, grants, apis) = match loaded.await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    let href = tab_href(id);
    let can_cc = strings(&app, "grant_types").iter().any(|g| g == "client_credentials");
    let hint = if can_cc {
        r#"<p class="hint">An authorized application gets tokens for the API with the client-credentials grant, holding the permissions checked here. Try it on the API's Test tab.</p>"#.to_string()
    } else {
        r#"<p class="alert" role="alert">This application does not have the <code>client_credentials</code> grant type: it cannot get tokens for these APIs until you add it on the Settings tab.</p>"#.to_string()
    };
    let mut sections = String::new();
    for (n, api) in apis.iter().enumerate() {
        let audience = s(api, "identifier");
        let grant = grants.iter().find(|g| s(g, "audience") == audience);
        let granted = grant.map(|g| strings(g, "scope")).unwrap_or_default();
        let boxes: String = api
            .get("scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(k, sc)| {
                let value = s(sc, "value");
                let checked = if granted.iter().any(|g| g == value) { " checked" } else { "" };
                let desc = s(sc, "description");
                let desc = if desc.is_empty() { String::new() } else { format!(r#" <span class="hint">{}</span>"#, esc(desc)) };
                format!(
                    r#"<div><input type="checkbox" id="scope-{n}-{k}" name="scope" value="{v}"{checked}> <label for="scope-{n}-{k}" style="display:inline"><code>{v}</code></label>{desc}</div>"#,
                    v = esc(value)
                )
            })
            .collect();
        let boxes = if boxes.is_empty() {
            r#"<p class="hint">This API defines no permissions: an authorization gives tokens without scopes.</p>"#
                .to_string()
        } else {
            format!(r#"<fieldset><legend>Permissions</legend><div class="scopes">{boxes}</div></fieldset>"#)
        };
        let (state, form) = match grant {
            Some(g) => {
                let gid = s(g, "id");
                let action = format!("{href}/{}", enc(gid));
                (
                    format!(r#"<span class="badge">Authorized</span> {} of the permissions"#, granted.len()),
                    format!(
                        r#"<form method="post" action="{a}">{csrf}{boxes}<button type="submit" id="save-grant-{n}">Save permissions</button> <a class="button secondary" href="{a}/revoke" id="revoke-grant-{n}">Revoke authorization</a></form>"#,
                        a = esc(&action),
                        csrf = admin.csrf_field(),
                    ),
                )
            }
            None => (
                r#"<span class="badge bad">Not authorized</span>"#.to_string(),
                format!(
                    r#"<form method="post" action="{a}">{csrf}<input type="hidden" name="audience" value="{aud}">{boxes}<button type="submit" id="authorize-{n}">Authorize</button></form>"#,
                    a = esc(&href),
                    csrf = admin.csrf_field(),
                    aud = esc(audience),
                ),
            ),
        };
        let open = if grant.is_some() { " open" } else { "" };
        sections.push_str(&format!(
            r#"<details class="api-grant" id="api-{n}" data-audience="{aud}"{open}><summary><strong>{name}</strong> <code>{aud}</code> {state}</summary>{form}</details>"#,
            name = esc(s(api, "name")),
            aud = esc(audience),
        ));
    }
    let body = format!(
        r#"{tabs}{err}{hint}{sections}"#,
        tabs = app_tabs(id, "apis"),
        err = error.map(alert).unwrap_or_default(),
    );
    admin.page_status(status, Some(Nav::Applications), s(&app, "name"), &body)
}

/// The checked scopes, each one of the API's (a forged one is refused).
async fn chosen_scopes(admin: &Admin, audience: &str, posted: Vec<String>) -> Result<Vec<String>, String> {
    let api = match admin.app.find_resource_server(&admin.tenant, audience).await {
        Ok(a) => a,
        Err(e) => return Err(message(&e)),
    };
    if api.identifier != audience {
        return Err(message(&castellan_service::apis::api_not_found()));
    }
    for p in &posted {
        if !api.scopes.iter().any(|sc| &sc.value == p) {
            return Err(format!("{} is not a permission of the API {}.", p, api.name));
        }
    }
    let mut out = posted;
    out.dedup();
    Ok(out)
}

async fn authorize(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let audience = f.get("audience").to_string();
    let scopes = match chosen_scopes(&admin, &audience, f.all("scope")).await {
        Ok(s) => s,
        Err(m) => return page(&admin, &id, StatusCode::BAD_REQUEST, Some(&m)).await,
    };
    let caller = admin.act("POST", "/api/v2/client-grants", "/api/v2/client-grants");
    let body = json!({"client_id": id, "audience": audience, "scope": scopes});
    match admin.app.create_client_grant(&admin.tenant, &caller, &body).await {
        Ok(_) => see_other(&format!("{}?ok=grant_created", tab_href(&id))),
        Err(e @ ServiceError::NotFound { code: "inexistent_client", .. }) => admin.error(Some(Nav::Applications), &e),
        Err(e) => page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn update(Path((id, grant)): Path<(String, String)>, Posted { admin, f }: Posted) -> Response {
    let g = match own_grant(&admin, &id, &grant).await {
        Ok(g) => g,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    let scopes = match chosen_scopes(&admin, s(&g, "audience"), f.all("scope")).await {
        Ok(s) => s,
        Err(m) => return page(&admin, &id, StatusCode::BAD_REQUEST, Some(&m)).await,
    };
    let caller = admin.act("PATCH", "/api/v2/client-grants/{id}", &grant_path(&grant));
    match admin.app.update_client_grant(&admin.tenant, &caller, &grant, &json!({"scope": scopes})).await {
        Ok(_) => see_other(&format!("{}?ok=grant_saved", tab_href(&id))),
        Err(e) => page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

/// Why this grant may not be revoked here, if it may not.
async fn keep_reason(admin: &Admin, g: &Value) -> Result<Option<String>, ServiceError> {
    let audience = s(g, "audience");
    if audience != admin.tenant.management_audience {
        return Ok(None);
    }
    let filter = DocFilter { audience: Some(audience.to_string()), client_id: None };
    let (_, total) = admin.app.list_client_grants(&admin.tenant, &filter, |_| true, 0, 2).await?;
    Ok((total <= 1).then(|| {
        "This is the only application authorized for the Management API: revoking it would leave the tenant with no application that can manage it. Authorize another application first.".to_string()
    }))
}

async fn confirm_revoke(admin: Admin, Path((id, grant)): Path<(String, String)>) -> Response {
    let loaded = async {
        let g = own_grant(&admin, &id, &grant).await?;
        let app = admin.app.get_client(&admin.tenant, &id, false).await?;
        let reason = keep_reason(&admin, &g).await?;
        Ok::<_, ServiceError>((g, app, reason))
    };
    let (g, app, reason) = match loaded.await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    let back = tab_href(&id);
    let body = match reason {
        Some(r) => format!(r#"{}<p><a class="button secondary" href="{}">Back</a></p>"#, alert(&r), esc(&back)),
        None => format!(
            r#"<p class="alert" role="alert">You are about to revoke the authorization of <strong>{app}</strong> for <code>{aud}</code>. This cannot be undone: the application gets no new tokens for this API (tokens already issued stay valid until they expire). You can authorize it again later, choosing its permissions anew.</p>
<form method="post" action="{action}">{csrf}<button type="submit" class="danger" id="confirm-revoke">Yes, revoke it</button> <a class="button secondary" href="{back}">Cancel</a></form>"#,
            app = esc(s(&app, "name")),
            aud = esc(s(&g, "audience")),
            action = esc(&format!("{back}/{}/revoke", enc(&grant))),
            csrf = admin.csrf_field(),
            back = esc(&back),
        ),
    };
    admin.page(Some(Nav::Applications), "Revoke authorization", &body)
}

async fn revoke(Path((id, grant)): Path<(String, String)>, Posted { admin, .. }: Posted) -> Response {
    let g = match own_grant(&admin, &id, &grant).await {
        Ok(g) => g,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    match keep_reason(&admin, &g).await {
        Ok(Some(r)) => return page(&admin, &id, StatusCode::BAD_REQUEST, Some(&r)).await,
        Ok(None) => {}
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    }
    let caller = admin.act("DELETE", "/api/v2/client-grants/{id}", &grant_path(&grant));
    match admin.app.delete_client_grant(&admin.tenant, &caller, &grant).await {
        Ok(()) => see_other(&format!("{}?ok=grant_revoked", tab_href(&id))),
        Err(e) => admin.error(Some(Nav::Applications), &e),
    }
}
