//! The orders page: the Orders API's stats, two charts, the latest orders.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde_json::Value;

use super::{error_page, layout, C};
use crate::console::error::ConsoleError;
use crate::console::Console;

pub async fn orders(State(console): C) -> Response {
    let (stats, latest) = match (
        get_json(&console, "/orders/stats").await,
        get_json(&console, "/orders?limit=1000").await,
    ) {
        (Ok(s), Ok(l)) => (s, l.as_array().cloned().unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => {
            return error_page("Orders", StatusCode::BAD_GATEWAY, &e.to_string())
        }
    };
    let by_status: Vec<(String, u64)> = stats["ordersByStatus"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let body = html! {
        (cards(&stats))
        h2 { "Orders per status" }
        (bars(&by_status))
        h2 { "Orders per minute" }
        (bars(&per_minute(&latest)))
        h2 { "Latest orders" }
        (table(&latest[..latest.len().min(20)]))
    };
    layout::page("Orders", None, None, body).into_response()
}

fn cards(stats: &Value) -> Markup {
    html! {
        div.cards {
            div.card { b #total-orders { (stats["totalOrders"]) } span { "orders" } }
            div.card { b { (stats["totalRevenue"]) } span { "revenue" } }
            div.card { b { (stats["averageOrderValue"]) } span { "average order" } }
            div.card { b { (stats["totalItems"]) } span { "items" } }
            div.card { b { (stats["uniqueUsers"]) } span { "customers" } }
        }
    }
}

pub fn table(orders: &[Value]) -> Markup {
    html! {
        table {
            thead { tr { th { "Id" } th { "User" } th { "Status" } th.num { "Total" } th { "Created" } } }
            tbody {
                @for o in orders {
                    tr {
                        td { (field(o, "id")) }
                        td { (field(o, "userId")) }
                        td { (field(o, "status")) }
                        td.num { (o["totalAmount"]) }
                        td { (field(o, "createdAt")) }
                    }
                }
            }
        }
    }
}

/// A text field of an order, or nothing.
fn field<'a>(order: &'a Value, name: &str) -> &'a str {
    order[name].as_str().unwrap_or("")
}

async fn get_json(console: &Console, path: &str) -> Result<Value, ConsoleError> {
    let base = console
        .orders_api
        .as_deref()
        .ok_or(ConsoleError::NoOrdersApi)?;
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let response =
        console
            .http
            .get(&url)
            .send()
            .await
            .map_err(|source| ConsoleError::OrdersApi {
                base: base.to_string(),
                source,
            })?;
    response
        .json()
        .await
        .map_err(|source| ConsoleError::OrdersApi {
            base: base.to_string(),
            source,
        })
}

/// Orders per minute over the last 15 minutes, from the orders' creation times.
fn per_minute(orders: &[Value]) -> Vec<(String, u64)> {
    let now = time::OffsetDateTime::now_utc();
    let mut buckets = vec![0u64; 15];
    for o in orders {
        let Some(created) = o["createdAt"].as_str().and_then(|c| {
            time::OffsetDateTime::parse(c, &time::format_description::well_known::Rfc3339).ok()
        }) else {
            continue;
        };
        let age = (now - created).whole_minutes();
        if (0..15).contains(&age) {
            buckets[14 - age as usize] += 1;
        }
    }
    buckets
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            (
                if i == 14 {
                    "this minute".into()
                } else {
                    format!("{} min ago", 14 - i)
                },
                n,
            )
        })
        .collect()
}

/// A horizontal bar chart as inline SVG (no script, no library).
pub fn bars(rows: &[(String, u64)]) -> Markup {
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    html! {
        svg.chart viewBox={ "0 0 420 " (rows.len() * 24 + 4) } role="img" {
            @for (i, (label, value)) in rows.iter().enumerate() {
                @let y = i * 24 + 2;
                @let w = (*value as f64 / max as f64 * 260.0).round();
                text x="0" y=(y + 14) { (label) }
                rect x="110" y=(y) width=(w) height="18" rx="3" {}
                text x=(116.0 + w) y=(y + 14) { (value) }
            }
        }
    }
}
