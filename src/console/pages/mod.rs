//! The console's pages and form actions, one file per page. Kafka calls block (rdkafka), so
//! they run on the blocking pool; every failure becomes a message on the page, never a blank
//! page or a 500. Pages are maud templates, which escape every value they are given.

mod dead_letters;
mod export;
mod group;
mod groups;
mod layout;
mod live;
mod messages;
mod orders;
mod overview;
mod produce;
mod topic;
mod topic_settings;
mod topics;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::error::ConsoleError;
use super::kafka::{self, GroupInfo, Reader, Topics};
use super::Console;

pub use dead_letters::{dead_letters, redrive};
pub use export::export;
pub use group::{delete_group, delete_offsets, group, preview as reset_preview, reset};
pub use groups::groups;
pub use live::live;
pub use orders::orders;
pub use overview::overview;
pub use produce::produce;
pub use topic::topic;
pub use topic_settings::{add_partitions, alter_retention, topic_settings};
pub use topics::{create_topic, delete_topic, topics};

type C = State<Arc<Console>>;
type Params = Query<HashMap<String, String>>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ConsoleError> + Send + 'static,
) -> Result<T, ConsoleError> {
    tokio::task::spawn_blocking(f).await?
}

/// The notice and error a form action sent back in the query string.
fn flash(params: &HashMap<String, String>) -> (Option<&str>, Option<&str>) {
    (
        params.get("notice").map(String::as_str),
        params.get("error").map(String::as_str),
    )
}

fn back(to: &str, key: &str, message: &str) -> Redirect {
    Redirect::to(&format!("{to}?{key}={}", url(message)))
}

/// Percent-encodes a path segment or query value. maud escapes attributes for HTML, which
/// does not make a value safe inside a URL.
fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The CSRF token for a page's forms, or `None` when the console is read-only (no forms).
fn forms(console: &Console) -> Option<&str> {
    (!console.read_only).then_some(console.csrf_token.as_str())
}

fn token_field(token: &str) -> Markup {
    html! { input type="hidden" name=(super::guard::FIELD) value=(token); }
}

pub(super) fn error_page(title: &str, status: StatusCode, message: &str) -> Response {
    (status, layout::page(title, None, Some(message), html! {})).into_response()
}

async fn snapshot(
    console: &Console,
) -> Result<(Vec<String>, Topics, Vec<GroupInfo>), ConsoleError> {
    let cluster = console.kafka.clone();
    blocking(move || {
        let client: Reader = kafka::client(&cluster, None)?;
        let topics = kafka::topics(&cluster, &client)?;
        let groups = kafka::groups(&client, &cluster, &topics.list, None)?;
        Ok((kafka::brokers(&client)?, topics, groups))
    })
    .await
}

pub async fn not_found() -> Response {
    error_page("Not found", StatusCode::NOT_FOUND, "There is no such page.")
}
