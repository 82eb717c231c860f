//! A topic's settings page: its configuration as Kafka describes it, a form for its retention
//! (IncrementalAlterConfigs, see [`topic_configs`]) and one to add partitions
//! (CreatePartitions). Numbers are checked here first, so a typo is named by its field rather
//! than by Kafka's INVALID_CONFIG.

use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use rdkafka::admin::{AdminOptions, NewPartitions};
use serde::Deserialize;

use super::{back, blocking, error_page, flash, forms, layout, token_field, url, Params, C};
use crate::console::error::code_name;
use crate::console::error::ConsoleError;
use crate::console::kafka::{self, Reader};
use crate::console::topic_configs::{self, ConfigInfo, Edit};

/// The configs the retention form edits.
const RETENTION: [&str; 2] = ["retention.ms", "retention.bytes"];
/// The most partitions the form asks for, as the create form.
const MAX_PARTITIONS: usize = 1000;

fn settings_url(name: &str) -> String {
    format!("/topics/{}/settings", url(name))
}

pub async fn topic_settings(
    State(console): C,
    Path(name): Path<String>,
    Query(params): Params,
) -> Response {
    let (notice, error) = flash(&params);
    let title = format!("Settings of {name}");
    let cluster = console.kafka.clone();
    let topic = name.clone();
    let info =
        match blocking(move || kafka::topic(&kafka::client::<Reader>(&cluster, None)?, &topic))
            .await
        {
            Ok(info) => info,
            Err(e) => return error_page(&title, StatusCode::NOT_FOUND, &e.to_string()),
        };
    let configs = topic_configs::describe(&console.admin, &name).await;
    let page = body(&name, info.partitions.len(), &configs, forms(&console));
    layout::page(&title, notice, error, page).into_response()
}

pub fn body(
    name: &str,
    partitions: usize,
    configs: &Result<Vec<ConfigInfo>, ConsoleError>,
    token: Option<&str>,
) -> Markup {
    let u = url(name);
    let find = |key: &str| {
        configs
            .as_ref()
            .ok()
            .and_then(|c| c.iter().find(|c| c.name == key))
    };
    html! {
        p { a href={ "/topics/" (u) } { "← Messages of " (name) } }
        @if let Some(token) = token {
            h2 { "Retention" }
            // Without the topic's own values, saving would reset the one not typed in.
            @if configs.is_err() {
                p.muted { "Retention can be changed once the configuration can be read." }
            }
            @if configs.is_ok() {
            form.inline #retention method="post" action=(settings_url(name)) {
                (token_field(token))
                @for key in RETENTION {
                    @let config = find(key);
                    // Only the topic's own value is filled in: sending the default back would
                    // pin it on the topic. The value in force shows as the placeholder.
                    @let own = config.filter(|c| c.source == "topic").and_then(|c| c.value.as_deref());
                    label {
                        (key)
                        input name=(key) inputmode="numeric" value=(own.unwrap_or(""))
                            placeholder=(config.and_then(|c| c.value.as_deref()).unwrap_or(""));
                    }
                }
                button { "Save retention" }
            }
            p.muted { "Milliseconds and bytes; -1 keeps everything; empty goes back to the default." }
            }
            h2 { "Partitions" }
            form.inline #partitions method="post" action={ "/topics/" (u) "/partitions" } {
                (token_field(token))
                label {
                    "New total (now " (partitions) ")"
                    input name="partitions" type="number" min="1" max=(MAX_PARTITIONS) value=(partitions + 1);
                }
                button { "Add partitions" }
            }
            p.muted { "Partitions can be added, never removed; keys then map to other partitions." }
        }
        h2 { "Configuration" }
        @match configs {
            Ok(configs) => table #configs {
                thead { tr { th { "Name" } th { "Value" } th { "Source" } th { "Marked" } } }
                tbody {
                    @for c in configs {
                        tr data-config=(c.name) {
                            td { (c.name) }
                            td { code { (c.value.as_deref().unwrap_or(if c.sensitive { "(hidden)" } else { "—" })) } }
                            td { (c.source) }
                            td.muted {
                                @if c.sensitive { "sensitive " }
                                @if c.read_only { "read-only" }
                            }
                        }
                    }
                }
            },
            Err(e) => p.error { "The configuration cannot be read: " (e) },
        }
    }
}

/// A retention value as typed: empty is `None` (back to the default), -1 is unlimited.
fn retention(field: &'static str, typed: &str) -> Result<Edit, ConsoleError> {
    let typed = typed.trim();
    let value = match typed.parse::<i64>() {
        _ if typed.is_empty() => None,
        Ok(n) if n >= -1 => Some(n.to_string()),
        _ => {
            return Err(ConsoleError::Input(format!(
                "{field} must be a whole number, -1 for unlimited or empty for the default, not {typed:?}"
            )))
        }
    };
    Ok(Edit { name: field, value })
}

#[derive(Deserialize)]
pub struct RetentionForm {
    #[serde(rename = "retention.ms", default)]
    ms: String,
    #[serde(rename = "retention.bytes", default)]
    bytes: String,
}

fn edits(form: &RetentionForm) -> Result<Vec<Edit>, ConsoleError> {
    let [ms, bytes] = RETENTION;
    Ok(vec![
        retention(ms, &form.ms)?,
        retention(bytes, &form.bytes)?,
    ])
}

pub async fn alter_retention(
    State(console): C,
    Path(name): Path<String>,
    Form(form): Form<RetentionForm>,
) -> Redirect {
    let to = settings_url(&name);
    let edits = match edits(&form) {
        Ok(edits) => edits,
        Err(e) => return back(&to, "error", &e.to_string()),
    };
    let cluster = console.kafka.clone();
    let topic = name.clone();
    let altered = blocking(move || {
        let brokers =
            kafka::broker_addresses(&kafka::client::<Reader>(&cluster, None)?, Some(&topic))?;
        let done = topic_configs::alter(&cluster, &brokers, &topic, &edits);
        Ok(done.map(|()| edits))
    })
    .await;
    match altered {
        Ok(Ok(edits)) => {
            let said: Vec<String> = edits.iter().map(Edit::to_string).collect();
            back(&to, "notice", &format!("{name}: {}", said.join(", ")))
        }
        Ok(Err(e)) => back(&to, "error", &format!("{name}: {e}")),
        Err(e) => back(&to, "error", &format!("cannot reach Kafka: {e}")),
    }
}

#[derive(Deserialize)]
pub struct PartitionsForm {
    #[serde(default)]
    partitions: String,
}

/// Whether the count is more than the topic has is Kafka's to say (INVALID_PARTITIONS).
fn total(typed: &str) -> Result<usize, ConsoleError> {
    let typed = typed.trim();
    typed
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PARTITIONS).contains(n))
        .ok_or_else(|| {
            ConsoleError::Input(format!(
                "the new partition count must be a whole number from 1 to {MAX_PARTITIONS}, not {typed:?}"
            ))
        })
}

pub async fn add_partitions(
    State(console): C,
    Path(name): Path<String>,
    Form(form): Form<PartitionsForm>,
) -> Redirect {
    let to = settings_url(&name);
    let total = match total(&form.partitions) {
        Ok(n) => n,
        Err(e) => return back(&to, "error", &e.to_string()),
    };
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    let answer = console
        .admin
        .create_partitions(&[NewPartitions::new(&name, total)], &options)
        .await;
    match answer.map(|results| results.into_iter().next()) {
        Ok(Some(Ok(_))) => back(&to, "notice", &format!("{name} now has {total} partitions")),
        Ok(Some(Err((_, code)))) => back(
            &to,
            "error",
            &format!(
                "Kafka refused {total} partitions for {name}: {} ({code})",
                code_name(&format!("{code:?}"))
            ),
        ),
        Ok(None) => back(&to, "error", "Kafka gave no answer"),
        Err(e) => back(
            &to,
            "error",
            &format!("cannot add partitions to {name}: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(ms: &str, bytes: &str) -> RetentionForm {
        RetentionForm {
            ms: ms.into(),
            bytes: bytes.into(),
        }
    }

    #[test]
    fn retention_numbers_become_sets_and_empty_fields_deletes() {
        let set = |name, value: &str| Edit {
            name,
            value: Some(value.into()),
        };
        let default = |name| Edit { name, value: None };
        assert_eq!(
            edits(&form(" 3600000 ", "")).expect("accepted"),
            [set("retention.ms", "3600000"), default("retention.bytes")]
        );
        assert_eq!(
            edits(&form("-1", "1048576")).expect("accepted"),
            [set("retention.ms", "-1"), set("retention.bytes", "1048576")]
        );
    }

    #[test]
    fn a_bad_retention_names_its_field() {
        for (ms, bytes, field) in [
            ("abc", "", "retention.ms"),
            ("1.5", "", "retention.ms"),
            ("-2", "", "retention.ms"),
            ("", "10kb", "retention.bytes"),
            ("", "99999999999999999999", "retention.bytes"),
        ] {
            let err = edits(&form(ms, bytes)).expect_err("refused").to_string();
            assert!(
                err.starts_with(&format!("{field} must be a whole number")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_partition_count_is_a_whole_number_in_range() {
        assert_eq!(total(" 3 ").expect("accepted"), 3);
        for bad in ["", "0", "-1", "two", "1001"] {
            let err = total(bad).expect_err("refused").to_string();
            assert!(err.contains("from 1 to 1000"), "{err}");
        }
    }
}
