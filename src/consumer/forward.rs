//! Sends an order to the Orders API and sorts the answer into: stored, refused for good,
//! or worth retrying.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

pub enum Forwarded {
    /// Stored (201) or already there (200): the API's copy of the order.
    Stored(StatusCode, Value),
    /// The order was stored and then deleted (410): a redelivery, nothing to do.
    Deleted,
    /// The API refused it (4xx): it will never succeed.
    Refused(String),
    /// The API is down, overloaded or broken (5xx, 408, 429, no connection): try later.
    Retry(String),
}

#[derive(Clone)]
pub struct OrdersApi {
    client: reqwest::Client,
    url: String,
}

impl OrdersApi {
    pub fn new(url: String) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(2))
            .build()?;
        Ok(Self { client, url })
    }

    pub async fn forward(&self, order: &Value) -> Forwarded {
        let response = match self.client.post(&self.url).json(order).send().await {
            Ok(r) => r,
            Err(err) => return Forwarded::Retry(format!("Orders API unreachable: {err}")),
        };
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_success() {
            return match serde_json::from_str(&body) {
                Ok(stored) => Forwarded::Stored(status, stored),
                Err(err) => Forwarded::Retry(format!(
                    "Orders API answered {status} with a body that is not JSON: {err}"
                )),
            };
        }
        if status == StatusCode::GONE {
            return Forwarded::Deleted;
        }
        let detail = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
            .unwrap_or(body);
        let message = format!("Orders API answered {status}: {detail}");
        if status.is_client_error()
            && status != StatusCode::REQUEST_TIMEOUT
            && status != StatusCode::TOO_MANY_REQUESTS
        {
            Forwarded::Refused(message)
        } else {
            Forwarded::Retry(message)
        }
    }
}
