//! Optional authentication with bearer tokens (`api_tokens`, or `api_tokens_file` with one
//! token a line). When tokens are set:
//! - the producer's `POST /orders` and the Orders API's ingest, PATCH and DELETE need
//!   `Authorization: Bearer <token>`; reads, health, readiness, metrics and the API
//!   descriptions stay open (probes and dashboards);
//! - the console needs any of the tokens as the password of HTTP Basic authentication (the
//!   browser asks for it), on every page;
//! - the consumer sends the first token to the Orders API.
//!
//! Without tokens everything is open, as in the seed; a service listening beyond loopback
//! then says so loudly at start.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::http::Problem;

/// What a service asks a token for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guarded {
    /// Requests that change something (not GET, HEAD or OPTIONS), with a bearer token.
    Changes,
    /// Every request, with HTTP Basic (for browsers: the console).
    Everything,
}

#[derive(Clone, Default)]
pub struct Tokens(Arc<[String]>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} set)", self.0.len())
    }
}

impl Tokens {
    pub fn new(tokens: Vec<String>) -> Self {
        Self(tokens.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The token the consumer sends.
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    fn accepts(&self, given: &[u8]) -> bool {
        // Every token is compared, in constant time each, so timing tells nothing.
        self.0.iter().fold(false, |found, token| {
            let same = token.len() == given.len() && openssl::memcmp::eq(token.as_bytes(), given);
            found | same
        })
    }

    /// Whether the request carries one of the tokens as `guarded` asks.
    fn admits(&self, request: &Request, guarded: Guarded) -> bool {
        let Some(value) = request.headers().get(header::AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        match guarded {
            Guarded::Changes => value
                .strip_prefix(b"Bearer ")
                .is_some_and(|token| self.accepts(token)),
            Guarded::Everything => value
                .strip_prefix(b"Basic ")
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .and_then(|pair| {
                    let colon = pair.iter().position(|b| *b == b':')?;
                    Some(self.accepts(&pair[colon + 1..]))
                })
                .unwrap_or(false),
        }
    }

    /// Logs a warning when `addr` is reachable beyond this machine and nothing is asked.
    pub fn warn_if_open(&self, service: &str, addr: SocketAddr) {
        if self.is_empty() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "the {service} listens beyond this machine and asks no token: anyone who reaches it can use it; set api_tokens or api_tokens_file"
            );
        }
    }
}

/// Middleware: 401 for a request that needs a token and has none of ours.
pub async fn require(
    State((tokens, guarded)): State<(Tokens, Guarded)>,
    request: Request,
    next: Next,
) -> Response {
    let open = match guarded {
        Guarded::Changes => {
            matches!(
                *request.method(),
                Method::GET | Method::HEAD | Method::OPTIONS
            )
        }
        // The liveness probe of a container stays open.
        Guarded::Everything => request.uri().path() == "/healthz",
    };
    if tokens.is_empty() || open || tokens.admits(&request, guarded) {
        return next.run(request).await;
    }
    let (challenge, detail) = match guarded {
        Guarded::Changes => (
            r#"Bearer realm="kafka-orders""#,
            "this request needs a token: Authorization: Bearer <token>",
        ),
        Guarded::Everything => (
            r#"Basic realm="kafka-orders console", charset="UTF-8""#,
            "the console needs a token as the password (any user name)",
        ),
    };
    let mut response = Problem::new(StatusCode::UNAUTHORIZED, detail).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, authorization: Option<&str>) -> Request {
        let mut builder = Request::builder().method(method).uri("/orders");
        if let Some(a) = authorization {
            builder = builder.header(header::AUTHORIZATION, a);
        }
        builder.body(axum::body::Body::empty()).expect("request")
    }

    #[test]
    fn only_a_token_of_ours_is_admitted() {
        let tokens = Tokens::new(vec!["alpha".into(), "beta-2".into()]);
        let ok = |a: Option<&str>, g| tokens.admits(&request(Method::POST, a), g);
        assert!(ok(Some("Bearer beta-2"), Guarded::Changes));
        assert!(!ok(Some("Bearer beta"), Guarded::Changes));
        assert!(!ok(Some("bearer alpha"), Guarded::Changes));
        assert!(!ok(None, Guarded::Changes));
        // HTTP Basic: any user name, a token as the password.
        let basic = |pair: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        assert!(ok(Some(&basic("me:alpha")), Guarded::Everything));
        assert!(!ok(Some(&basic("alpha:nope")), Guarded::Everything));
        assert!(!ok(Some("Bearer alpha"), Guarded::Everything));
        assert!(
            format!("{tokens:?}").contains("2 set") && !format!("{tokens:?}").contains("alpha")
        );
    }
}
