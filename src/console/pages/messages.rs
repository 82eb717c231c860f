//! How a message is shown: in the rows of a topic page, and in the events of live follow.

use maud::{html, Markup};

use crate::console::kafka::MessageInfo;

/// Pretty-prints JSON text; anything else is shown as it is.
pub fn pretty(value: &str) -> (bool, String) {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(v) => (
            true,
            serde_json::to_string_pretty(&v).unwrap_or_else(|_| value.to_string()),
        ),
        Err(_) => (false, value.to_string()),
    }
}

pub fn time(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "—".into() };
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// A table row per message, in the order given.
pub fn rows(messages: &[MessageInfo]) -> Markup {
    html! {
        @for m in messages {
            tr {
                td.num { (m.partition) }
                td.num { (m.offset) }
                td { (time(m.timestamp)) }
                td { pre { (m.key.as_deref().unwrap_or("(null)")) } }
                td { pre { (headers(&m.headers)) } }
                td { (value(m.value.as_deref())) }
            }
        }
    }
}

fn headers(headers: &[(String, String)]) -> String {
    let lines: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    lines.join("\n")
}

fn value(value: Option<&str>) -> Markup {
    match value {
        None => html! { span.muted { "(null)" } },
        Some(v) => {
            let (json, text) = pretty(v);
            html! { pre class=(if json { "json" } else { "text" }) { (text) } }
        }
    }
}
