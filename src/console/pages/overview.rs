//! The overview: counts, the broker, every topic and every group on one page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::{blocking, error_page, flash, forms, groups, layout, snapshot, topics, Params, C};
use crate::console::kafka::{self, GroupInfo, Reader, TopicInfo};
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
    // Dead letters not redriven: each dead-letter topic's ledger says which were.
    let (cluster, list) = (console.kafka.clone(), topics.list.clone());
    let dlq = blocking(move || {
        let client: Reader = kafka::client(&cluster, None)?;
        redrive::waiting(&cluster, &client, &list)
    })
    .await;
    let body = html! {
        div.cards {
            div.card { b { (topics.list.len()) } span { "topics" } }
            div.card { b { (topics.list.iter().map(TopicInfo::messages).sum::<i64>()) } span { "messages" } }
            div.card { b { (groups.len()) } span { "consumer groups" } }
            div.card { b { (groups.iter().map(GroupInfo::total_lag).sum::<i64>()) } span { "total lag" } }
            @match &dlq {
                Ok(dlq) => a.card #dead-letter-count href="/dead-letters" { b class=[(*dlq > 0).then_some("alert")] { (dlq) } span { "dead letters not redriven" } },
                Err(e) => a.card #dead-letter-count href="/dead-letters" title=(e) { b { "?" } span { "dead letters: not read" } },
            }
        }
        (broker(&console, &brokers))
        h2 { "Topics" }
        (topics::table(&topics, forms(&console)))
        (groups::section(&groups))
    };
    layout::page("Overview", notice, error, body).into_response()
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
