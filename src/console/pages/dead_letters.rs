//! The dead-letter page: every `*.dlq` topic, its dead letters with error, origin and age, and
//! redrive of one, a selection or all of them back to where they came from ([`redrive`]).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::{
    back, blocking, error_page, flash, forms, layout, messages, token_field, url, Params, C,
};
use crate::console::kafka::{self, Reader};
use crate::console::redrive::{self, DeadLetter, Noted, Picked};

pub async fn dead_letters(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let title = "Dead letters";
    let cluster = console.kafka.clone();
    let listed = blocking(move || {
        let client: Reader = kafka::client(&cluster, None)?;
        kafka::topics(&cluster, &client)
    })
    .await;
    let topics = match listed {
        Ok(t) => t.list,
        Err(e) => return error_page(title, StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    let dlqs: Vec<_> = topics
        .iter()
        .filter(|t| redrive::is_dead_letter_topic(&t.name))
        .collect();
    let chosen = params
        .get("topic")
        .cloned()
        .or_else(|| dlqs.first().map(|t| t.name.clone()));
    if let Some(name) = chosen
        .as_deref()
        .filter(|n| !redrive::is_dead_letter_topic(n))
    {
        return error_page(
            title,
            StatusCode::BAD_REQUEST,
            &format!("{name} is not a dead-letter topic (its name would end in .dlq)"),
        );
    }
    let letters = match chosen.clone() {
        None => Vec::new(),
        Some(dlq) => {
            let console = console.clone();
            match blocking(move || redrive::list(&console, &dlq)).await {
                Ok(l) => l,
                Err(e) => return error_page(title, StatusCode::NOT_FOUND, &e.to_string()),
            }
        }
    };
    let body = html! {
        @if dlqs.is_empty() {
            p.muted { "No dead-letter topics (topics whose name ends in .dlq) yet." }
        } @else {
            p {
                @for t in &dlqs {
                    a.dlq href={ "/dead-letters?topic=" (url(&t.name)) } { (t.name) " (" (t.messages()) ")" }
                    " "
                }
            }
        }
        @if let Some(dlq) = &chosen {
            (list(dlq, &letters, forms(&console)))
        }
    };
    layout::page(title, notice, error, body).into_response()
}

fn age(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "—".into() };
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let secs = (now.saturating_sub(ms) / 1000).max(0);
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

fn list(dlq: &str, letters: &[DeadLetter], token: Option<&str>) -> Markup {
    let pending = letters
        .iter()
        .filter(|l| l.noted.is_none_or(|(n, _)| n == Noted::Failed))
        .count();
    html! {
        h2 { (dlq) }
        p.muted {
            (letters.len()) " shown (the newest " (redrive::SHOWN) " of each partition), "
            (pending) " not redriven. A redrive sends key, value and the original headers back to the origin topic with a "
            code { (redrive::REDRIVE_COUNT) } " header, and notes it in " code { (redrive::ledger_topic(dlq)) } ", so none is sent twice."
        }
        form #redrive method="post" action="/dead-letters/redrive" {
            @if let Some(token) = token {
                (token_field(token))
                input type="hidden" name="topic" value=(dlq);
                div.inline {
                    button name="all" value="" { "Redrive selected" }
                    button name="all" value="1" data-confirm={ "Send every dead letter of " (dlq) " not yet redriven back to its origin?" } { "Redrive all" }
                }
            }
                table #dead-letters {
                    thead {
                        tr { th {} th.num { "Partition" } th.num { "Offset" } th { "Age" } th { "Origin" } th { "Error" } th { "Key" } th { "Value" } th { "State" } }
                    }
                    tbody {
                        @for l in letters {
                            @let m = &l.message;
                            @let id = format!("{}:{}", m.partition, m.offset);
                            tr data-id=(id) {
                                td {
                                    @if token.is_some() && l.unsendable.is_none() && l.noted.is_none_or(|(n, _)| n == Noted::Failed) {
                                        input type="checkbox" name="pick" value=(id) aria-label={ "select " (id) };
                                    }
                                }
                                td.num { (m.partition) }
                                td.num { (m.offset) }
                                td title=(messages::time(m.timestamp)) { (age(m.timestamp)) }
                                td { @match &l.origin { Some((t, p, o)) => { (t) "/" (p) " @" (o) }, None => span.muted { "unknown" } } }
                                td.error-text { pre { (l.error.as_deref().unwrap_or("")) } }
                                td { pre { (m.key.as_deref().map_or("(null)".into(), |k| messages::show(k).line())) } }
                                td { pre { (m.value.as_deref().map_or("(null)".into(), |v| messages::show(v).line())) } }
                                td.state {
                                    @match (l.noted, &l.unsendable) {
                                        (Some((Noted::Sent, at)), _) => { "redriven " (messages::time(Some(at))) }
                                        (Some((Noted::Sending, at)), _) => span.alert title="the console stopped before Kafka confirmed it: look for it in the origin topic" { "uncertain: sending began " (messages::time(Some(at))) }
                                        (_, Some(why)) => span.muted { "cannot be redriven: " (why) }
                                        (Some((Noted::Failed, at)), None) => { "waiting (a redrive failed " (messages::time(Some(at))) ")" }
                                        (None, None) => "waiting",
                                    }
                                }
                            }
                        }
                    }
                }
        }
        @if letters.is_empty() {
            p.muted { "No dead letters in " (dlq) "." }
        }
    }
}

/// The redrive form: `topic`, `pick` (repeated, `partition:offset`) and `all`. Parsed by hand:
/// a form's repeated field is a list, which serde's form decoding does not take.
pub async fn redrive(State(console): C, body: Bytes) -> Redirect {
    let mut topic = None;
    let mut all = false;
    let mut picks = std::collections::BTreeSet::new();
    let mut bad = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "topic" => topic = Some(v.into_owned()),
            "all" => all = v == "1",
            "pick" => match v
                .split_once(':')
                .and_then(|(p, o)| Some((p.parse().ok()?, o.parse().ok()?)))
            {
                Some(pick) => {
                    picks.insert(pick);
                }
                None => bad = Some(format!("pick must be PARTITION:OFFSET, not {v:?}")),
            },
            _ => {}
        }
    }
    let Some(dlq) = topic.filter(|t| redrive::is_dead_letter_topic(t)) else {
        return back(
            "/dead-letters",
            "error",
            "topic: name a dead-letter topic (ending in .dlq)",
        );
    };
    let to = format!("/dead-letters?topic={}", url(&dlq));
    let back_to = |key: &str, message: &str| Redirect::to(&format!("{to}&{key}={}", url(message)));
    if let Some(bad) = bad {
        return back_to("error", &bad);
    }
    if !all && picks.is_empty() {
        return back_to(
            "error",
            "select the dead letters to redrive, or choose Redrive all",
        );
    }
    let which = if all {
        Picked::All
    } else {
        Picked::These(picks)
    };
    match redrive::redrive(&console, &dlq, which).await {
        Ok(done) => {
            let mut text = format!("redrove {} dead letter(s)", done.sent);
            if done.already > 0 {
                text.push_str(&format!(
                    "; {} had been redriven already and were not sent again",
                    done.already
                ));
            }
            if !done.refused.is_empty() {
                text.push_str(&format!("; not sent: {}", done.refused.join("; ")));
                if done.refused_count > 0 {
                    text.push_str(&format!(" and {} more", done.refused_count));
                }
            }
            back_to("notice", &text)
        }
        Err(e) => back_to("error", &format!("redrive stopped: {e}")),
    }
}
