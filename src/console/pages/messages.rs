//! How a message is shown: in the rows of a topic page, and in the events of live follow.
//! Bytes that are UTF-8 are shown as text (JSON pretty-printed); others as hex, marked so.

use maud::{html, Markup};
use serde_json::{json, Value};

use crate::console::kafka::MessageInfo;

/// The most bytes shown as hex; a longer binary value is cut, and says so.
const HEX_MAX: usize = 4096;

/// Bytes as a page shows them.
#[derive(Debug, PartialEq, Eq)]
pub enum Shown {
    Text(String),
    /// Not UTF-8: hex pairs.
    Hex(String),
}

pub fn show(bytes: &[u8]) -> Shown {
    match std::str::from_utf8(bytes) {
        Ok(text) => Shown::Text(text.to_string()),
        Err(_) => {
            let mut hex: Vec<String> = bytes
                .iter()
                .take(HEX_MAX)
                .map(|b| format!("{b:02x}"))
                .collect();
            if bytes.len() > HEX_MAX {
                hex.push(format!("… ({} bytes)", bytes.len()));
            }
            Shown::Hex(hex.join(" "))
        }
    }
}

impl Shown {
    /// As one line of text: hex is prefixed with `hex:`.
    pub fn line(&self) -> String {
        match self {
            Shown::Text(t) => t.clone(),
            Shown::Hex(h) => format!("hex: {h}"),
        }
    }
}

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

/// Milliseconds since the epoch of RFC 3339, or of `YYYY-MM-DDTHH:MM[:SS]` taken as UTC (what
/// a datetime-local field sends).
pub fn parse_time(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .or_else(|| {
            [
                "[year]-[month]-[day]T[hour]:[minute]:[second]",
                "[year]-[month]-[day]T[hour]:[minute]",
            ]
            .iter()
            .filter_map(|f| time::format_description::parse_borrowed::<2>(f).ok())
            .find_map(|f| time::PrimitiveDateTime::parse(text, &f).ok())
            .map(time::PrimitiveDateTime::assume_utc)
        })?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

fn key_line(m: &MessageInfo) -> String {
    m.key
        .as_deref()
        .map_or_else(|| "(null)".to_string(), |k| show(k).line())
}

/// Each header's name and value as shown.
fn header_pairs(m: &MessageInfo) -> Vec<(String, String)> {
    m.headers
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_deref().map_or(String::new(), |v| show(v).line()),
            )
        })
        .collect()
}

/// `name: value` a line, as the produce form takes them.
pub fn header_lines(m: &MessageInfo) -> String {
    let lines: Vec<String> = header_pairs(m)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    lines.join("\n")
}

/// Whether the produce form can carry the message back unchanged: key, value and header values
/// text, each header a line of `name: value` (no line breaks, no `:` in the name, a value).
pub fn resendable(m: &MessageInfo) -> bool {
    let text = |b: &Option<Vec<u8>>| b.as_deref().is_none_or(|b| std::str::from_utf8(b).is_ok());
    let one_line = |t: &str| !t.contains(['\n', '\r']);
    text(&m.key)
        && text(&m.value)
        && m.headers_intact
        && m.headers.iter().all(|(k, v)| {
            one_line(k)
                && !k.contains(':')
                && v.as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .is_some_and(|v| one_line(v) && v.trim() == v)
        })
}

/// A table row per message, in the order given; `resend` links each one the produce form can
/// carry back unchanged ([`resendable`]) to that form, filled (`/topics/{topic}?resend=P:O`).
pub fn rows(messages: &[MessageInfo], resend: Option<&str>) -> Markup {
    html! {
        @for m in messages {
            tr {
                td.num { (m.partition) }
                td.num { (m.offset) }
                td { (time(m.timestamp)) }
                td { pre { (key_line(m)) } }
                td { pre { (header_lines(m)) } }
                td { (value(m.value.as_deref())) }
                @if let Some(topic) = resend {
                    td {
                        @if resendable(m) {
                            a.resend href={ "/topics/" (super::url(topic)) "?resend=" (m.partition) ":" (m.offset) "#produce" } { "Re-send" }
                        }
                    }
                }
            }
        }
    }
}

fn value(value: Option<&[u8]>) -> Markup {
    match value.map(show) {
        None => html! { span.muted { "(null)" } },
        Some(Shown::Hex(hex)) => {
            html! { pre.hex title="not UTF-8: shown as hex" { "hex: " (hex) } }
        }
        Some(Shown::Text(v)) => {
            let (json, text) = pretty(&v);
            html! { pre class=(if json { "json" } else { "text" }) { (text) } }
        }
    }
}

/// A message as the live-follow script shows it.
pub fn event(m: &MessageInfo) -> Value {
    let value = m.value.as_deref().map(|v| match show(v) {
        Shown::Text(t) => pretty(&t).1,
        hex => hex.line(),
    });
    let headers = header_pairs(m);
    json!({
        "partition": m.partition, "offset": m.offset, "timestamp": time(m.timestamp),
        "key": m.key.as_deref().map(|k| show(k).line()), "headers": headers, "value": value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_form_carries_back_unchanged_is_offered_for_re_sending() {
        let m = MessageInfo {
            partition: 0,
            offset: 0,
            timestamp: None,
            key: Some(b"k".to_vec()),
            headers: vec![("trace".into(), Some(b"abc".to_vec()))],
            value: Some(b"{}".to_vec()),
            headers_intact: true,
        };
        assert!(resendable(&m));
        let with = |f: fn(&mut MessageInfo)| {
            let mut changed = m.clone();
            f(&mut changed);
            resendable(&changed)
        };
        assert!(!with(|m| m.key = Some(vec![0xff])));
        assert!(!with(|m| m.value = Some(vec![0xff])));
        assert!(!with(|m| m.headers_intact = false));
        assert!(!with(|m| m.headers[0].1 = None));
        assert!(!with(|m| m.headers[0].1 = Some(b"two\nlines".to_vec())));
        assert!(!with(|m| m.headers[0].1 = Some(b" padded".to_vec())));
        assert!(!with(|m| m.headers[0].0 = "a:b".into()));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_as_hex() {
        assert_eq!(show(b"caf\xc3\xa9"), Shown::Text("café".into()));
        assert_eq!(show(&[0xff, 0x00, 0x10]), Shown::Hex("ff 00 10".into()));
        let long = show(&vec![0xff; HEX_MAX + 1]).line();
        assert!(long.starts_with("hex: ff ff"));
        assert!(
            long.ends_with(&format!("… ({} bytes)", HEX_MAX + 1)),
            "{long}"
        );
    }
}
