//! A topic's messages as a download: JSON Lines or CSV, streamed as they are read, bounded
//! by [`MAX_MESSAGES`] and [`MAX_BYTES`] so an export cannot hold the console's memory or a
//! connection without end.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::messages::{self, Shown};
use super::{blocking, error_page, C};
use crate::console::error::ConsoleError;
use crate::console::kafka::{self, MessageInfo, Reader};
use crate::kafka::Kafka;

pub const MAX_MESSAGES: i64 = 100_000;
const MAX_BYTES: usize = 64 * 1024 * 1024;
/// An export fails, with a last line saying so, when Kafka sent nothing for this long.
const IDLE: Duration = Duration::from_secs(3);
/// And after this long in all, even if a slow download is still reading it.
const LONGEST: Duration = Duration::from_secs(600);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonLines,
    Csv,
}

/// Which partitions and offsets: `partition` (all if none), `start` and `to` (offsets, `to`
/// excluded; default the whole partition).
struct Range {
    partition: Option<i32>,
    start: Option<i64>,
    to: Option<i64>,
}

fn parse(params: &HashMap<String, String>) -> Result<(Format, Range), ConsoleError> {
    let number = |key: &str| -> Result<Option<i64>, ConsoleError> {
        match params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ConsoleError::Input(format!("{key} must be a whole number, not {v:?}"))
            }),
        }
    };
    let format = match params.get("format").map(String::as_str) {
        None | Some("jsonl") => Format::JsonLines,
        Some("csv") => Format::Csv,
        Some(other) => {
            return Err(ConsoleError::Input(format!(
                "format must be jsonl or csv, not {other:?}"
            )))
        }
    };
    let partition = number("partition")?
        .map(|p| {
            i32::try_from(p)
                .map_err(|_| ConsoleError::Input(format!("partition {p} is out of range")))
        })
        .transpose()?;
    Ok((
        format,
        Range {
            partition,
            start: number("start")?,
            to: number("to")?,
        },
    ))
}

pub async fn export(
    State(console): C,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(why) = crate::console::guard::asked_elsewhere(&headers) {
        return crate::console::guard::refuse(&why);
    }
    let title = format!("Export of {name}");
    let (format, range) = match parse(&params) {
        Ok(p) => p,
        Err(e) => return error_page(&title, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let (cluster, topic) = (console.kafka.clone(), name.clone());
    let planned = blocking(move || plan(&cluster, &topic, &range)).await;
    let spans = match planned {
        Ok(s) => s,
        Err(e) => return error_page(&title, StatusCode::NOT_FOUND, &e.to_string()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    let (cluster, topic) = (console.kafka.clone(), name.clone());
    tokio::task::spawn_blocking(move || {
        // The download is under way: an error can only end it, as a last line.
        let failed = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stream(&cluster, &topic, &spans, format, &tx)
        })) {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some("the console failed while reading".to_string()),
        };
        if let Some(why) = failed {
            let _ = tx.blocking_send(format!("\nexport stopped: {why}\n").into_bytes());
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let (kind, ext) = match format {
        Format::JsonLines => ("application/jsonl", "jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.{ext}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// Per partition, the offsets `[start, end)` to export, at most [`MAX_MESSAGES`] in all.
fn plan(cluster: &Kafka, topic: &str, range: &Range) -> Result<Vec<(i32, i64, i64)>, ConsoleError> {
    let info = kafka::topic(&kafka::client::<Reader>(cluster, None)?, topic)?;
    if let Some(p) = range.partition {
        if !info.partitions.iter().any(|x| x.id == p) {
            return Err(ConsoleError::Input(format!(
                "topic {topic} has no partition {p}"
            )));
        }
    }
    let mut left = MAX_MESSAGES;
    let mut spans = Vec::new();
    for p in info
        .partitions
        .iter()
        .filter(|x| range.partition.is_none_or(|want| x.id == want))
    {
        let start = range.start.unwrap_or(p.low).max(p.low).min(p.high);
        let end = range.to.unwrap_or(p.high).max(start).min(p.high);
        let end = end.min(start.saturating_add(left));
        left -= end - start;
        if end > start {
            spans.push((p.id, start, end));
        }
    }
    Ok(spans)
}

fn stream(
    cluster: &Kafka,
    topic: &str,
    spans: &[(i32, i64, i64)],
    format: Format,
    tx: &tokio::sync::mpsc::Sender<Vec<u8>>,
) -> Result<(), ConsoleError> {
    let mut sent = 0;
    if format == Format::Csv {
        let head = b"topic,partition,offset,timestamp,key,headers,value\n".to_vec();
        sent += head.len();
        if tx.blocking_send(head).is_err() {
            return Ok(());
        }
    }
    let began = Instant::now();
    for &(partition, start, end) in spans {
        let consumer: Reader = kafka::client(cluster, None)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(start))?;
        consumer.assign(&tpl)?;
        let mut last_seen = Instant::now();
        let mut next = start;
        while next < end {
            if last_seen.elapsed() > IDLE {
                return Err(ConsoleError::Input(format!(
                    "{topic}/{partition}: Kafka sent nothing after offset {next} for {} s",
                    IDLE.as_secs()
                )));
            }
            if began.elapsed() > LONGEST {
                let _ = tx.blocking_send(
                    format!(
                        "\nexport stopped after {} s; export a smaller range\n",
                        LONGEST.as_secs()
                    )
                    .into_bytes(),
                );
                return Ok(());
            }
            let Some(result) = consumer.poll(Duration::from_millis(200)) else {
                // Offsets without a message (transaction markers, compaction) are passed over.
                let position = consumer.position()?;
                if let Some(Offset::Offset(p)) = position
                    .find_partition(topic, partition)
                    .map(|e| e.offset())
                {
                    next = next.max(p);
                }
                continue;
            };
            let m = MessageInfo::of(&result?);
            last_seen = Instant::now();
            if m.offset >= end {
                break;
            }
            next = m.offset.saturating_add(1);
            let line = match format {
                Format::JsonLines => json_line(topic, &m),
                Format::Csv => csv_line(topic, &m),
            };
            sent += line.len();
            if sent > MAX_BYTES {
                let _ = tx.blocking_send(
                    format!("\nexport stopped at {MAX_BYTES} bytes; export a smaller range\n")
                        .into_bytes(),
                );
                return Ok(());
            }
            if tx.blocking_send(line).is_err() {
                return Ok(()); // the download was cancelled
            }
        }
    }
    Ok(())
}

/// UTF-8 as text; other bytes in a `…Base64` field instead.
fn bytes_json(
    name: &str,
    bytes: Option<&[u8]>,
    out: &mut serde_json::Map<String, serde_json::Value>,
) {
    match bytes.map(|b| (b, std::str::from_utf8(b))) {
        None => {
            out.insert(name.into(), serde_json::Value::Null);
        }
        Some((_, Ok(text))) => {
            out.insert(name.into(), text.into());
        }
        Some((raw, Err(_))) => {
            out.insert(name.into(), serde_json::Value::Null);
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            out.insert(format!("{name}Base64"), encoded.into());
        }
    }
}

fn json_line(topic: &str, m: &MessageInfo) -> Vec<u8> {
    let mut out = serde_json::Map::new();
    out.insert("topic".into(), topic.into());
    out.insert("partition".into(), m.partition.into());
    out.insert("offset".into(), m.offset.into());
    out.insert("timestamp".into(), json!(m.timestamp));
    bytes_json("key", m.key.as_deref(), &mut out);
    let headers: Vec<serde_json::Value> = m
        .headers
        .iter()
        .map(|(k, v)| {
            let mut h = serde_json::Map::new();
            h.insert("name".into(), k.clone().into());
            bytes_json("value", v.as_deref(), &mut h);
            serde_json::Value::Object(h)
        })
        .collect();
    out.insert("headers".into(), headers.into());
    bytes_json("value", m.value.as_deref(), &mut out);
    let mut line = serde_json::Value::Object(out).to_string().into_bytes();
    line.push(b'\n');
    line
}

/// A CSV cell, quoted as RFC 4180 says; a cell a spreadsheet would run as a formula (`=`,
/// `+`, `-`, `@` first) gets a leading `'`, as OWASP advises for exports.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn csv_line(topic: &str, m: &MessageInfo) -> Vec<u8> {
    let shown = |b: Option<&Vec<u8>>| b.map_or(String::new(), |b| Shown::line(&messages::show(b)));
    let cells = [
        cell(topic),
        m.partition.to_string(),
        m.offset.to_string(),
        m.timestamp.map_or(String::new(), |t| t.to_string()),
        cell(&shown(m.key.as_ref())),
        cell(&messages::header_lines(m)),
        cell(&shown(m.value.as_ref())),
    ];
    let mut line = cells.join(",").into_bytes();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(key: &[u8], value: &[u8]) -> MessageInfo {
        MessageInfo {
            partition: 1,
            offset: 7,
            timestamp: Some(1_000),
            key: Some(key.to_vec()),
            headers: vec![("h".into(), Some(b"v".to_vec()))],
            value: Some(value.to_vec()),
            headers_intact: true,
        }
    }

    #[test]
    fn json_lines_keep_bytes_that_are_not_text_as_base64() {
        let line = json_line("t", &message(b"k", &[0xff, 0x00]));
        let v: serde_json::Value = serde_json::from_slice(&line).expect("one JSON object");
        assert_eq!(v["key"], "k");
        assert_eq!(v["value"], serde_json::Value::Null);
        assert_eq!(v["valueBase64"], "/wA=");
        assert_eq!(v["headers"][0]["name"], "h");
        assert_eq!(v["headers"][0]["value"], "v");
        assert_eq!(
            (v["partition"].as_i64(), v["offset"].as_i64()),
            (Some(1), Some(7))
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        let line = String::from_utf8(csv_line("t", &message(b"=cmd()", b"say \"hi\",\nbye")))
            .expect("utf-8");
        assert_eq!(
            line,
            "\"t\",1,7,1000,\"'=cmd()\",\"h: v\",\"say \"\"hi\"\",\nbye\"\n"
        );
    }
}
