//! One consumer group's page and its operations: reset offsets (previewed with the lag they
//! leave, then applied), delete the group's offsets of one topic, delete the group.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::{
    back, blocking, error_page, flash, forms, groups, layout, token_field, url, Params, C,
};
use crate::console::error::ConsoleError;
use crate::console::group_ops::{self, Move, Scope, Target};
use crate::console::kafka::{self, GroupInfo, Reader, TopicInfo};

/// The reset form, as the preview's query string and as the apply form.
#[derive(Deserialize, Clone, Default)]
pub struct ResetForm {
    topic: Option<String>,
    partition: Option<String>,
    to: Option<String>,
    value: Option<String>,
}

/// The Apply form: the previewed moves (`group_ops::encode`).
#[derive(Deserialize)]
pub struct ApplyForm {
    expect: String,
}

fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ResetForm {
    /// The scope and target it asks for, or what is wrong with it, naming the field.
    fn parse(&self) -> Result<(Scope, Target), ConsoleError> {
        let input = |m: String| ConsoleError::Input(m);
        let partition =
            match filled(&self.partition) {
                None => None,
                Some(p) => Some(p.parse::<i32>().ok().filter(|p| *p >= 0).ok_or_else(|| {
                    input(format!("partition must be a whole number, not {p:?}"))
                })?),
            };
        let topic = filled(&self.topic).map(str::to_string);
        if partition.is_some() && topic.is_none() {
            return Err(input("a partition needs its topic".into()));
        }
        let value = filled(&self.value);
        let number = |what: &str| -> Result<i64, ConsoleError> {
            let v = value.ok_or_else(|| input(format!("value: give the {what}")))?;
            v.parse().map_err(|_| {
                input(format!(
                    "value: the {what} must be a whole number, not {v:?}"
                ))
            })
        };
        let target = match filled(&self.to).unwrap_or("") {
            "earliest" => Target::Earliest,
            "latest" => Target::Latest,
            "offset" => Target::Offset(number("offset")?),
            "shift" => Target::Shift(number("shift")?),
            "datetime" => {
                let v = value.ok_or_else(|| input("value: give the date and time".into()))?;
                Target::Time(super::messages::parse_time(v).ok_or_else(|| {
                    input(format!(
                        "value: {v:?} is not a date and time like 2026-11-29T14:30 (UTC) or RFC 3339"
                    ))
                })?)
            }
            other => {
                return Err(input(format!(
                    "to must be earliest, latest, datetime, offset or shift, not {other:?}"
                )))
            }
        };
        Ok((Scope { topic, partition }, target))
    }
}

struct Loaded {
    group: GroupInfo,
    topics: Vec<TopicInfo>,
}

async fn load(console: &crate::console::Console, name: &str) -> Result<Loaded, ConsoleError> {
    let (cluster, name) = (console.kafka.clone(), name.to_string());
    blocking(move || {
        let client: Reader = kafka::client(&cluster, None)?;
        let topics = kafka::topics(&cluster, &client)?.list;
        let group = kafka::groups(&client, &cluster, &topics, Some(&name))?
            .into_iter()
            .next()
            .filter(|g| g.state != "Dead" || g.lag.as_ref().map_or(true, |l| !l.is_empty()))
            .ok_or_else(|| ConsoleError::Input(format!("group {name:?} does not exist")))?;
        Ok(Loaded { group, topics })
    })
    .await
}

fn to_group(name: &str) -> String {
    format!("/groups/{}", url(name))
}

pub async fn group(State(console): C, Path(name): Path<String>, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let title = format!("Group {name}");
    let loaded = match load(&console, &name).await {
        Ok(l) => l,
        // With the notice of what was just done: deleting a group's last offsets makes the
        // built-in broker forget an empty group at once.
        Err(e) => {
            let page = layout::page(&title, notice, Some(&e.to_string()), html! {});
            return (StatusCode::NOT_FOUND, page).into_response();
        }
    };
    let body = html! {
        (groups::section(std::slice::from_ref(&loaded.group)))
        @if let Some(token) = forms(&console) {
            (reset_form(&name, &loaded, &ResetForm::default()))
            (delete_forms(&name, &loaded, token))
        }
    };
    layout::page(&title, notice, error, body).into_response()
}

fn reset_form(name: &str, loaded: &Loaded, form: &ResetForm) -> Markup {
    let to = filled(&form.to).unwrap_or("earliest");
    let topic = filled(&form.topic);
    html! {
        h2 { "Reset offsets" }
        p.muted { "A preview shows the new offsets and the lag they leave before anything changes. \
                   Kafka takes them only while the group has no active members." }
        form.inline #reset method="get" action={ (to_group(name)) "/reset" } {
            label {
                "Topic"
                select name="topic" {
                    option value="" { "every topic it has offsets for" }
                    @for t in &loaded.topics {
                        option value=(t.name) selected[topic == Some(t.name.as_str())] { (t.name) }
                    }
                }
            }
            label { "Partition (blank: all)" input name="partition" type="number" min="0" value=[filled(&form.partition)]; }
            label {
                "To"
                select name="to" {
                    @for (v, text) in [("earliest", "earliest"), ("latest", "latest"), ("datetime", "a date and time (UTC)"), ("offset", "an offset"), ("shift", "shifted by N")] {
                        option value=(v) selected[to == v] { (text) }
                    }
                }
            }
            label { "Value (date, offset or N)" input name="value" value=[filled(&form.value)] placeholder="2026-11-29T14:30, 42 or -10"; }
            button { "Preview" }
        }
    }
}

fn delete_forms(name: &str, loaded: &Loaded, token: &str) -> Markup {
    let with_offsets: Vec<&str> = {
        let mut t: Vec<&str> = loaded
            .group
            .lag
            .iter()
            .flatten()
            .map(|l| l.topic.as_str())
            .collect();
        t.dedup();
        t
    };
    html! {
        @if !with_offsets.is_empty() {
            h2 { "Delete the group's offsets of a topic" }
            form.inline #delete-offsets method="post" action={ (to_group(name)) "/offsets/delete" }
                data-confirm={ "Delete group " (name) "'s committed offsets of this topic?" } {
                (token_field(token))
                label {
                    "Topic"
                    select name="topic" {
                        @for t in &with_offsets { option value=(t) { (t) } }
                    }
                }
                button.danger { "Delete offsets" }
            }
        }
        h2 { "Delete the group" }
        form.inline #delete-group method="post" action={ (to_group(name)) "/delete" }
            data-confirm={ "Delete group " (name) " and all its committed offsets?" } {
            (token_field(token))
            button.danger { "Delete group " (name) }
        }
    }
}

/// The preview: what a reset would commit, with an Apply form carrying the same fields.
pub async fn preview(
    State(console): C,
    Path(name): Path<String>,
    Query(form): Query<ResetForm>,
) -> Response {
    let title = format!("Reset offsets of group {name}");
    let loaded = match load(&console, &name).await {
        Ok(l) => l,
        Err(e) => return error_page(&title, StatusCode::NOT_FOUND, &e.to_string()),
    };
    let planned = match form.parse() {
        Ok((scope, target)) => {
            let (cluster, group) = (console.kafka.clone(), name.clone());
            blocking(move || {
                let client: Reader = kafka::client(&cluster, None)?;
                let moves = group_ops::plan(&cluster, &client, &group, &scope, target)?;
                let refusal = group_ops::require_empty(&client, &group).err();
                Ok((moves, refusal))
            })
            .await
        }
        Err(e) => Err(e),
    };
    let (moves, refusal) = match planned {
        Ok(p) => p,
        Err(e) => {
            let body = reset_form(&name, &loaded, &form);
            return (
                StatusCode::BAD_REQUEST,
                layout::page(&title, None, Some(&e.to_string()), body),
            )
                .into_response();
        }
    };
    let refusal = refusal.map(|e| e.to_string());
    let body = html! {
        (moves_table(&moves))
        @if moves.is_empty() {
            p.muted { "Nothing to reset: the group has no offsets there." }
        } @else if let Some(token) = forms(&console).filter(|_| refusal.is_none()) {
            form.inline #apply method="post" action={ (to_group(&name)) "/reset" } {
                (token_field(token))
                input type="hidden" name="expect" value=(group_ops::encode(&moves));
                button { "Apply" }
            }
        }
        p { a href=(to_group(&name)) { "Back to group " (name) } }
        (reset_form(&name, &loaded, &form))
    };
    layout::page(&title, None, refusal.as_deref(), body).into_response()
}

fn moves_table(moves: &[Move]) -> Markup {
    html! {
        table #preview {
            thead {
                tr { th { "Topic" } th.num { "Partition" } th.num { "Committed now" } th.num { "New offset" } th.num { "Latest" } th.num { "Lag after" } }
            }
            tbody {
                @for m in moves {
                    tr {
                        td { (m.topic) }
                        td.num { (m.partition) }
                        td.num { @match m.committed { Some(c) => (c), None => "—" } }
                        td.num.new { (m.new) }
                        td.num { (m.high) }
                        td.num { (m.lag()) }
                    }
                }
            }
        }
    }
}

/// Applies a previewed reset: exactly the offsets shown, if the group's offsets are still
/// the ones the preview saw (an Apply sent twice does not shift twice).
pub async fn reset(
    State(console): C,
    Path(name): Path<String>,
    Form(form): Form<ApplyForm>,
) -> Redirect {
    let to = to_group(&name);
    let planned = match group_ops::decode(&form.expect) {
        Ok(p) => p,
        Err(e) => return back(&to, "error", &e.to_string()),
    };
    let (cluster, group) = (console.kafka.clone(), name.clone());
    let count = planned.len();
    let done = blocking(move || {
        let client: Reader = kafka::client(&cluster, None)?;
        group_ops::apply(&cluster, &client, &group, &planned)
    })
    .await;
    match done {
        Ok(()) => back(
            &to,
            "notice",
            &format!("reset {count} partition offset(s) of group {name}"),
        ),
        Err(e) => back(&to, "error", &format!("offsets not reset: {e}")),
    }
}

#[derive(Deserialize)]
pub struct TopicForm {
    topic: String,
}

pub async fn delete_offsets(
    State(console): C,
    Path(name): Path<String>,
    Form(form): Form<TopicForm>,
) -> Redirect {
    let to = to_group(&name);
    let (cluster, group, topic) = (console.kafka.clone(), name.clone(), form.topic.clone());
    let done = blocking(move || {
        let client: Reader = kafka::client(&cluster, None)?;
        group_ops::delete_offsets(&cluster, &client, &group, &topic)
    })
    .await;
    match done {
        Ok(()) => back(
            &to,
            "notice",
            &format!("deleted group {name}'s offsets of {}", form.topic),
        ),
        Err(e) => back(&to, "error", &e.to_string()),
    }
}

pub async fn delete_group(State(console): C, Path(name): Path<String>) -> Redirect {
    match group_ops::delete_group(&console, &name).await {
        Ok(()) => back("/groups", "notice", &format!("deleted group {name}")),
        Err(e) => back(&to_group(&name), "error", &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(topic: &str, partition: &str, to: &str, value: &str) -> ResetForm {
        let some = |s: &str| Some(s.to_string());
        ResetForm {
            topic: some(topic),
            partition: some(partition),
            to: some(to),
            value: some(value),
        }
    }

    #[test]
    fn the_reset_form_names_what_is_wrong() {
        let ok = form("t", "2", "shift", "-5").parse().expect("valid");
        assert_eq!(ok.0.partition, Some(2));
        assert_eq!(ok.1, Target::Shift(-5));
        let at = form("", "", "datetime", "1970-01-01T00:01")
            .parse()
            .expect("valid");
        assert_eq!(at.1, Target::Time(60_000));
        let rfc = form("", "", "datetime", "1970-01-01T00:00:01+00:00")
            .parse()
            .expect("valid");
        assert_eq!(rfc.1, Target::Time(1_000));
        for (bad, says) in [
            (
                form("t", "x", "earliest", ""),
                "partition must be a whole number",
            ),
            (form("", "1", "earliest", ""), "a partition needs its topic"),
            (form("t", "", "offset", ""), "value: give the offset"),
            (form("t", "", "offset", "ten"), "must be a whole number"),
            (
                form("t", "", "datetime", "yesterday"),
                "is not a date and time",
            ),
            (form("t", "", "sideways", ""), "to must be earliest"),
        ] {
            let err = bad.parse().expect_err("refused").to_string();
            assert!(err.contains(says), "{err}");
        }
    }
}
