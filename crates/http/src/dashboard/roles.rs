//! Roles (list, create, a role's permissions and users) and database
//! connections (password policy, brute-force protection, enabled
//! applications).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::users::policy_text;
use super::{alert, enc, message, s, see_other, Admin, Nav, Posted};
use crate::extract::AppState;
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/roles", get(roles_list).post(role_create))
        .route("/dashboard/roles/{id}", get(role_show))
        .route("/dashboard/roles/{id}/permissions", post(role_add_permission))
        .route("/dashboard/roles/{id}/permissions/remove", post(role_remove_permission))
        .route("/dashboard/connections", get(connections_list))
        .route("/dashboard/connections/{id}", get(connection_show).post(connection_save))
}

async fn roles_list(admin: Admin) -> Response {
    roles_page(&admin, StatusCode::OK, None).await
}

async fn roles_page(admin: &Admin, status: StatusCode, error: Option<&str>) -> Response {
    let roles = match admin.app.list_roles(&admin.tenant, None, 0, 100).await {
        Ok(r) => r,
        Err(e) => return admin.error(Some(Nav::Roles), &e),
    };
    let table = if roles.items.is_empty() {
        r#"<p class="empty">There are no roles yet.</p>"#.to_string()
    } else {
        let rows: String = roles
            .items
            .iter()
            .map(|r| {
                format!(
                    r#"<tr><td><a href="/dashboard/roles/{}">{}</a></td><td>{}</td></tr>"#,
                    esc(&enc(&r.id)),
                    esc(&r.name),
                    esc(r.description.as_deref().unwrap_or(""))
                )
            })
            .collect();
        format!(
            r#"<table class="wide" id="roles"><thead><tr><th scope="col">Name</th><th scope="col">Description</th></tr></thead><tbody>{rows}</tbody></table><p class="hint">{} roles; the first 100 are shown.</p>"#,
            roles.total
        )
    };
    let body = format!(
        r#"{err}{table}<h2>Create role</h2>
<form method="post" action="/dashboard/roles" class="row">{csrf}
<div><label for="name">Name</label><input id="name" name="name" type="text" required></div>
<div><label for="description">Description</label><input id="description" name="description" type="text"></div>
<div><button type="submit" id="create-role">Create</button></div>
</form>"#,
        err = error.map(alert).unwrap_or_default(),
        csrf = admin.csrf_field(),
    );
    admin.page_status(status, Some(Nav::Roles), "Roles", &body)
}

async fn role_create(Posted { admin, f }: Posted) -> Response {
    let mut body = json!({"name": f.get("name").trim()});
    if !f.get("description").trim().is_empty() {
        body["description"] = json!(f.get("description").trim());
    }
    let caller = admin.act("POST", "/api/v2/roles", "/api/v2/roles");
    match admin.app.create_role(&admin.tenant, &caller, &body).await {
        Ok(r) => see_other(&format!("/dashboard/roles/{}?ok=role_created", enc(&r.id))),
        Err(e) => roles_page(&admin, StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn role_show(admin: Admin, Path(id): Path<String>) -> Response {
    role_page(&admin, &id, StatusCode::OK, None).await
}

async fn role_page(admin: &Admin, id: &str, status: StatusCode, error: Option<&str>) -> Response {
    let t = &admin.tenant;
    let loaded = async {
        let role = admin.app.get_role(t, id).await?;
        let perms = admin.app.role_permissions(t, id, 0, 100).await?;
        let users = admin.app.role_users(t, id, 0, 50).await?;
        let (apis, _) = admin.app.list_resource_servers(t, &[], 0, 100).await?;
        Ok::<_, castellan_service::ServiceError>((role, perms, users, apis))
    };
    let (role, perms, users, apis) = match loaded.await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Roles), &e),
    };
    let href = format!("/dashboard/roles/{}", enc(id));
    let perm_rows: String = perms
        .items
        .iter()
        .map(|p| {
            format!(
                r#"<tr><td><code>{}</code></td><td>{}</td><td><form class="inline" method="post" action="{}/permissions/remove">{}<input type="hidden" name="api" value="{}"><input type="hidden" name="permission" value="{}"><button type="submit" class="secondary">Remove</button></form></td></tr>"#,
                esc(&p.permission_name),
                esc(&p.resource_server_name),
                esc(&href),
                admin.csrf_field(),
                esc(&p.resource_server_identifier),
                esc(&p.permission_name)
            )
        })
        .collect();
    let perm_table = if perms.items.is_empty() {
        r#"<p class="empty">This role has no permissions.</p>"#.to_string()
    } else {
        format!(
            r#"<table id="role-permissions"><thead><tr><th scope="col">Permission</th><th scope="col">API</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>{perm_rows}</tbody></table>"#
        )
    };
    let mut options = String::new();
    for api in apis.iter().filter(|a| a.get("is_system") != Some(&json!(true))) {
        for sc in api.get("scopes").and_then(Value::as_array).into_iter().flatten() {
            let v = format!("{} {}", s(api, "identifier"), s(sc, "value"));
            options.push_str(&format!(
                r#"<option value="{}">{} — {}</option>"#,
                esc(&v),
                esc(s(sc, "value")),
                esc(s(api, "name"))
            ));
        }
    }
    let add = if options.is_empty() {
        r#"<p class="hint">Define scopes on an API to grant them here.</p>"#.to_string()
    } else {
        format!(
            r#"<form method="post" action="{}/permissions" class="row">{}<div><label for="permission">Add a permission</label><select id="permission" name="permission">{options}</select></div><div><button type="submit" id="add-permission">Add</button></div></form>"#,
            esc(&href),
            admin.csrf_field()
        )
    };
    let user_rows: String = users
        .items
        .iter()
        .map(|u| {
            format!(
                r#"<li><a href="/dashboard/users/{}">{}</a></li>"#,
                esc(&enc(&u.user_id)),
                esc(u.email.as_deref().or(u.name.as_deref()).unwrap_or(&u.user_id))
            )
        })
        .collect();
    let users_list = if users.items.is_empty() {
        r#"<p class="empty">No user has this role. Assign it from a user's page.</p>"#.to_string()
    } else {
        format!(r#"<ul id="role-users">{user_rows}</ul><p class="hint">{} users.</p>"#, users.total)
    };
    let body = format!(
        r#"{err}<p>{desc}</p><h2>Permissions</h2>{perm_table}{add}<h2>Users</h2>{users_list}{danger}"#,
        danger = super::deletes::danger_zone(&href, "Delete role"),
        err = error.map(alert).unwrap_or_default(),
        desc = esc(role.description.as_deref().unwrap_or("")),
    );
    admin.page_status(status, Some(Nav::Roles), &role.name, &body)
}

async fn role_add_permission(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let (api, name) = f.get("permission").split_once(' ').unwrap_or(("", ""));
    let body = json!({"permissions": [{"resource_server_identifier": api, "permission_name": name}]});
    let caller =
        admin.act("POST", "/api/v2/roles/{id}/permissions", &format!("/api/v2/roles/{}/permissions", enc(&id)));
    match admin.app.add_role_permissions(&admin.tenant, &caller, &id, &body).await {
        Ok(()) => see_other(&format!("/dashboard/roles/{}?ok=role_saved", enc(&id))),
        Err(e) => role_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn role_remove_permission(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let body =
        json!({"permissions": [{"resource_server_identifier": f.get("api"), "permission_name": f.get("permission")}]});
    let caller =
        admin.act("DELETE", "/api/v2/roles/{id}/permissions", &format!("/api/v2/roles/{}/permissions", enc(&id)));
    match admin.app.remove_role_permissions(&admin.tenant, &caller, &id, &body).await {
        Ok(()) => see_other(&format!("/dashboard/roles/{}?ok=role_saved", enc(&id))),
        Err(e) => role_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e))).await,
    }
}

async fn connections_list(admin: Admin) -> Response {
    let conns = match admin.app.list_connections(&admin.tenant, &[], None).await {
        Ok(c) => c,
        Err(e) => return admin.error(Some(Nav::Connections), &e),
    };
    let rows: String = conns
        .iter()
        .map(|c| {
            format!(
                r#"<tr><td><a href="/dashboard/connections/{}">{}</a></td><td>{}</td></tr>"#,
                esc(&enc(s(c, "id"))),
                esc(s(c, "name")),
                esc(s(c, "strategy"))
            )
        })
        .collect();
    let body = format!(
        r#"<table class="wide" id="connections"><thead><tr><th scope="col">Name</th><th scope="col">Strategy</th></tr></thead><tbody>{rows}</tbody></table>"#
    );
    admin.page(Some(Nav::Connections), "Connections", &body)
}

async fn connection_show(admin: Admin, Path(id): Path<String>) -> Response {
    connection_page(&admin, &id, StatusCode::OK, None).await
}

const POLICIES: &[&str] = &["none", "low", "fair", "good", "excellent"];

async fn connection_page(admin: &Admin, id: &str, status: StatusCode, error: Option<&str>) -> Response {
    let c = match admin.app.get_connection(&admin.tenant, id).await {
        Ok(c) => c,
        Err(e) => return admin.error(Some(Nav::Connections), &e),
    };
    let (apps, _) = match admin.app.list_clients(&admin.tenant, 0, 1000, false, |_| true).await {
        Ok(a) => a,
        Err(e) => return admin.error(Some(Nav::Connections), &e),
    };
    let current = serde_json::to_value(c.options.policy()).ok();
    let current = current.as_ref().and_then(Value::as_str).unwrap_or("good");
    let policies: String = POLICIES
        .iter()
        .map(|p| {
            let sel = if *p == current { " selected" } else { "" };
            format!(r#"<option value="{p}"{sel}>{p}</option>"#)
        })
        .collect();
    let brute = if c.options.brute_force_protection.unwrap_or(true) { " checked" } else { "" };
    let enabled: String = apps
        .iter()
        .map(|a| {
            let cid = s(a, "client_id");
            let on = if c.enabled_clients.iter().any(|e| e == cid) { " checked" } else { "" };
            format!(
                r#"<div><input type="checkbox" id="app-{cid_e}" name="enabled" value="{cid_e}"{on}> <label for="app-{cid_e}" style="display:inline">{name}</label></div>"#,
                cid_e = esc(cid),
                name = esc(s(a, "name"))
            )
        })
        .collect();
    let db = if c.is_database() {
        format!(
            r#"<label for="password_policy">Password policy</label><select id="password_policy" name="password_policy" aria-describedby="policy-hint">{policies}</select>
<p class="hint" id="policy-hint">Now: {}.</p>
<div><input type="checkbox" id="brute_force_protection" name="brute_force_protection" value="on"{brute}> <label for="brute_force_protection" style="display:inline">Brute-force protection</label></div>"#,
            esc(&policy_text(&c))
        )
    } else {
        String::new()
    };
    let body = format!(
        r#"{err}<p class="hint">Strategy {strategy}</p><form method="post" action="/dashboard/connections/{id_e}">{csrf}{db}
<fieldset><legend>Enabled applications</legend>{enabled}</fieldset>
<button type="submit" id="save-connection">Save changes</button></form>{danger}"#,
        danger = super::deletes::danger_zone(&format!("/dashboard/connections/{}", enc(id)), "Delete connection"),
        err = error.map(alert).unwrap_or_default(),
        strategy = esc(&c.strategy),
        id_e = esc(&enc(id)),
        csrf = admin.csrf_field(),
    );
    admin.page_status(status, Some(Nav::Connections), &c.name, &body)
}

async fn connection_save(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let c = match admin.app.get_connection(&admin.tenant, &id).await {
        Ok(c) => c,
        Err(e) => return admin.error(Some(Nav::Connections), &e),
    };
    let path = format!("/api/v2/connections/{}", enc(&id));
    if c.is_database() {
        let mut options = serde_json::to_value(&c.options).unwrap_or_else(|_| json!({}));
        options["password_policy"] = json!(f.get("password_policy"));
        options["brute_force_protection"] = json!(f.get("brute_force_protection") == "on");
        let caller = admin.act("PATCH", "/api/v2/connections/{id}", &path);
        if let Err(e) = admin.app.update_connection(&admin.tenant, &caller, &id, &json!({"options": options})).await {
            return connection_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e))).await;
        }
    }
    let wanted = f.all("enabled");
    let (apps, _) = match admin.app.list_clients(&admin.tenant, 0, 1000, false, |_| true).await {
        Ok(a) => a,
        Err(e) => return admin.error(Some(Nav::Connections), &e),
    };
    let changes: Vec<(String, bool)> = apps
        .iter()
        .map(|a| s(a, "client_id").to_string())
        .filter_map(|cid| {
            let on = wanted.contains(&cid);
            (on != c.enabled_clients.contains(&cid)).then_some((cid, on))
        })
        .collect();
    if !changes.is_empty() {
        let caller = admin.act("PATCH", "/api/v2/connections/{id}/clients", &format!("{path}/clients"));
        if let Err(e) = admin.app.set_connection_clients(&admin.tenant, &caller, &id, &changes).await {
            return connection_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e))).await;
        }
    }
    see_other(&format!("/dashboard/connections/{}?ok=connection_saved", enc(&id)))
}
