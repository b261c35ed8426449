//! A user's identity fields (name, nickname, given and family name, email,
//! username where the connection requires one, picture) and a new password
//! under the connection's policy: forms that send the changed fields as
//! PATCH /api/v2/users/{id} does, through the same service call.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use castellan_domain::tenant_model::Connection;
use castellan_service::ServiceError;
use serde_json::{json, Map, Value};

use super::users::policy_text;
use super::{alert, enc, message, s, see_other, Admin, Fields, Nav, Posted};
use crate::extract::AppState;
use crate::hosted::esc;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard/users/{id}/edit", get(edit_form).post(edit))
        .route("/dashboard/users/{id}/password", get(password_form).post(set_password))
}

/// Editable text fields: form name (= API property), label, input type.
const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "Name", "text"),
    ("nickname", "Nickname", "text"),
    ("given_name", "Given name", "text"),
    ("family_name", "Family name", "text"),
    ("email", "Email", "email"),
    ("username", "Username", "text"),
    ("picture", "Picture (URL)", "url"),
];

fn user_href(id: &str) -> String {
    format!("/dashboard/users/{}", enc(id))
}

/// The user and their database connection, if they have one.
async fn load(admin: &Admin, id: &str) -> Result<(Value, Option<Connection>), ServiceError> {
    let u = admin.app.get_user(&admin.tenant, id, &[], true).await?;
    let name = u["identities"][0]["connection"].as_str().unwrap_or_default().to_string();
    let conn = match admin.app.list_connections(&admin.tenant, &[], Some(&name)).await?.into_iter().next() {
        Some(c) => serde_json::from_value::<Connection>(c).ok().filter(Connection::is_database),
        None => None,
    };
    Ok((u, conn))
}

fn requires_username(conn: Option<&Connection>) -> bool {
    conn.is_some_and(|c| c.options.requires_username.unwrap_or(false))
}

async fn edit_form(admin: Admin, Path(id): Path<String>) -> Response {
    edit_page(&admin, &id, StatusCode::OK, None, None).await
}

async fn edit_page(
    admin: &Admin,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
    posted: Option<&Fields>,
) -> Response {
    let (u, conn) = match load(admin, id).await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let with_username = requires_username(conn.as_ref());
    let mut inputs = String::new();
    for (key, label, kind) in FIELDS {
        let value = posted.map(|f| f.get(key).to_string()).unwrap_or_else(|| s(&u, key).to_string());
        if *key == "username" && !with_username {
            continue;
        }
        inputs.push_str(&format!(
            r#"<label for="{key}">{label}</label><input id="{key}" name="{key}" type="{kind}" value="{v}" autocomplete="off">"#,
            v = esc(&value)
        ));
        if *key == "email" {
            let verified = match posted {
                Some(f) => f.get("email_verified") == "on",
                None => u.get("email_verified") == Some(&json!(true)),
            };
            inputs.push_str(&format!(
                r#"<div><input type="checkbox" id="email_verified" name="email_verified" value="on"{}> <label for="email_verified" style="display:inline">Email verified</label></div><p class="hint">Changing the email marks it unverified unless this box stays checked.</p>"#,
                if verified { " checked" } else { "" }
            ));
        }
    }
    let username_hint =
        if with_username { "" } else { r#"<p class="hint">This user's connection does not use usernames.</p>"# };
    let href = user_href(id);
    let body = format!(
        r#"{err}<form method="post" action="{action}" novalidate>{csrf}{inputs}{username_hint}
<p class="hint">An empty field is removed from the user. Email and username cannot change in the same save.</p>
<div><button type="submit" id="save-profile">Save</button> <a class="button secondary" href="{back}">Cancel</a></div></form>"#,
        err = error.map(alert).unwrap_or_default(),
        action = esc(&format!("{href}/edit")),
        csrf = admin.csrf_field(),
        back = esc(&href),
    );
    admin.page_status(status, Some(Nav::Users), "Edit user", &body)
}

fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The patch of the fields that changed, or the message for the form.
fn profile_patch(u: &Value, f: &Fields, with_username: bool) -> Result<Map<String, Value>, String> {
    let mut patch = Map::new();
    for (key, label, _) in FIELDS {
        if *key == "username" && !with_username {
            continue;
        }
        let new = f.get(key).trim();
        if new == s(u, key) {
            continue;
        }
        if new.is_empty() {
            if matches!(*key, "email" | "username") {
                return Err(format!("{label} cannot be empty."));
            }
            patch.insert(key.to_string(), Value::Null);
            continue;
        }
        if *key == "email" && !valid_email(new) {
            return Err(format!("{new} is not an email address."));
        }
        if *key == "picture" && !(new.starts_with("https://") || new.starts_with("http://")) {
            return Err("The picture must be an http(s) URL.".into());
        }
        patch.insert(key.to_string(), json!(new));
    }
    let verified = f.get("email_verified") == "on";
    if patch.contains_key("email") || u.get("email_verified").and_then(Value::as_bool).unwrap_or(false) != verified {
        patch.insert("email_verified".into(), json!(verified));
    }
    Ok(patch)
}

async fn edit(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let (u, conn) = match load(&admin, &id).await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let mut patch = match profile_patch(&u, &f, requires_username(conn.as_ref())) {
        Ok(p) => p,
        Err(m) => return edit_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&m), Some(&f)).await,
    };
    if patch.is_empty() {
        return see_other(&format!("{}?ok=user_saved", user_href(&id)));
    }
    if let Some(c) = conn.as_ref().filter(|_| patch.contains_key("email") || patch.contains_key("username")) {
        patch.insert("connection".into(), json!(c.name));
    }
    let caller = admin.act("PATCH", "/api/v2/users/{id}", &format!("/api/v2/users/{}", enc(&id)));
    match admin.app.update_user(&admin.tenant, &caller, &id, &Value::Object(patch)).await {
        Ok(_) => see_other(&format!("{}?ok=user_saved", user_href(&id))),
        Err(e) => edit_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&message(&e)), Some(&f)).await,
    }
}

async fn password_form(admin: Admin, Path(id): Path<String>) -> Response {
    password_page(&admin, &id, StatusCode::OK, None).await
}

async fn password_page(admin: &Admin, id: &str, status: StatusCode, error: Option<&str>) -> Response {
    let (u, conn) = match load(admin, id).await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let href = user_href(id);
    let Some(conn) = conn else {
        let body = format!(
            r#"<p class="empty">This user does not sign in with a password of a database connection, so there is no password to set.</p><p><a class="button secondary" href="{}">Back</a></p>"#,
            esc(&href)
        );
        return admin.page(Some(Nav::Users), "Change password", &body);
    };
    let who = Some(s(&u, "email")).filter(|e| !e.is_empty()).unwrap_or(id);
    let body = format!(
        r#"{err}<p>A new password for <strong>{who}</strong> ({conn}). Their current sessions stay signed in.</p>
<form method="post" action="{action}" novalidate>{csrf}
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="policy">
<p class="hint" id="policy">Password policy of {conn}: {policy}.</p>
<label for="repeat">Repeat the new password</label>
<input id="repeat" name="repeat" type="password" autocomplete="new-password" required>
<div><button type="submit" id="save-password">Set password</button> <a class="button secondary" href="{back}">Cancel</a></div></form>"#,
        err = error.map(alert).unwrap_or_default(),
        who = esc(who),
        conn = esc(&conn.name),
        policy = esc(&policy_text(&conn)),
        action = esc(&format!("{href}/password")),
        csrf = admin.csrf_field(),
        back = esc(&href),
    );
    admin.page_status(status, Some(Nav::Users), "Change password", &body)
}

async fn set_password(Path(id): Path<String>, Posted { admin, f }: Posted) -> Response {
    let (_, conn) = match load(&admin, &id).await {
        Ok(x) => x,
        Err(e) => return admin.error(Some(Nav::Users), &e),
    };
    let Some(conn) = conn else {
        let e = ServiceError::bad_request("Connection is not supported for this operation", None);
        return admin.error(Some(Nav::Users), &e);
    };
    let password = f.get("password");
    let problem = if password.is_empty() {
        Some("Enter the new password twice.")
    } else if password != f.get("repeat") {
        Some("The passwords do not match.")
    } else {
        None
    };
    if let Some(m) = problem {
        return password_page(&admin, &id, StatusCode::BAD_REQUEST, Some(m)).await;
    }
    let caller = admin.act("PATCH", "/api/v2/users/{id}", &format!("/api/v2/users/{}", enc(&id)));
    let body = json!({"password": password, "connection": conn.name});
    match admin.app.update_user(&admin.tenant, &caller, &id, &body).await {
        Ok(_) => see_other(&format!("{}?ok=password_set", user_href(&id))),
        Err(e) => {
            let m = match &e {
                ServiceError::BadRequest { .. } if message(&e).contains("PasswordHistoryError") => {
                    "This password was used before; choose another.".to_string()
                }
                ServiceError::BadRequest { .. } => {
                    format!("{} The policy asks for {}.", message(&e), policy_text(&conn))
                }
                _ => message(&e),
            };
            password_page(&admin, &id, StatusCode::BAD_REQUEST, Some(&m)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        for ok in ["a@b.co", "jane.doe+x@example.com"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in ["", "a", "@b.co", "a@b", "a@.co", "a b@c.de"] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn only_changed_fields_are_sent_and_empty_ones_removed() {
        let u = json!({"name": "Jane", "nickname": "jj", "email": "j@x.io", "email_verified": true});
        let f = Fields(vec![
            ("name".into(), "Jane".into()),
            ("nickname".into(), "".into()),
            ("given_name".into(), "Jane".into()),
            ("email".into(), "j@x.io".into()),
            ("email_verified".into(), "on".into()),
        ]);
        let p = profile_patch(&u, &f, false).unwrap();
        assert_eq!(Value::Object(p), json!({"nickname": null, "given_name": "Jane"}));
        let f = Fields(vec![("email".into(), "".into())]);
        assert_eq!(profile_patch(&u, &f, false).unwrap_err(), "Email cannot be empty.");
    }
}
