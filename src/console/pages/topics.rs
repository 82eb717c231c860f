//! The topics page, the table of topics it shares with the overview, and the create and
//! delete actions.

use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use serde::Deserialize;

use super::{back, blocking, error_page, flash, forms, layout, token_field, url, Params, C};
use crate::console::kafka::{self, Reader, Topics};

pub async fn topics(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let cluster = console.kafka.clone();
    let topics =
        match blocking(move || kafka::topics(&cluster, &kafka::client::<Reader>(&cluster, None)?))
            .await
        {
            Ok(t) => t,
            Err(e) => {
                return error_page(
                    "Topics",
                    StatusCode::BAD_GATEWAY,
                    &format!("cannot list topics: {e}"),
                )
            }
        };
    let token = forms(&console);
    let body = html! {
        @if let Some(token) = token {
            form.inline method="post" action="/topics" {
                (token_field(token))
                label { "New topic" input name="name" required pattern=r"[A-Za-z0-9._\-]{1,249}"; }
                label { "Partitions" input name="partitions" type="number" min="1" max="1000" value="3"; }
                button { "Create topic" }
            }
        }
        (table(&topics, token))
    };
    layout::page("Topics", notice, error, body).into_response()
}

/// The topics; with a CSRF token (not read-only), each with its delete button.
pub fn table(topics: &Topics, token: Option<&str>) -> Markup {
    html! {
        @if let Some(why) = &topics.sizes_unknown {
            p.note #sizes-unknown { (why) }
        }
        table #topics {
            thead {
                tr {
                    th { "Topic" }
                    th.num { "Partitions" }
                    th.num { "Earliest" }
                    th.num { "Latest" }
                    th.num { "Messages" }
                    th.num { "Size" }
                    th {}
                }
            }
            tbody {
                @for t in &topics.list {
                    @let u = url(&t.name);
                    @let dead_letters = t.name.ends_with(".dlq") && t.messages() > 0;
                    tr data-topic=(t.name) {
                        td { a href={ "/topics/" (u) } class=[dead_letters.then_some("alert")] { (t.name) } }
                        td.num { (t.partitions.len()) }
                        td.num { (t.partitions.iter().map(|p| p.low).sum::<i64>()) }
                        td.num { (t.partitions.iter().map(|p| p.high).sum::<i64>()) }
                        td.num { (t.messages()) }
                        td.num { (t.size.map_or("—".to_string(), human_bytes)) }
                        td {
                            @if let Some(token) = token {
                                form method="post" action={ "/topics/" (u) "/delete" }
                                    data-confirm={ "Delete topic " (t.name) "?" } {
                                    (token_field(token))
                                    button.danger { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn human_bytes(n: i64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[derive(Deserialize)]
pub struct NewTopicForm {
    name: String,
    partitions: Option<String>,
}

pub async fn create_topic(State(console): C, Form(form): Form<NewTopicForm>) -> Redirect {
    let name = form.name.trim().to_string();
    let partitions = match form
        .partitions
        .as_deref()
        .unwrap_or("1")
        .trim()
        .parse::<i32>()
    {
        Ok(n) if (1..=1000).contains(&n) => n,
        _ => {
            return back(
                "/topics",
                "error",
                "partitions must be a whole number from 1 to 1000",
            )
        }
    };
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    match console
        .admin
        .create_topics(
            &[NewTopic::new(
                &name,
                partitions,
                TopicReplication::Fixed(console.replication_factor),
            )],
            &options,
        )
        .await
    {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) => back(
                "/topics",
                "notice",
                &format!("created topic {name} with {partitions} partition(s)"),
            ),
            Some(Err((_, code))) => back(
                "/topics",
                "error",
                &format!("cannot create topic {name:?}: {code}"),
            ),
            None => back("/topics", "error", "Kafka gave no answer"),
        },
        Err(e) => back(
            "/topics",
            "error",
            &format!("cannot create topic {name:?}: {e}"),
        ),
    }
}

pub async fn delete_topic(State(console): C, Path(name): Path<String>) -> Redirect {
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    match console.admin.delete_topics(&[&name], &options).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) => back("/topics", "notice", &format!("deleted topic {name}")),
            Some(Err((_, code))) => back(
                "/topics",
                "error",
                &format!("cannot delete topic {name:?}: {code}"),
            ),
            None => back("/topics", "error", "Kafka gave no answer"),
        },
        Err(e) => back(
            "/topics",
            "error",
            &format!("cannot delete topic {name:?}: {e}"),
        ),
    }
}
