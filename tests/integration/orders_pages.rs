//! `GET /orders` answers a page at a time: 100 orders unless `limit` says, at most 1000, and
//! a `Link: rel="next"` header to the next page while one remains.

use std::collections::HashSet;

use kafka_orders::app::Services;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{next_link, orders, settings, TestApp};

/// More orders than fit in a page of the default size.
const STORED: usize = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_is_a_page_of_100_with_a_link_to_the_next_and_a_limit_over_1000_is_refused() {
    // The Orders API alone: orders are stored the way the consumer stores them.
    let app = TestApp::start(settings("127.0.0.1:1", "pages"), Services::OrdersApi).await;
    let api = app.api.clone();
    let client = reqwest::Client::new();
    for i in 0..STORED {
        let order = json!({
            "id": format!("order-page-{i}"), "userId": "u", "status": "pending",
            "createdAt": "2026-01-01T00:00:00Z",
            "products": [{"id": "p", "name": "P", "price": 2.5, "quantity": 4}], "totalAmount": 10
        });
        let stored = client
            .post(format!("{api}/orders"))
            .json(&order)
            .send()
            .await
            .expect("POST /orders");
        assert_eq!(stored.status(), StatusCode::CREATED);
    }

    let first = reqwest::get(format!("{api}/orders")).await.expect("GET");
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(
        first.headers()["x-total-count"],
        STORED.to_string().as_str()
    );
    let next = next_link(&first).expect("a Link to the next page");
    assert_eq!(next, "/orders?limit=100&offset=100");
    let first: Vec<Value> = first.json().await.expect("json");
    assert_eq!(first.len(), 100);
    assert_eq!(
        first[0]["id"],
        format!("order-page-{}", STORED - 1),
        "newest first"
    );

    let last = reqwest::get(format!("{api}{next}")).await.expect("GET");
    assert_eq!(next_link(&last), None, "the last page has no next");
    let last: Vec<Value> = last.json().await.expect("json");
    assert_eq!(last.len(), STORED - 100);
    let ids: HashSet<&Value> = first.iter().chain(&last).map(|o| &o["id"]).collect();
    assert_eq!(ids.len(), STORED, "the two pages hold every order once");
    assert_eq!(orders(&api).await.len(), STORED, "the tests' own lister");

    let refused = reqwest::get(format!("{api}/orders?limit=1001"))
        .await
        .expect("GET");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = refused.json().await.expect("json");
    assert_eq!(problem["errors"][0]["field"], "limit", "{problem}");
    let most = reqwest::get(format!("{api}/orders?limit=1000"))
        .await
        .expect("GET");
    assert_eq!(most.status(), StatusCode::OK);
    app.stop().await;
}
