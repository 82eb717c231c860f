//! Which `Host` every HTTP service answers to, against DNS rebinding: a page on
//! `evil.example` whose name is re-pointed at 127.0.0.1 reaches the service with
//! `Host: evil.example`, and is answered 421 problem+json.
//!
//! Answered: `localhost`, any IP address (a page can only reach an address under its own
//! name, and an address is not a name an attacker controls), the host of `orders_api_url`
//! (how the other services reach the Orders API), and the names in `allowed_hosts`; `*` there
//! answers every name. A request without `Host` (not a browser) is answered too.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::Problem;

#[derive(Clone, Debug)]
pub struct AllowedHosts {
    names: Arc<[String]>,
    any: bool,
}

/// The host part of a `Host` header: no port, no IPv6 brackets, lower case, no final dot.
fn host_part(header: &str) -> String {
    let header = header.trim();
    let host = match header.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => match header.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => header,
        },
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl AllowedHosts {
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let names: Vec<String> = names
            .into_iter()
            .map(|n| host_part(&n))
            .chain(["localhost".to_string()])
            .collect();
        Self {
            any: names.iter().any(|n| n == "*"),
            names: names.into(),
        }
    }

    pub fn allows(&self, host_header: &str) -> bool {
        let host = host_part(host_header);
        self.any || host.parse::<IpAddr>().is_ok() || self.names.contains(&host)
    }
}

/// Middleware: 421 Misdirected Request for a `Host` this service does not answer to.
pub async fn check(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match host {
        Some(host) if !allowed.allows(&host) => Problem::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this service does not answer to the host name {:?}; if it is one of yours, add it to allowed_hosts",
                host_part(&host)
            ),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_addresses_and_ports() {
        let allowed = AllowedHosts::new(["orders-api".to_string(), "Shop.Example.".to_string()]);
        for ok in [
            "localhost:3001",
            "LOCALHOST",
            "127.0.0.1:3003",
            "[::1]:8080",
            "10.1.2.3",
            "orders-api:3003",
            "shop.example",
        ] {
            assert!(allowed.allows(ok), "{ok}");
        }
        for refused in [
            "rebind.evil.example",
            "localhost.evil.example:3001",
            "orders-api.evil",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!allowed.allows(refused), "{refused}");
        }
        assert!(AllowedHosts::new(["*".to_string()]).allows("anything.example"));
    }
}
