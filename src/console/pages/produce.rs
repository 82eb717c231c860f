//! The produce form's action: one message, with key, headers and partition as given.

use std::time::Duration;

use axum::extract::{Form, Path, State};
use axum::response::Redirect;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use serde::Deserialize;
use serde_json::Value;

use super::{back, url, C};

#[derive(Deserialize)]
pub struct ProduceForm {
    key: Option<String>,
    partition: Option<String>,
    headers: Option<String>,
    value: String,
    /// `json` (the default: the value must parse) or `text`.
    format: Option<String>,
}

pub async fn produce(
    State(console): C,
    Path(name): Path<String>,
    Form(form): Form<ProduceForm>,
) -> Redirect {
    let to = format!("/topics/{}", url(&name));
    // Browsers send a text area's line breaks as CRLF, whatever the text had.
    let value = form.value.replace("\r\n", "\n");
    let form = ProduceForm {
        value,
        headers: form.headers.map(|h| h.replace("\r\n", "\n")),
        ..form
    };
    if form.format.as_deref() != Some("text") {
        if let Err(e) = serde_json::from_str::<Value>(&form.value) {
            return back(
                &to,
                "error",
                &format!("the value is not valid JSON: {e} (choose \"text\" to send it as it is)"),
            );
        }
    }
    let mut headers = OwnedHeaders::new();
    for line in form
        .headers
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let Some((k, v)) = line.split_once(':') else {
            return back(
                &to,
                "error",
                &format!("header line {line:?} is not \"name: value\""),
            );
        };
        headers = headers.insert(Header {
            key: k.trim(),
            value: Some(v.trim()),
        });
    }
    let partition = match form
        .partition
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => match p.parse::<i32>() {
            Ok(p) if p >= 0 => Some(p),
            _ => {
                return back(
                    &to,
                    "error",
                    &format!("partition must be a whole number, not {p:?}"),
                )
            }
        },
    };
    let key = form.key.unwrap_or_default();
    let mut record = FutureRecord::to(&name)
        .payload(&form.value)
        .headers(headers);
    if !key.is_empty() {
        record = record.key(&key);
    }
    if let Some(p) = partition {
        record = record.partition(p);
    }
    match console.producer.send(record, Duration::from_secs(5)).await {
        Ok(d) => back(
            &to,
            "notice",
            &format!("sent to partition {} at offset {}", d.partition, d.offset),
        ),
        Err((e, _)) => back(
            &to,
            "error",
            &format!("Kafka did not take the message: {e}"),
        ),
    }
}
