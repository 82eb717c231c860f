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
}

/// What was read for it.
struct Loaded {
    info: TopicInfo,
    messages: Vec<MessageInfo>,
    note: Option<String>,
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
    for p in info.partitions.iter().filter(|x| chosen(x.id)) {
        let mut end = wanted.before.unwrap_or(p.high).min(p.high);
        if end < p.low {
            note = Some(format!(
                "offset {end} is before the earliest offset {} of partition {}; showing from there",
                p.low, p.id
            ));
            end = p.low;
        }
        let span = match wanted.query {
            Some(_) => SEARCH_WINDOW,
            None => wanted.limit,
        };
        let mut read = kafka::read(cluster, name, p.id, (end - span).max(p.low), end)?;
        if let Some(q) = &wanted.query {
            let has =
                |text: &Option<String>| text.as_deref().is_some_and(|t| t.contains(q.as_str()));
            read.retain(|m| has(&m.key) || has(&m.value));
        }
        messages.extend(read);
    }
    messages.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then(b.offset.cmp(&a.offset)));
    messages.truncate(wanted.limit as usize);
    Ok(Loaded {
        info,
        messages,
        note,
    })
}

fn wanted(params: &HashMap<String, String>) -> Result<Wanted, ConsoleError> {
    Ok(Wanted {
        partition: number(params, "partition")?,
        before: number(params, "before")?,
        limit: number(params, "limit")?.unwrap_or(50).clamp(1, PAGE_MAX),
        query: params
            .get("q")
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
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
    } = loaded;
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
            button { "Show" }
        }
        @if let Some(note) = note {
            p.notice { (note) }
        }
        @if wanted.query.is_some() {
            p.muted { "Search looks at the newest " (SEARCH_WINDOW) " messages of each partition." }
        }
        label.muted { input #follow type="checkbox"; " Follow live (new messages appear at the top)" }
        table #messages data-live={ "/topics/" (u) "/live" } {
            thead {
                tr { th.num { "Partition" } th.num { "Offset" } th { "Timestamp" } th { "Key" } th { "Headers" } th { "Value" } }
            }
            tbody { (messages::rows(messages)) }
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
            h2 { "Produce a message" }
            form.inline method="post" action={ "/topics/" (u) "/produce" } {
                (token_field(token))
                label { "Key" input name="key"; }
                label { "Partition (blank: by key)" input name="partition" type="number" min="0"; }
                label { "Headers (one \"name: value\" a line)" textarea name="headers" {} }
                label { "Value (JSON)" textarea name="value" required { "{}" } }
                button { "Send" }
            }
        }
    }
}
