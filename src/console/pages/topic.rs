//! A topic's page: its partitions, its messages (paged, searchable, followed live) and a form
//! to produce one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{blocking, error_page, flash, forms, layout, messages, token_field, url, Params, C};
use crate::console::error::ConsoleError;
use crate::console::kafka::{self, MessageInfo, Reader, TopicInfo};
use crate::kafka::Kafka;

/// Most messages a page shows, and how far back a search looks per partition.
const PAGE_MAX: i64 = 200;
const SEARCH_WINDOW: i64 = 5_000;

/// What the query string asks for.
#[derive(Clone)]
struct Wanted {
    partition: Option<i64>,
    before: Option<i64>,
    limit: i64,
    query: Option<String>,
    /// Time range, ms since the epoch: from included, until excluded.
    from: Option<i64>,
    until: Option<i64>,
    /// A header's name, and the value it must have (`name=value`) if given.
    header: Option<(String, Option<String>)>,
    /// The message (partition, offset) the produce form is filled with.
    resend: Option<(i32, i64)>,
}

impl Wanted {
    /// Whether the messages read are filtered, so a wider window is read.
    fn filters(&self) -> bool {
        self.query.is_some() || self.header.is_some() || self.from.is_some() || self.until.is_some()
    }

    fn keeps(&self, m: &MessageInfo) -> bool {
        let query = self.query.as_deref().is_none_or(|q| {
            [&m.key, &m.value]
                .into_iter()
                .flatten()
                .any(|b| String::from_utf8_lossy(b).contains(q))
        });
        let header = self
            .header
            .as_ref()
            .is_none_or(|(name, value)| match value {
                Some(want) => m.header(name).as_ref() == Some(want),
                None => m.headers.iter().any(|(k, _)| k == name),
            });
        let ts = m.timestamp.unwrap_or(i64::MIN);
        let time = self.from.is_none_or(|f| ts >= f) && self.until.is_none_or(|u| ts < u);
        query && header && time
    }
}

/// What was read for it.
struct Loaded {
    info: TopicInfo,
    messages: Vec<MessageInfo>,
    note: Option<String>,
    /// The message to re-send, for the produce form.
    resend: Option<MessageInfo>,
}

/// Newest first. One partition pages back with `before`; all partitions show the newest of
/// each, merged by time. `q` keeps messages whose key or value contains it.
pub async fn topic(State(console): C, Path(name): Path<String>, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let title = format!("Topic {name}");
    let wanted = match wanted(&params) {
        Ok(w) => w,
        Err(e) => return error_page(&title, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let cluster = console.kafka.clone();
    let (topic_name, w) = (name.clone(), wanted.clone());
    let loaded = blocking(move || load(&cluster, &topic_name, &w)).await;
    match loaded {
        Ok(loaded) => {
            let page = body(&name, &wanted, &loaded, forms(&console));
            layout::page(&title, notice, error, page).into_response()
        }
        Err(e) => error_page(&title, StatusCode::NOT_FOUND, &e.to_string()),
    }
}

fn load(cluster: &Kafka, name: &str, wanted: &Wanted) -> Result<Loaded, ConsoleError> {
    let info = kafka::topic(&kafka::client::<Reader>(cluster, None)?, name)?;
    if let Some(p) = wanted.partition {
        if !info.partitions.iter().any(|x| i64::from(x.id) == p) {
            return Err(ConsoleError::Input(format!(
                "topic {name} has no partition {p}"
            )));
        }
    }
    let mut messages = Vec::new();
    let mut note = None;
    let chosen = |id: i32| wanted.partition.is_none_or(|want| i64::from(id) == want);
    let client: Reader = kafka::client(cluster, None)?;
    let at = |ms: Option<i64>| match ms {
        Some(ms) => kafka::offsets_at(&client, info.partitions.iter().map(|p| (name, p.id)), ms),
        None => Ok(Default::default()),
    };
    let (from, until) = (at(wanted.from)?, at(wanted.until)?);
    for p in info.partitions.iter().filter(|x| chosen(x.id)) {
        let mut end = wanted.before.unwrap_or(p.high).min(p.high);
        if wanted.until.is_some() {
            // No offset at or after `until`: every message is before it.
            end = end.min(
                until
                    .get(&(name.to_string(), p.id))
                    .copied()
                    .unwrap_or(p.high),
            );
        }
        if end < p.low {
            note = Some(format!(
                "offset {end} is before the earliest offset {} of partition {}; showing from there",
                p.low, p.id
            ));
            end = p.low;
        }
        let span = if wanted.filters() {
            SEARCH_WINDOW
        } else {
            wanted.limit
        };
        let first = match wanted.from {
            // No offset at or after `from`: nothing is in the range.
            Some(_) => from
                .get(&(name.to_string(), p.id))
                .copied()
                .unwrap_or(p.high),
            None => p.low,
        };
        let start = (end - span).max(p.low).max(first);
        let mut read = kafka::read(cluster, name, p.id, start, end)?;
        read.retain(|m| wanted.keeps(m));
        messages.extend(read);
    }
    messages.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.offset.cmp(&a.offset)));
    messages.truncate(wanted.limit as usize);
    let resend =
        match wanted.resend {
            Some((p, o)) => Some(kafka::read(cluster, name, p, o, o + 1)?.pop().ok_or_else(
                || ConsoleError::Input(format!("there is no message {p}:{o} to re-send")),
            )?),
            None => None,
        };
    Ok(Loaded {
        info,
        messages,
        note,
        resend,
    })
}

fn wanted(params: &HashMap<String, String>) -> Result<Wanted, ConsoleError> {
    let text = |key: &str| {
        params
            .get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let at = |key: &str| -> Result<Option<i64>, ConsoleError> {
        text(key)
            .map(|v| {
                messages::parse_time(&v).ok_or_else(|| {
                    ConsoleError::Input(format!(
                        "{key}: {v:?} is not a date and time like 2026-11-29T14:30 (UTC) or RFC 3339"
                    ))
                })
            })
            .transpose()
    };
    let resend = match text("resend") {
        None => None,
        Some(v) => Some(
            v.split_once(':')
                .and_then(|(p, o)| Some((p.parse().ok()?, o.parse().ok()?)))
                .ok_or_else(|| {
                    ConsoleError::Input(format!("resend must be PARTITION:OFFSET, not {v:?}"))
                })?,
        ),
    };
    Ok(Wanted {
        from: at("from")?,
        until: at("until")?,
        header: text("header").map(|h| match h.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
            None => (h, None),
        }),
        resend,
        partition: number(params, "partition")?,
        before: number(params, "before")?,
        limit: number(params, "limit")?.unwrap_or(50).clamp(1, PAGE_MAX),
        query: text("q"),
    })
}

fn number(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ConsoleError> {
    match params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ConsoleError::Input(format!("{key} must be a whole number, not {v:?}"))),
    }
}

fn body(name: &str, wanted: &Wanted, loaded: &Loaded, token: Option<&str>) -> Markup {
    let u = url(name);
    let Loaded {
        info,
        messages,
        note,
        resend,
    } = loaded;
    let at = |ms: Option<i64>| ms.map(|ms| messages::time(Some(ms)));
    html! {
        p { a #settings href={ "/topics/" (u) "/settings" } { "Settings: configuration, retention, partitions →" } }
        table {
            thead { tr { th.num { "Partition" } th.num { "Earliest" } th.num { "Latest" } th.num { "Messages" } } }
            tbody {
                @for p in &info.partitions {
                    tr {
                        td.num { a href={ "/topics/" (u) "?partition=" (p.id) } { (p.id) } }
                        td.num { (p.low) }
                        td.num { (p.high) }
                        td.num { (p.high - p.low) }
                    }
                }
            }
        }
        h2 { "Messages" }
        form.inline method="get" action={ "/topics/" (u) } {
            label {
                "Partition"
                select name="partition" {
                    option value="" { "all" }
                    @for p in &info.partitions {
                        option value=(p.id) selected[wanted.partition == Some(i64::from(p.id))] { (p.id) }
                    }
                }
            }
            label { "Before offset" input name="before" type="number" min="0" value=[wanted.before]; }
            label { "Show" input name="limit" type="number" min="1" max=(PAGE_MAX) value=(wanted.limit); }
            label { "Search key or text" input name="q" value=(wanted.query.as_deref().unwrap_or("")); }
            label { "Header (name or name=value)" input name="header" value=[wanted.header.as_ref().map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.clone() })]; }
            label { "From (UTC)" input name="from" placeholder="2026-11-29T14:30" value=[at(wanted.from)]; }
            label { "Until (UTC)" input name="until" placeholder="2026-11-29T15:00" value=[at(wanted.until)]; }
            button { "Show" }
        }
        p.export {
            "Export the partition chosen (or all) up to the offset shown: "
            a #export-jsonl href={ "/topics/" (u) "/export?format=jsonl" (export_range(wanted)) } download { "JSON Lines" }
            " · "
            a #export-csv href={ "/topics/" (u) "/export?format=csv" (export_range(wanted)) } download { "CSV" }
            span.muted { " (at most " (super::export::MAX_MESSAGES) " messages)" }
        }
        @if let Some(note) = note {
            p.notice { (note) }
        }
        @if wanted.filters() {
            p.muted { "Filters look at the newest " (SEARCH_WINDOW) " messages of each partition in the range." }
        }
        label.muted { input #follow type="checkbox"; " Follow live (new messages appear at the top)" }
        table #messages data-live={ "/topics/" (u) "/live" } {
            thead {
                tr { th.num { "Partition" } th.num { "Offset" } th { "Timestamp" } th { "Key" } th { "Headers" } th { "Value" } th {} }
            }
            tbody { (messages::rows(messages, token.map(|_| name))) }
        }
        @if messages.is_empty() {
            p.muted { "No messages here." }
        }
        @if let (Some(p), Some(oldest)) = (wanted.partition, messages.last()) {
            div.pager {
                a href={ "/topics/" (u) "?partition=" (p) "&before=" (oldest.offset) "&limit=" (wanted.limit) } { "Older →" }
            }
        }
        @if let Some(token) = token {
            (produce_form(&u, token, resend.as_ref()))
        }
    }
}

/// The produce form, filled with a message to re-send when there is one.
fn produce_form(u: &str, token: &str, resend: Option<&MessageInfo>) -> Markup {
    let text = |b: Option<&Vec<u8>>| b.map(|b| String::from_utf8_lossy(b).into_owned());
    let key = resend.and_then(|m| text(m.key.as_ref()));
    let headers = resend.map(messages::header_lines).unwrap_or_default();
    let value = resend.map_or(Some("{}".to_string()), |m| text(m.value.as_ref()));
    let json = value.as_deref().is_none_or(|v| messages::pretty(v).0);
    html! {
        h2 #produce {
            @match resend {
                Some(m) => { "Re-send message " (m.partition) ":" (m.offset) }
                None => "Produce a message",
            }
        }
        form.inline method="post" action={ "/topics/" (u) "/produce" } {
            (token_field(token))
            label { "Key" input name="key" value=[key]; }
            label { "Partition (blank: by key)" input name="partition" type="number" min="0"; }
            label { "Headers (one \"name: value\" a line)" textarea name="headers" { (headers) } }
            // The HTML parser drops a text area's first line break: one more keeps it.
            @let value = value.unwrap_or_default();
            label { "Value" textarea name="value" required { @if value.starts_with('\n') { "\n" } (value) } }
            label {
                "Value is"
                select name="format" {
                    option value="json" selected[json] { "JSON (checked)" }
                    option value="text" selected[!json] { "text" }
                }
            }
            button { "Send" }
        }
    }
}

/// The export link's range: the partition and offsets the page shows.
fn export_range(wanted: &Wanted) -> String {
    let mut q = String::new();
    if let Some(p) = wanted.partition {
        q.push_str(&format!("&partition={p}"));
    }
    if let Some(b) = wanted.before {
        q.push_str(&format!("&to={b}"));
    }
    q
}
