//! The tenant's dashboard administrators: the list, adding one (email and
//! an initial password to hand over), and removing one after a
//! confirmation. Rules (in the service): at least 8 characters for the
//! password, one administrator per email, nobody removes themselves
//! (another administrator must), and the last one cannot be removed.
//! A removed administrator's sessions end at once.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::{alert, enc, message, see_other, when, Admin, Nav, Posted};
use crate::extract::AppState;
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/administrators", get(list).post(add))
        .route("/dashboard/administrators/{id}/remove", get(confirm_remove).post(remove))
}

async fn list(admin: Admin) -> Response {
    page(&admin, StatusCode::OK, None, "").await
}

async fn page(admin: &Admin, status: StatusCode, error: Option<&str>, email: &str) -> Response {
    let all = match admin.app.list_dashboard_admins(&admin.tenant).await {
        Ok(a) => a,
        Err(e) => return admin.error(Some(Nav::Administrators), &e),
    };
    let rows: String = all
        .iter()
        .map(|a| {
            let action = if a.id == admin.s.admin.id {
                r#"<span class="badge">You</span>"#.to_string()
            } else if all.len() > 1 {
                format!(
                    r#"<a class="button secondary" href="/dashboard/administrators/{}/remove">Remove<span class="skip"> {}</span></a>"#,
                    esc(&enc(&a.id)),
                    esc(&a.email)
                )
            } else {
                String::new()
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                esc(&a.email),
                esc(&when(Some(a.created_at))),
                esc(&when(a.last_login_at))
            )
        })
        .collect();
    let body = format!(
        r#"{err}<p class="hint">Administrators sign in to this dashboard; they are not users of the tenant's applications. Nobody can remove themselves, and the last administrator stays.</p>
<table class="wide" id="administrators"><thead><tr><th scope="col">Email</th><th scope="col">Added</th><th scope="col">Last sign-in</th><th scope="col"><span class="skip">Actions</span></th></tr></thead><tbody>{rows}</tbody></table>
<h2>Add an administrator</h2>
<form method="post" action="/dashboard/administrators" novalidate>{csrf}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="off" required value="{email}">
<label for="password">Initial password</label><input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="pw-hint">
<p class="hint" id="pw-hint">At least 8 characters. Give it to them over a safe channel.</p>
<label for="repeat">Repeat the password</label><input id="repeat" name="repeat" type="password" autocomplete="new-password" required>
<div><button type="submit" id="add-admin">Add administrator</button></div></form>"#,
        err = error.map(alert).unwrap_or_default(),
        csrf = admin.csrf_field(),
        email = esc(email),
    );
    admin.page_status(status, Some(Nav::Administrators), "Administrators", &body)
}

async fn add(Posted { admin, f }: Posted) -> Response {
    let (email, password) = (f.get("email").trim(), f.get("password"));
    if password != f.get("repeat") {
        return page(&admin, StatusCode::BAD_REQUEST, Some("The passwords do not match."), email).await;
    }
    match admin.app.add_dashboard_admin(&admin.tenant, &admin.s.admin, email, password).await {
        Ok(()) => see_other("/dashboard/administrators?ok=admin_added"),
        Err(e) => page(&admin, StatusCode::BAD_REQUEST, Some(&message(&e)), email).await,
    }
}

async fn confirm_remove(admin: Admin, Path(id): Path<String>) -> Response {
    let found = match admin.app.list_dashboard_admins(&admin.tenant).await {
        Ok(all) => all.into_iter().find(|a| a.id == id),
        Err(e) => return admin.error(Some(Nav::Administrators), &e),
    };
    let Some(target) = found else {
        let e = castellan_service::ServiceError::NotFound {
            message: "The administrator does not exist.".into(),
            code: "inexistent_admin",
        };
        return admin.error(Some(Nav::Administrators), &e);
    };
    let body = if target.id == admin.s.admin.id {
        format!(
            r#"{}<p><a class="button secondary" href="/dashboard/administrators">Back</a></p>"#,
            alert("You cannot remove yourself: another administrator has to do it.")
        )
    } else {
        format!(
            r#"<p class="alert" role="alert">You are about to remove the administrator <strong>{who}</strong>. This cannot be undone: they are signed out at once and can no longer sign in (you can add them again with a new password).</p>
<form method="post" action="/dashboard/administrators/{id}/remove">{csrf}<button type="submit" class="danger" id="confirm-remove">Yes, remove them</button> <a class="button secondary" href="/dashboard/administrators">Cancel</a></form>"#,
            who = esc(&target.email),
            id = esc(&enc(&target.id)),
            csrf = admin.csrf_field(),
        )
    };
    admin.page(Some(Nav::Administrators), "Remove administrator", &body)
}

async fn remove(Path(id): Path<String>, Posted { admin, .. }: Posted) -> Response {
    match admin.app.remove_dashboard_admin(&admin.tenant, &admin.s.admin, &id).await {
        Ok(()) => see_other("/dashboard/administrators?ok=admin_removed"),
        Err(e) => admin.error(Some(Nav::Administrators), &e),
    }
}
