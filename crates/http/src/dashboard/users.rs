//! Users: the list (search with the API's `q` syntax, paging, sort), the
//! "Create user" form, and a user's page with its tabs (Details, Devices,
//! History, Raw JSON) and actions (metadata, roles, block, unblock, unlink a
//! device, delete after a confirmation).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use castellan_domain::password_policy::PolicyLevel;
use castellan_domain::tenant_model::Connection;
use castellan_service::logs::{ListLogs, LogList};
use castellan_service::users::{ListUsers, UserList};
use castellan_service::ServiceError;
use serde_json::{json, Map, Value};

use super::{alert, enc, message, pager, pretty, s, see_other, when, Admin, Nav, Posted};
use crate::extract::{AppState, QueryPairs};
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/users", get(list))
        .route("/dashboard/users/new", get(new_form).post(create))
        .route("/dashboard/users/{id}", get(show))
        .route("/dashboard/users/{id}/metadata", post(save_metadata))
        .route("/dashboard/users/{id}/block", post(block))
        .route("/dashboard/users/{id}/unblock", post(unblock))
        .route("/dashboard/users/{id}/delete", get(confirm_delete).post(delete))
        .route("/dashboard/users/{id}/devices/{token}/unlink", post(unlink))
        .route("/dashboard/users/{id}/roles", post(assign_role))
        .route("/dashboard/users/{id}/roles/remove", post(remove_role))
}

const PER_PAGE: u64 = 50;
const SORTS: &[(&str, &str)] = &[
    ("created_at:-1", "Newest first"),
    ("created_at:1", "Oldest first"),
    ("name:1", "Name"),
    ("email:1", "Email"),
    ("last_login:-1", "Latest login"),
    ("logins_count:-1", "Most logins"),
];

fn user_href(id: &str) -> String {
    format!("/dashboard/users/{}", enc(id))
}

fn api_path(id: &str) -> String {
    format!("/api/v2/users/{}", enc(id))
}

async fn list(admin: Admin, q: QueryPairs) -> Response {
    let query = q.get("q").unwrap_or("").to_string();
    let sort = q.get("sort").filter(|v| SORTS.iter().any(|(k, _)| k == v)).unwrap_or("created_at:-1").to_string();
    let page = q.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
    let params = ListUsers {
        page: Some(page),
        per_page: Some(PER_PAGE),
        include_totals: true,
        sort: Some(sort.clone()),
        q: Some(query.clone()).filter(|v| !v.trim().is_empty()),
        ..Default::default()
    };
    let options: String = SORTS
        .iter()
        .map(|(k, label)| {
            let sel = if *k == sort { " selected" } else { "" };
            format!(r#"<option value="{k}"{sel}>{label}</option>"#)
        })
        .collect();
    let search = format!(
        r#"<p><a class="button" href="/dashboard/users/new" id="create-user">Create user</a></p>
<form method="get" action="/dashboard/users" role="search" class="row">
<div><label for="q">Search users</label>
<input id="q" name="q" type="search" value="{q}" aria-describedby="q-hint" placeholder="email:&quot;jane@example.com&quot; or name:j*"></div>
<div><label for="sort">Sort by</label><select id="sort" name="sort">{options}</select></div>
<div><button type="submit" id="search">Search</button></div>
</form>
<p class="hint" id="q-hint">Lucene syntax, as in the Management API's <code>q</code>: <code>email:*@example.com</code>, <code>name:"Jane Doe"</code>, <code>app_metadata.plan:pro AND logins_count:[10 TO *]</code>.</p>"#,
        q = esc(&query),
    );
    let rows = match admin.app.list_users(&admin.tenant, &params).await {
        Ok(UserList::Totals { users, total, .. }) => Ok((users, total)),
        Ok(UserList::Array(users)) => {
            let n = users.len() as u64;
            Ok((users, n))
        }
        Err(e) => Err(e),
    };
    let body = match rows {
        Err(e) => {
            let status = match e {
                ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            let text = format!("{} Check the query syntax and try again.", message(&e));
            return admin.page_status(status, Some(Nav::Users), "Users", &format!("{search}{}", alert(&text)));
        }
        Ok((users, _)) if users.is_empty() => {
            let empty = if query.trim().is_empty() && page == 0 {
                r#"<p class="empty">There are no users yet. <a href="/dashboard/users/new">Create the first one</a>.</p>"#
            } else {
                r#"<p class="empty">No user matches this search.</p>"#
            };
            format!("{search}{empty}")
        }
        Ok((users, total)) => {
            let trs: String = users
                .iter()
                .map(|u| {
                    let id = s(u, "user_id");
                    let name = Some(s(u, "name")).filter(|n| !n.is_empty()).unwrap_or(id);
                    let conn = u["identities"][0]["connection"].as_str().unwrap_or("");
                    let blocked = if u.get("blocked") == Some(&json!(true)) {
                        r#" <span class="badge bad">blocked</span>"#
                    } else {
                        ""
                    };
                    format!(
                        r#"<tr><td><a href="{href}">{name}</a>{blocked}</td><td>{email}</td><td>{conn}</td><td>{logins}</td><td>{last}</td></tr>"#,
                        href = esc(&user_href(id)),
                        name = esc(name),
                        email = esc(s(u, "email")),
                        conn = esc(conn),
                        logins = u.get("logins_count").and_then(Value::as_i64).unwrap_or(0),
                        last = esc(Some(s(u, "last_login")).filter(|v| !v.is_empty()).unwrap_or("never")),
                    )
                })
                .collect();
            let base = format!("/dashboard/users?q={}&sort={}&", enc(&query), enc(&sort));
            format!(
                r#"{search}<p class="hint" aria-live="polite">{total} users</p>
<table class="wide" id="users"><caption class="skip">Users</caption><thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Connection</th><th scope="col">Logins</th><th scope="col">Last login</th></tr></thead>
<tbody>{trs}</tbody></table>{}"#,
                pager(&base, page, PER_PAGE, total)
            )
        }
    };
    admin.page(Some(Nav::Users), "Users", &body)
}

/// What a connection's password policy asks for, in words.
pub(crate) fn policy_text(c: &Connection) -> String {
    let base = match c.options.policy() {
        PolicyLevel::None => "any non-empty password",
        PolicyLevel::Low => "at least 6 characters",
        PolicyLevel::Fair => "at least 8 characters, with lower case letters, upper case letters and digits",
        PolicyLevel::Good => {
            "at least 8 characters, with three of: lower case letters, upper case letters, digits, special characters"
        }
        PolicyLevel::Excellent => "at least 10 characters, with three of: lower case letters, upper case letters, digits, special characters; no character three times in a row",
    };
    match c.options.min_length() {
        Some(n) => format!("{base} (and at least {n} characters)"),
        None => base.to_string(),
    }
}

async fn database_connections(admin: &Admin) -> Result<Vec<Connection>, ServiceError> {
    let all = admin.app.list_connections(&admin.tenant, &["auth0".to_string()], None).await?;
    Ok(all.into_iter().filter_map(|v| serde_json::from_value::<Connection>(v).ok()).collect())
}

async fn new_form(admin: Admin) -> Response {
    create_page(&admin, StatusCode::OK, None, "", "").await
}

async fn create_page(admin: &Admin, status: StatusCode, error: Option<&str>, email: &str, chosen: &str) -> Response {
    let conns = match database_connections(admin).await {
        Ok(c) => c,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    if conns.is_empty() {
        let body = r#"<p class="empty">There is no database connection to create users in. <a href="/dashboard/connections">See connections</a>.</p>"#;
        return admin.page(Some(Nav::Users), "Create user", body);
    }
    let options: String = conns
        .iter()
        .map(|c| {
            let sel = if c.name == chosen { " selected" } else { "" };
            format!(r#"<option value="{n}"{sel}>{n}</option>"#, n = esc(&c.name))
        })
        .collect();
    let policies: String =
        conns.iter().map(|c| format!("<li><strong>{}</strong>: {}</li>", esc(&c.name), esc(&policy_text(c)))).collect();
    let body = format!(
        r#"{err}<form method="post" action="/dashboard/users/new" novalidate>{csrf}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="off" required value="{email}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="policy">
<div class="hint" id="policy">Password policy of each connection:<ul>{policies}</ul></div>
<label for="repeat">Repeat password</label>
<input id="repeat" name="repeat" type="password" autocomplete="new-password" required>
<label for="connection">Connection</label>
<select id="connection" name="connection">{options}</select>
<div><button type="submit" id="create">Create</button> <a class="button secondary" href="/dashboard/users">Cancel</a></div>
</form>"#,
        err = error.map(alert).unwrap_or_default(),
        csrf = admin.csrf_field(),
        email = esc(email),
    );
    admin.page_status(status, Some(Nav::Users), "Create user", &body)
}

async fn create(Posted { admin, f }: Posted) -> Response {
    let (email, password, connection) = (f.get("email").trim(), f.get("password"), f.get("connection"));
    if email.is_empty() || password.is_empty() {
        return create_page(&admin, StatusCode::BAD_REQUEST, Some("Enter an email and a password."), email, connection)
            .await;
    }
    if password != f.get("repeat") {
        return create_page(&admin, StatusCode::BAD_REQUEST, Some("The passwords do not match."), email, connection)
            .await;
    }
    let body = json!({"connection": connection, "email": email, "password": password});
    let caller = admin.act("POST", "/api/v2/users", "/api/v2/users");
    match admin.app.create_user(&admin.tenant, &caller, &body).await {
        Ok(u) => see_other(&format!("{}?ok=user_created", user_href(s(&u, "user_id")))),
        Err(e) => {
            let m = match &e {
                ServiceError::BadRequest { code: Some("invalid_password"), .. } => {
                    "The password is too weak for this connection's policy.".to_string()
                }
                _ => message(&e),
            };
            create_page(&admin, StatusCode::BAD_REQUEST, Some(&m), email, connection).await
        }
    }
}

const TABS: &[(&str, &str)] =
    &[("details", "Details"), ("devices", "Devices"), ("history", "History"), ("raw", "Raw JSON")];

async fn show(admin: Admin, Path(id): Path<String>, q: QueryPairs) -> Response {
    let tab = q.get("tab").filter(|t| TABS.iter().any(|(k, _)| k == t)).unwrap_or("details").to_string();
    user_page(&admin, &id, &tab, StatusCode::OK, None).await
}

async fn user_page(admin: &Admin, id: &str, tab: &str, status: StatusCode, error: Option<&str>) -> Response {
    let u = match admin.app.get_user(&admin.tenant, id, &[], true).await {
        Ok(u) => u,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let href = user_href(id);
    let tabs: String = TABS
        .iter()
        .map(|(k, label)| {
            let cur = if *k == tab { r#" aria-current="page""# } else { "" };
            format!(r#"<li><a href="{}?tab={k}" id="tab-{k}"{cur}>{label}</a></li>"#, esc(&href))
        })
        .collect();
    let content = match tab {
        "devices" => devices(admin, id).await,
        "history" => history(admin, id).await,
        "raw" => Ok(pretty(&u)),
        _ => details(admin, id, &u).await,
    };
    let content = match content {
        Ok(c) => c,
        Err(e) => alert(&message(&e)),
    };
    let blocked = u.get("blocked") == Some(&json!(true));
    let actions = format!(
        r#"<div class="actions"><a class="button secondary" href="{href_e}/edit" id="edit-user">Edit profile</a> <a class="button secondary" href="{href_e}/password" id="change-password">Change password</a> {}{}<a class="button secondary" href="{href_e}/delete" id="delete-user">Delete user</a></div>"#,
        if blocked {
            admin.button(&format!("{href}/unblock"), "Unblock user", "secondary", "unblock-user")
        } else {
            admin.button(&format!("{href}/block"), "Block user", "secondary", "block-user")
        },
        if blocked { r#" <span class="badge bad">This user is blocked</span> "# } else { " " },
        href_e = esc(&href),
    );
    let title = Some(s(&u, "name")).filter(|n| !n.is_empty()).unwrap_or(id).to_string();
    let body = format!(
        r#"<p class="hint">{uid}</p>{actions}{err}<ul class="tabs" role="list">{tabs}</ul>{content}"#,
        uid = esc(id),
        err = error.map(alert).unwrap_or_default(),
    );
    admin.page_status(status, Some(Nav::Users), &title, &body)
}

fn metadata_text(u: &Value, key: &str) -> String {
    serde_json::to_string_pretty(u.get(key).unwrap_or(&json!({}))).unwrap_or_else(|_| "{}".into())
}

async fn details(admin: &Admin, id: &str, u: &Value) -> Result<String, ServiceError> {
    let href = user_href(id);
    let identities: String = u["identities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| format!("<li>{} ({})</li>", esc(s(i, "connection")), esc(s(i, "provider"))))
        .collect();
    let field = |label: &str, key: &str| {
        let v = match u.get(key) {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Null) | None => "—".into(),
            Some(other) => other.to_string(),
        };
        format!("<dt>{}</dt><dd>{}</dd>", esc(label), esc(&v))
    };
    let identity = [
        ("Email", "email"),
        ("Email verified", "email_verified"),
        ("Name", "name"),
        ("Given name", "given_name"),
        ("Family name", "family_name"),
        ("Nickname", "nickname"),
        ("Picture", "picture"),
        ("Username", "username"),
        ("Phone", "phone_number"),
        ("Created", "created_at"),
        ("Updated", "updated_at"),
        ("Last login", "last_login"),
        ("Last IP", "last_ip"),
        ("Logins", "logins_count"),
    ]
    .iter()
    .map(|(l, k)| field(l, k))
    .collect::<String>();
    let roles = admin.app.user_roles(&admin.tenant, id, 0, 100).await?;
    let all_roles = admin.app.list_roles(&admin.tenant, None, 0, 100).await?;
    let role_rows: String = roles
        .items
        .iter()
        .map(|r| {
            format!(
                r#"<tr><td><a href="/dashboard/roles/{}">{}</a></td><td>{}</td><td><form class="inline" method="post" action="{}/roles/remove">{}<input type="hidden" name="role_id" value="{}"><button type="submit" class="secondary">Remove</button></form></td></tr>"#,
                esc(&enc(&r.id)),
                esc(&r.name),
                esc(r.description.as_deref().unwrap_or("")),
                esc(&href),
                admin.csrf_field(),
                esc(&r.id)
            )
        })
        .collect();
    let roles_table = if roles.items.is_empty() {
        r#"<p class="empty">This user has no roles.</p>"#.to_string()
    } else {
        format!(
            r#"<table id="user-roles"><thead><tr><th scope="col">Role</th><th scope="col">Description</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>{role_rows}</tbody></table>"#
        )
    };
    let assignable: String = all_roles
        .items
        .iter()
        .filter(|r| !roles.items.iter().any(|x| x.id == r.id))
        .map(|r| format!(r#"<option value="{}">{}</option>"#, esc(&r.id), esc(&r.name)))
        .collect();
    let assign = if assignable.is_empty() {
        String::new()
    } else {
        format!(
            r#"<form method="post" action="{}/roles" class="row">{}<div><label for="role_id">Assign a role</label><select id="role_id" name="role_id">{assignable}</select></div><div><button type="submit" id="assign-role">Assign</button></div></form>"#,
            esc(&href),
            admin.csrf_field()
        )
    };
    Ok(format!(
        r#"<h2>User identity</h2><dl class="kv">{identity}<dt>Connections</dt><dd><ul>{identities}</ul></dd></dl>
<h2>Metadata</h2>
<form method="post" action="{href_e}/metadata">{csrf}
<label for="user_metadata">user_metadata</label>
<textarea id="user_metadata" name="user_metadata" spellcheck="false" aria-describedby="md-hint">{um}</textarea>
<label for="app_metadata">app_metadata</label>
<textarea id="app_metadata" name="app_metadata" spellcheck="false" aria-describedby="md-hint">{am}</textarea>
<p class="hint" id="md-hint">Each must be a JSON object. Keys you remove are removed from the user.</p>
<button type="submit" id="save-metadata">Save metadata</button>
</form>
<h2>Roles</h2>{roles_table}{assign}"#,
        href_e = esc(&href),
        csrf = admin.csrf_field(),
        um = esc(&metadata_text(u, "user_metadata")),
        am = esc(&metadata_text(u, "app_metadata")),
    ))
}

async fn devices(admin: &Admin, id: &str) -> Result<String, ServiceError> {
    let (tokens, _) = admin.app.store.user_refresh_tokens(admin.tenant.id, Some(id), None, 0, 100).await?;
    if tokens.is_empty() {
        return Ok(r#"<p class="empty">This user has no linked devices (no live refresh tokens).</p>"#.into());
    }
    let mut rows = String::new();
    for t in &tokens {
        let app = admin.app.client_name(&admin.tenant, &t.client_id).await.unwrap_or_else(|| t.client_id.clone());
        let action = format!("{}/devices/{}/unlink", user_href(id), enc(&t.id));
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(s(&t.device, "last_user_agent")),
            esc(s(&t.device, "last_ip")),
            esc(&app),
            esc(&when(Some(t.created_at))),
            esc(&when(t.last_used_at)),
            admin.button(&action, "Unlink", "secondary", &format!("unlink-{}", esc(&t.id)))
        ));
    }
    Ok(format!(
        r#"<table class="wide" id="devices"><thead><tr><th scope="col">Device</th><th scope="col">Last IP</th><th scope="col">Application</th><th scope="col">Linked</th><th scope="col">Last used</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>{rows}</tbody></table>"#
    ))
}

async fn history(admin: &Admin, id: &str) -> Result<String, ServiceError> {
    let p = ListLogs { user_id: Some(id.to_string()), per_page: Some(50), page: Some(0), ..Default::default() };
    let logs = match admin.app.list_logs(&admin.tenant, &p).await? {
        LogList::Array(l) => l,
        LogList::Totals { logs, .. } => logs,
    };
    if logs.is_empty() {
        return Ok(r#"<p class="empty">No events for this user.</p>"#.into());
    }
    Ok(super::logs::log_table(&logs))
}

/// The metadata patch that makes the stored object equal `new`: its keys,
/// and null for each key that disappeared.
fn replacement(old: Option<&Value>, new: &Map<String, Value>) -> Value {
    let mut patch = new.clone();
    if let Some(Value::Object(old)) = old {
        for k in old.keys() {
            if !new.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    Value::Object(patch)
}

async fn save_metadata(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let current = match admin.app.get_user(&admin.tenant, &id, &[], true).await {
        Ok(u) => u,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let mut body = Map::new();
    for key in ["user_metadata", "app_metadata"] {
        let text = f.get(key).trim();
        let text = if text.is_empty() { "{}" } else { text };
        let parsed = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                let m = format!("{key} must be a JSON object, like {{\"theme\": \"dark\"}}.");
                return user_page(&admin, &id, "details", StatusCode::BAD_REQUEST, Some(&m)).await;
            }
            Err(e) => {
                let m = format!("{key} is not valid JSON: {e}.");
                return user_page(&admin, &id, "details", StatusCode::BAD_REQUEST, Some(&m)).await;
            }
        };
        if current.get(key).cloned().unwrap_or_else(|| json!({})) != Value::Object(parsed.clone()) {
            body.insert(key.into(), replacement(current.get(key), &parsed));
        }
    }
    if body.is_empty() {
        return see_other(&format!("{}?ok=user_saved", user_href(&id)));
    }
    let caller = admin.act("PATCH", "/api/v2/users/{id}", &api_path(&id));
    match admin.app.update_user(&admin.tenant, &caller, &id, &Value::Object(body)).await {
        Ok(_) => see_other(&format!("{}?ok=user_saved", user_href(&id))),
        Err(e) => user_page(&admin, &id, "details", StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn set_blocked(admin: Admin, id: String, blocked: bool) -> Response {
    let caller = admin.act("PATCH", "/api/v2/users/{id}", &api_path(&id));
    match admin.app.update_user(&admin.tenant, &caller, &id, &json!({"blocked": blocked})).await {
        Ok(_) => {
            let ok = if blocked { "user_blocked" } else { "user_unblocked" };
            see_other(&format!("{}?ok={ok}", user_href(&id)))
        }
        Err(e) => admin.error(Some(Nav::Users), &e),
    }
}

async fn block(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    set_blocked(admin, id, true).await
}

async fn unblock(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    set_blocked(admin, id, false).await
}

async fn confirm_delete(admin: Admin, Path(id): Path<String>) -> Response {
    let u = match admin.app.get_user(&admin.tenant, &id, &[], true).await {
        Ok(u) => u,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let who = Some(s(&u, "email")).filter(|e| !e.is_empty()).unwrap_or(&id);
    let href = user_href(&id);
    let body = format!(
        r#"<p class="alert" role="alert">You are about to delete <strong>{who}</strong>. This cannot be undone: the user, their metadata, roles and sessions are removed for good.</p>
<form method="post" action="{action}">{csrf}<button type="submit" class="danger" id="confirm-delete">Yes, delete it</button> <a class="button secondary" href="{back}">Cancel</a></form>"#,
        who = esc(who),
        action = esc(&format!("{href}/delete")),
        csrf = admin.csrf_field(),
        back = esc(&href),
    );
    admin.page(Some(Nav::Users), "Delete user", &body)
}

async fn delete(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    let caller = admin.act("DELETE", "/api/v2/users/{id}", &api_path(&id));
    match admin.app.delete_user(&admin.tenant, &caller, &id).await {
        Ok(()) => see_other("/dashboard/users?ok=user_deleted"),
        Err(e) => admin.error(Some(Nav::Users), &e),
    }
}

async fn unlink(Path((id, token)): Path<(String, String)>, Posted { admin, .. }: Posted) -> Response {
    let caller = admin.act("DELETE", "/api/v2/refresh-tokens/{id}", &format!("/api/v2/refresh-tokens/{}", enc(&token)));
    match admin.app.revoke_user_refresh_token(&admin.tenant, &caller, &id, &token).await {
        Ok(()) => see_other(&format!("{}?tab=devices&ok=device_unlinked", user_href(&id))),
        Err(e) => admin.error(Some(Nav::Users), &e),
    }
}

async fn assign_role(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let caller = admin.act("POST", "/api/v2/users/{id}/roles", &format!("{}/roles", api_path(&id)));
    let body = json!({"roles": [f.get("role_id")]});
    match admin.app.assign_user_roles(&admin.tenant, &caller, &id, &body).await {
        Ok(()) => see_other(&format!("{}?ok=roles_assigned", user_href(&id))),
        Err(e) => user_page(&admin, &id, "details", StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn remove_role(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let caller = admin.act("DELETE", "/api/v2/users/{id}/roles", &format!("{}/roles", api_path(&id)));
    let body = json!({"roles": [f.get("role_id")]});
    match admin.app.remove_user_roles(&admin.tenant, &caller, &id, &body).await {
        Ok(()) => see_other(&format!("{}?ok=role_removed", user_href(&id))),
        Err(e) => user_page(&admin, &id, "details", StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}
