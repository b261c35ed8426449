//! Deleting applications, APIs, roles and connections: each first shows a
//! confirmation page that says what goes with it and that it cannot be
//! undone, then posts to the same service function as the Management API's
//! DELETE.
//!
//! Refused, with the reason on the confirmation page:
//! - the Management API (a system API; the API refuses it too);
//! - an application authorized for the Management API (the tenant's admin
//!   application is): revoke that on its APIs tab first. Together with the
//!   APIs tab keeping the last such authorization, the tenant always keeps
//!   an application that can call the Management API.

use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use castellan_service::{DocFilter, ServiceError};

use super::{enc, s, see_other, Admin, Nav, Posted};
use crate::extract::AppState;
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/applications/{id}/delete", get(app_confirm).post(app_delete))
        .route("/dashboard/apis/{id}/delete", get(api_confirm).post(api_delete))
        .route("/dashboard/roles/{id}/delete", get(role_confirm).post(role_delete))
        .route("/dashboard/connections/{id}/delete", get(connection_confirm).post(connection_delete))
}

/// The "Danger zone" at the end of a page: a link to the confirmation.
pub(super) fn danger_zone(href: &str, label: &str) -> String {
    format!(
        r#"<h2>Danger zone</h2><p><a class="button secondary" href="{}/delete" id="delete">{}</a></p>"#,
        esc(href),
        esc(label)
    )
}

/// What a confirmation page needs.
struct Confirm<'a> {
    nav: Nav,
    title: &'a str,
    /// The page of the thing (Cancel goes back there).
    href: String,
    /// Escaped HTML: "the application <strong>x</strong>".
    what: String,
    /// What goes with it.
    consequences: &'a str,
    /// Why it may not be deleted, if it may not.
    refused: Option<String>,
}

fn confirm_page(admin: &Admin, c: Confirm<'_>) -> Response {
    let body = match c.refused {
        Some(reason) => format!(
            r#"<p class="alert" role="alert" id="error">{} cannot be deleted. {}</p><p><a class="button secondary" href="{}">Back</a></p>"#,
            c.what,
            esc(&reason),
            esc(&c.href)
        ),
        None => format!(
            r#"<p class="alert" role="alert">You are about to delete {what}. This cannot be undone: {consequences}</p>
<form method="post" action="{action}">{csrf}<button type="submit" class="danger" id="confirm-delete">Yes, delete it</button> <a class="button secondary" href="{back}">Cancel</a></form>"#,
            what = c.what,
            consequences = esc(c.consequences),
            action = esc(&format!("{}/delete", c.href)),
            csrf = admin.csrf_field(),
            back = esc(&c.href),
        ),
    };
    admin.page(Some(c.nav), c.title, &body)
}

/// Refused with the reason as a page (a forged post past the confirmation).
fn refused_page(admin: &Admin, nav: Nav, reason: &str) -> Response {
    admin.error(Some(nav), &ServiceError::bad_request(reason.to_string(), Some("operation_not_supported")))
}

fn app_href(id: &str) -> String {
    format!("/dashboard/applications/{}", enc(id))
}

/// Why application `id` may not be deleted here, if it may not.
async fn app_refusal(admin: &Admin, id: &str) -> Result<Option<String>, ServiceError> {
    let filter =
        DocFilter { audience: Some(admin.tenant.management_audience.clone()), client_id: Some(id.to_string()) };
    let (_, n) = admin.app.list_client_grants(&admin.tenant, &filter, |_| true, 0, 1).await?;
    Ok((n > 0).then(|| {
        "It is authorized for the Management API (as the tenant's admin application is). Revoke that authorization on its APIs tab first; the last one cannot be revoked.".to_string()
    }))
}

async fn app_confirm(admin: Admin, Path(id): Path<String>) -> Response {
    let loaded = async {
        let a = admin.app.get_client(&admin.tenant, &id, false).await?;
        Ok::<_, ServiceError>((a, app_refusal(&admin, &id).await?))
    };
    let (a, refused) = match loaded.await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    };
    let c = Confirm {
        nav: Nav::Applications,
        title: "Delete application",
        href: app_href(&id),
        what: format!("the application <strong>{}</strong>", esc(s(&a, "name"))),
        consequences: "its credentials stop working at once, its authorizations for APIs are removed, and users' refresh tokens for it are revoked.",
        refused,
    };
    confirm_page(&admin, c)
}

async fn app_delete(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    let checked = async {
        admin.app.get_client(&admin.tenant, &id, false).await?;
        app_refusal(&admin, &id).await
    };
    match checked.await {
        Ok(None) => {}
        Ok(Some(reason)) => return refused_page(&admin, Nav::Applications, &reason),
        Err(e) => return admin.error(Some(Nav::Applications), &e),
    }
    let caller = admin.act("DELETE", "/api/v2/clients/{id}", &format!("/api/v2/clients/{}", enc(&id)));
    match admin.app.delete_client(&admin.tenant, &caller, &id).await {
        Ok(()) => see_other("/dashboard/applications?ok=app_deleted"),
        Err(e) => admin.error(Some(Nav::Applications), &e),
    }
}

const SYSTEM_API: &str = "It is the tenant's Management API, a system API: it exists as long as the tenant does.";

async fn api_confirm(admin: Admin, Path(id): Path<String>) -> Response {
    let api = match admin.app.find_resource_server(&admin.tenant, &id).await {
        Ok(a) if a.id == id => a,
        Ok(_) => return admin.error(Some(Nav::Apis), &castellan_service::apis::api_not_found()),
        Err(e) => return admin.error(Some(Nav::Apis), &e),
    };
    let c = Confirm {
        nav: Nav::Apis,
        title: "Delete API",
        href: format!("/dashboard/apis/{}", enc(&id)),
        what: format!("the API <strong>{}</strong> (<code>{}</code>)", esc(&api.name), esc(&api.identifier)),
        consequences: "applications lose their authorizations for it, and roles and users lose its permissions. Tokens already issued for it stay valid until they expire.",
        refused: api.is_system.then(|| SYSTEM_API.to_string()),
    };
    confirm_page(&admin, c)
}

async fn api_delete(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    match admin.app.find_resource_server(&admin.tenant, &id).await {
        Ok(a) if a.id != id => return admin.error(Some(Nav::Apis), &castellan_service::apis::api_not_found()),
        Ok(a) if a.is_system => return refused_page(&admin, Nav::Apis, SYSTEM_API),
        Ok(_) => {}
        Err(e) => return admin.error(Some(Nav::Apis), &e),
    }
    let caller =
        admin.act("DELETE", "/api/v2/resource-servers/{id}", &format!("/api/v2/resource-servers/{}", enc(&id)));
    match admin.app.delete_resource_server(&admin.tenant, &caller, &id).await {
        Ok(()) => see_other("/dashboard/apis?ok=api_deleted"),
        Err(e) => admin.error(Some(Nav::Apis), &e),
    }
}

async fn role_confirm(admin: Admin, Path(id): Path<String>) -> Response {
    let role = match admin.app.get_role(&admin.tenant, &id).await {
        Ok(r) => r,
        Err(e) => return admin.error(Some(Nav::Roles), &e),
    };
    let c = Confirm {
        nav: Nav::Roles,
        title: "Delete role",
        href: format!("/dashboard/roles/{}", enc(&id)),
        what: format!("the role <strong>{}</strong>", esc(&role.name)),
        consequences: "every user who has it loses it, with its permissions.",
        refused: None,
    };
    confirm_page(&admin, c)
}

async fn role_delete(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    let caller = admin.act("DELETE", "/api/v2/roles/{id}", &format!("/api/v2/roles/{}", enc(&id)));
    match admin.app.delete_role(&admin.tenant, &caller, &id).await {
        Ok(()) => see_other("/dashboard/roles?ok=role_deleted"),
        Err(e) => admin.error(Some(Nav::Roles), &e),
    }
}

async fn connection_confirm(admin: Admin, Path(id): Path<String>) -> Response {
    let conn = match admin.app.get_connection(&admin.tenant, &id).await {
        Ok(c) => c,
        Err(e) => return admin.error(Some(Nav::Connections), &e),
    };
    let c = Confirm {
        nav: Nav::Connections,
        title: "Delete connection",
        href: format!("/dashboard/connections/{}", enc(&id)),
        what: format!("the connection <strong>{}</strong>", esc(&conn.name)),
        consequences: "every user of this connection is deleted with it, and nobody can sign in through it any more.",
        refused: None,
    };
    confirm_page(&admin, c)
}

async fn connection_delete(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    let caller = admin.act("DELETE", "/api/v2/connections/{id}", &format!("/api/v2/connections/{}", enc(&id)));
    match admin.app.delete_connection(&admin.tenant, &caller, &id).await {
        Ok(_) => see_other("/dashboard/connections?ok=connection_deleted"),
        Err(e) => admin.error(Some(Nav::Connections), &e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_danger_zone_links_to_the_confirmation() {
        let html = super::danger_zone("/dashboard/roles/rol_1", "Delete role");
        assert!(html.contains(r#"href="/dashboard/roles/rol_1/delete""#));
    }
}
