//! The overview: counts, the broker, every topic and every group on one page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{error_page, flash, forms, groups, layout, snapshot, topics, Params, C};
use crate::console::kafka::{GroupInfo, TopicInfo};
use crate::console::redrive;
use crate::console::Console;

pub async fn overview(State(console): C, Query(params): Params) -> Response {
    let (notice, error) = flash(&params);
    let (brokers, topics, groups) = match snapshot(&console).await {
        Ok(s) => s,
        Err(e) => {
            return error_page(
                "Overview",
                StatusCode::BAD_GATEWAY,
                &format!("Kafka at {} is not reachable: {e}", console.kafka.bootstrap),
            )
        }
    };
    let dlq = dlq_count(&topics.list);
    let body = html! {
        div.cards {
            div.card { b { (topics.list.len()) } span { "topics" } }
            div.card { b { (topics.list.iter().map(TopicInfo::messages).sum::<i64>()) } span { "messages" } }
            div.card { b { (groups.len()) } span { "consumer groups" } }
            div.card { b { (groups.iter().map(GroupInfo::total_lag).sum::<i64>()) } span { "total lag" } }
            a.card #dead-letter-count href="/dead-letters" { b class=[(dlq > 0).then_some("alert")] { (dlq) } span { "dead letters not redriven" } }
        }
        (broker(&console, &brokers))
        h2 { "Topics" }
        (topics::table(&topics, forms(&console)))
        (groups::section(&groups))
    };
    layout::page("Overview", notice, error, body).into_response()
}

/// Dead letters not yet redriven: those in `*.dlq` topics less the entries of their ledgers.
fn dlq_count(topics: &[TopicInfo]) -> i64 {
    let count = |name: &str| {
        topics
            .iter()
            .find(|t| t.name == name)
            .map_or(0, TopicInfo::messages)
    };
    topics
        .iter()
        .filter(|t| redrive::is_dead_letter_topic(&t.name))
        .map(|t| (t.messages() - count(&redrive::ledger_topic(&t.name))).max(0))
        .sum()
}

fn broker(console: &Console, brokers: &[String]) -> Markup {
    html! {
        h2 { "Broker" }
        table {
            tbody {
                @match &console.embedded {
                    Some(stats) => {
                        @let st = stats.stats();
                        @let secs = (st.uptime_ms as f64 / 1000.0).max(0.001);
                        tr { th { "Kind" } td { "kafka-orders built-in broker " (env!("CARGO_PKG_VERSION")) } }
                        tr { th { "Advertised" } td { (console.kafka.bootstrap) } }
                        tr { th { "Uptime" } td { (format!("{secs:.0} s")) } }
                        tr {
                            th { "Requests" }
                            td { (st.requests) (format!(" ({:.1}/s on average)", st.requests as f64 / secs)) }
                        }
                        tr { th { "Connections accepted" } td { (st.connections) } }
                    }
                    None => {
                        tr { th { "Kind" } td { "Kafka cluster" } }
                        tr { th { "Bootstrap" } td { (console.kafka.bootstrap) } }
                    }
                }
                tr { th { "Brokers (id, address)" } td { (brokers.join(", ")) } }
                tr { th { "Console up" } td { (format!("{:.0} s", console.started.elapsed().as_secs_f64())) } }
            }
        }
    }
}
