//! Sends an order to the Orders API and sorts the answer into: stored, refused for good,
//! or worth retrying.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::order::Order;

pub enum Forwarded {
    /// Stored (201) or already there (200): the API's copy of the order.
    Stored { created: bool, stored: Value },
    /// The order was stored and then deleted (410): a redelivery, nothing to do.
    Deleted,
    /// The API refused it (4xx): it will never succeed.
    Refused(ApiError),
    /// The API is down, overloaded or broken (5xx, 408, 429, no connection): try later.
    Retry(ApiError),
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Orders API unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("Orders API answered {status}: {detail}")]
    Answered { status: StatusCode, detail: String },
    #[error("Orders API answered {status} with a body that is not JSON: {source}")]
    NotJson {
        status: StatusCode,
        source: serde_json::Error,
    },
}

#[derive(Clone)]
pub struct OrdersApi {
    client: reqwest::Client,
    url: String,
}

/// Whether a refusal with this status can turn into a success later.
fn worth_retrying(status: StatusCode) -> bool {
    !status.is_client_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

impl OrdersApi {
    /// `token`: sent as a bearer token, when the Orders API asks for one.
    pub fn new(url: String, token: Option<&str>) -> anyhow::Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(token) = token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .default_headers(headers)
            .build()?;
        Ok(Self { client, url })
    }

    pub async fn forward(&self, order: &Order) -> Forwarded {
        let response = match self.client.post(&self.url).json(order).send().await {
            Ok(r) => r,
            Err(err) => return Forwarded::Retry(ApiError::Unreachable(err)),
        };
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            return match serde_json::from_str(&body) {
                Ok(stored) => Forwarded::Stored {
                    created: status == StatusCode::CREATED,
                    stored,
                },
                Err(source) => Forwarded::Retry(ApiError::NotJson { status, source }),
            };
        }
        if status == StatusCode::GONE {
            return Forwarded::Deleted;
        }
        let detail = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
            .unwrap_or(body);
        let error = ApiError::Answered { status, detail };
        if worth_retrying(status) {
            Forwarded::Retry(error)
        } else {
            Forwarded::Refused(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lasting_refusals_are_final() {
        for (status, retry) in [
            (StatusCode::UNPROCESSABLE_ENTITY, false),
            (StatusCode::BAD_REQUEST, false),
            (StatusCode::REQUEST_TIMEOUT, true),
            (StatusCode::TOO_MANY_REQUESTS, true),
            (StatusCode::SERVICE_UNAVAILABLE, true),
            (StatusCode::INTERNAL_SERVER_ERROR, true),
        ] {
            assert_eq!(worth_retrying(status), retry, "{status}");
        }
    }
}
