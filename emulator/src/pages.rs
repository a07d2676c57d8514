//! The HTML pages a person sees during an interactive sign-in: the sign-in form (user name and
//! password), the one-time code, consent, the device code entry, and the endings.
//!
//! Plain HTML forms without scripts, so a real browser, WebDriver or `curl` can drive them. Every
//! element a test needs has a stable `id`; every text that came from a request is escaped.

use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::StatusCode;

use super::{text_response, HttpResponse};

/// Where the sign-in forms post.
pub(super) const LOGIN_PATH: &str = "/login";
/// The device code entry page (`verification_uri`).
pub(super) const DEVICE_LOGIN_PATH: &str = "/devicelogin";

/// A full page around `body` (already HTML).
pub(super) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:3em auto;max-width:28em}}\
         label,input,button{{display:block;margin:.4em 0}}input{{width:100%}}\
         .error{{color:#a00}}</style></head>\
         <body><p>Emulated Microsoft Entra ID</p><h1 id=\"title\">{title}</h1>{body}</body></html>\n",
        title = html_escape(title),
    );
    let mut response = text_response(status, "text/html; charset=utf-8", &html);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error page (no way on), e.g. an unregistered redirect URI.
pub(super) fn error_page(status: StatusCode, text: &str) -> HttpResponse {
    page(
        status,
        "Sorry, but we're having trouble signing you in.",
        &format!("<p id=\"error\" class=\"error\">{}</p>", html_escape(text)),
    )
}

/// A page that ends the flow, e.g. "You may now close this window".
pub(super) fn message_page(title: &str, text: &str) -> HttpResponse {
    page(
        StatusCode::OK,
        title,
        &format!("<p id=\"message\">{}</p>", html_escape(text)),
    )
}

/// The sign-in form: user name (pre-filled with the hint) and password. `cancel` labels the
/// second button ("Cancel", or "Decline" on the device code flow).
pub(super) fn sign_in(
    flow: &str,
    heading: &str,
    login_hint: Option<&str>,
    error: Option<&str>,
    cancel: &str,
) -> HttpResponse {
    let body = format!(
        "{error}<p>{heading}</p>\
         <form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
         <label for=\"username\">Email, phone, or Skype</label>\
         <input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" value=\"{hint}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
         <button id=\"submit\" type=\"submit\" name=\"action\" value=\"sign_in\">Sign in</button>\
         <button id=\"cancel\" type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>{cancel}</button>\
         </form>",
        error = error_paragraph(error),
        heading = html_escape(heading),
        flow = html_escape(flow),
        hint = html_escape(login_hint.unwrap_or_default()),
        cancel = html_escape(cancel),
    );
    page(StatusCode::OK, "Sign in", &body)
}

/// The one-time code step of an MFA account.
pub(super) fn one_time_code(flow: &str, error: Option<&str>) -> HttpResponse {
    let body = format!(
        "{error}<p>Enter the code displayed in your authenticator app.</p>\
         <form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
         <label for=\"otc\">Code</label>\
         <input id=\"otc\" name=\"otc\" inputmode=\"numeric\" autocomplete=\"one-time-code\">\
         <button id=\"submit\" type=\"submit\" name=\"action\" value=\"verify\">Verify</button>\
         <button id=\"cancel\" type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button>\
         </form>",
        error = error_paragraph(error),
        flow = html_escape(flow),
    );
    page(StatusCode::OK, "Enter code", &body)
}

/// Consent: the person may accept the permissions the app asks for.
pub(super) fn consent(flow: &str, scope: &str) -> HttpResponse {
    let body = format!(
        "<p>signin-assistant needs permission to: {scope}.</p>\
         <form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
         <button id=\"accept\" type=\"submit\" name=\"action\" value=\"accept\">Accept</button>\
         <button id=\"cancel\" type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button>\
         </form>",
        scope = html_escape(scope),
        flow = html_escape(flow),
    );
    page(StatusCode::OK, "Permissions requested", &body)
}

/// Only an admin may consent: the person can only go back to the app.
pub(super) fn admin_approval(flow: &str) -> HttpResponse {
    let body = format!(
        "<p>signin-assistant needs permission to access resources in your organization that only an admin can grant.</p>\
         <form method=\"post\" action=\"{LOGIN_PATH}\">\
         <input type=\"hidden\" name=\"flow\" value=\"{flow}\">\
         <button id=\"cancel\" type=\"submit\" name=\"action\" value=\"cancel\">Return to the application without granting consent</button>\
         </form>",
        flow = html_escape(flow),
    );
    page(StatusCode::OK, "Need admin approval", &body)
}

/// The device code entry page.
pub(super) fn device_code_entry(error: Option<&str>) -> HttpResponse {
    let body = format!(
        "{error}<p>Enter the code displayed on your app or device.</p>\
         <form method=\"post\" action=\"{DEVICE_LOGIN_PATH}\">\
         <label for=\"user_code\">Code</label>\
         <input id=\"user_code\" name=\"user_code\" autocomplete=\"off\">\
         <button id=\"submit\" type=\"submit\">Next</button>\
         </form>",
        error = error_paragraph(error),
    );
    page(StatusCode::OK, "Enter code", &body)
}

fn error_paragraph(error: Option<&str>) -> String {
    error.map_or_else(String::new, |e| {
        format!("<p id=\"error\" class=\"error\">{}</p>", html_escape(e))
    })
}

/// Escapes text for HTML element content and attribute values.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
