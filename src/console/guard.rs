//! What keeps other web pages from driving the console, and its security headers.
//!
//! A request that changes something (any method but GET and HEAD) is refused with 403 unless:
//! - the console is not read-only (`console_read_only`);
//! - the browser does not call it cross-site: `Sec-Fetch-Site`, when sent, is `same-origin`,
//!   and `Origin`, when sent, is this console's own origin;
//! - its form carries this console's CSRF token (a random value made at start, put in every
//!   form; another site's page cannot read it).
//!
//! Every answer carries a Content-Security-Policy without inline script, and asks browsers not
//! to frame the console, sniff types or send referrers to other sites (`same-origin`, not
//! `no-referrer`, which makes browsers send `Origin: null` from the console's own forms).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::pages::error_page;
use super::Console;

/// The form field that carries the token.
pub const FIELD: &str = "csrf";
/// Forms are small; a larger body is refused before it is read whole.
const MAX_FORM_BYTES: usize = 1024 * 1024;

const HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

pub fn refuse(why: &str) -> Response {
    error_page(
        "Refused",
        StatusCode::FORBIDDEN,
        &format!("This request was refused: {why}."),
    )
}

/// Why a change is not from the console's own pages, if it is not.
fn cross_site(headers: &HeaderMap) -> Option<String> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if site != "same-origin" {
            return Some(format!(
                "it came from another site (Sec-Fetch-Site: {site})"
            ));
        }
    }
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or_default();
        let own = ["http", "https"]
            .iter()
            .any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")));
        if !own {
            return Some(format!(
                "it came from the page of another origin ({origin})"
            ));
        }
    }
    None
}

/// Why a read was asked for by another site, if it was (`Sec-Fetch-Site`; a link the user
/// typed or bookmarked says `none`): for reads that cost, like an export.
pub fn asked_elsewhere(headers: &HeaderMap) -> Option<String> {
    let site = headers.get("sec-fetch-site")?.to_str().ok()?;
    matches!(site, "cross-site" | "same-site")
        .then(|| format!("another site asked for it (Sec-Fetch-Site: {site})"))
}

fn has_token(body: &[u8], token: &str) -> bool {
    url::form_urlencoded::parse(body).any(|(k, v)| {
        k == FIELD && v.len() == token.len() && openssl::memcmp::eq(v.as_bytes(), token.as_bytes())
    })
}

pub async fn guard(State(console): State<Arc<Console>>, request: Request, next: Next) -> Response {
    let mut response = if matches!(*request.method(), Method::GET | Method::HEAD) {
        next.run(request).await
    } else {
        check(&console, request, next).await
    };
    let headers = response.headers_mut();
    for (name, value) in HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn check(console: &Console, request: Request, next: Next) -> Response {
    if console.read_only {
        return refuse("the console is read-only (console_read_only)");
    }
    if let Some(why) = cross_site(request.headers()) {
        tracing::warn!(%why, path = %request.uri().path(), "console: cross-site change refused");
        return refuse(&why);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return refuse("it is not a form of the console");
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return refuse("the form is too large or was not sent whole");
    };
    if !has_token(&bytes, &console.csrf_token) {
        return refuse("the form's token is missing or out of date; reload the page and try again");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn only_the_consoles_own_pages_may_change_things() {
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8080")])).is_none());
        assert!(cross_site(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]))
        .is_none());
        for hostile in [
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:9999"),
            ]),
        ] {
            assert!(cross_site(&hostile).is_some(), "{hostile:?}");
        }
    }

    #[test]
    fn reads_that_cost_are_refused_only_when_another_site_asks() {
        assert!(asked_elsewhere(&headers(&[])).is_none());
        assert!(asked_elsewhere(&headers(&[("sec-fetch-site", "same-origin")])).is_none());
        assert!(asked_elsewhere(&headers(&[("sec-fetch-site", "none")])).is_none());
        assert!(asked_elsewhere(&headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(asked_elsewhere(&headers(&[("sec-fetch-site", "same-site")])).is_some());
    }

    #[test]
    fn the_token_must_match_exactly() {
        assert!(has_token(b"name=x&csrf=abc123", "abc123"));
        assert!(!has_token(b"name=x&csrf=abc12", "abc123"));
        assert!(!has_token(b"name=x&csrf=abc1234", "abc123"));
        assert!(!has_token(b"name=x", "abc123"));
        assert!(!has_token(b"name=x&csrf=", "abc123"));
    }
}
