//! The seed README's walk-through and every error path of the three services, on the
//! embedded broker (or the Kafka in `KAFKA_BROKERS`).

use std::time::Duration;

use kafka_orders::app::Services;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{eventually, orders, seed_order, settings, TestApp, TestBroker};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_order(producer: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{producer}/orders"))
        .json(body)
        .send()
        .await
        .expect("POST")
}

async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

async fn stats(api: &str) -> Value {
    reqwest::get(format!("{api}/orders/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_then_patch_and_delete_with_stats_after_each() {
    let broker = TestBroker::start().await;
    let app = TestApp::start(settings(&broker.bootstrap(), "seed"), Services::All).await;
    let (producer, api) = (app.producer.clone(), app.api.clone());

    let response = post_order(&producer, &seed_order()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_string();
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("order-"));
    assert!(location.ends_with(&format!("/orders/{id}")));
    assert_eq!(created["status"], "pending");
    assert_eq!(created["totalAmount"], json!(39.98));

    let stored = eventually(20, || async {
        orders(&api)
            .await
            .into_iter()
            .find(|o| o["id"] == id.as_str())
    })
    .await;
    assert_eq!(stored["userId"], "user123");
    assert_eq!(stored["products"][0]["price"], json!(19.99));
    let one: Value = reqwest::get(format!("{api}/orders/{id}"))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(one, stored);
    let s = stats(&api).await;
    assert_eq!(
        (
            s["totalOrders"].clone(),
            s["totalRevenue"].clone(),
            s["totalItems"].clone()
        ),
        (json!(1), json!(39.98), json!(2))
    );
    assert_eq!(s["ordersByStatus"]["pending"], 1);
    assert_eq!(s["uniqueUsers"], 1);

    // The seed's PATCH example ships a pending order.
    let patched = client()
        .patch(format!("{api}/orders/{id}"))
        .json(&json!({"status": "shipped"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(patched["status"], "shipped");
    assert!(patched["updatedAt"].is_string());
    let s = stats(&api).await;
    assert_eq!(
        (
            s["ordersByStatus"]["shipped"].clone(),
            s["ordersByStatus"]["pending"].clone()
        ),
        (json!(1), json!(0))
    );

    let back = client()
        .patch(format!("{api}/orders/{id}"))
        .json(&json!({"status": "pending"}))
        .send()
        .await
        .expect("patch");
    let body = problem(back, StatusCode::CONFLICT).await;
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("allowed: delivered"),
        "{body}"
    );
    let bad = client()
        .patch(format!("{api}/orders/{id}"))
        .json(&json!({"totalAmount": 1, "colour": "red"}))
        .send()
        .await
        .expect("patch");
    let body = problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["colour", "totalAmount"]);

    let deleted = client()
        .delete(format!("{api}/orders/{id}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    problem(
        reqwest::get(format!("{api}/orders/{id}"))
            .await
            .expect("get"),
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        client()
            .delete(format!("{api}/orders/{id}"))
            .send()
            .await
            .expect("delete"),
        StatusCode::NOT_FOUND,
    )
    .await;
    let s = stats(&api).await;
    assert_eq!(
        (
            s["totalOrders"].clone(),
            s["totalRevenue"].clone(),
            s["uniqueUsers"].clone()
        ),
        (json!(0), json!(0.0), json!(0))
    );

    app.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_problem_json_and_publish_nothing() {
    let broker = TestBroker::start().await;
    let app = TestApp::start(settings(&broker.bootstrap(), "bad"), Services::All).await;
    let (producer, api) = (app.producer.clone(), app.api.clone());
    let post_raw = |content_type: &'static str, body: Vec<u8>| {
        client()
            .post(format!("{producer}/orders"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    problem(
        post_raw("application/json", b"{\"userId\": ".to_vec())
            .await
            .expect("post"),
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        post_raw("text/plain", seed_order().to_string().into_bytes())
            .await
            .expect("post"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    problem(
        post_raw("application/json", vec![b' '; 1024 * 1024 + 1])
            .await
            .expect("post"),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;

    let invalid = json!({"userId": " ", "products": [{"id": "p", "name": "n", "price": 0.001, "quantity": -1}], "totalAmount": 5});
    let body = problem(
        post_order(&producer, &invalid).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(
        fields,
        ["userId", "products[0].price", "products[0].quantity"]
    );
    let mut wrong_total = seed_order();
    wrong_total["totalAmount"] = json!(39.99);
    let body = problem(
        post_order(&producer, &wrong_total).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "totalAmount");

    problem(
        reqwest::get(format!("{api}/orders?status=lost"))
            .await
            .expect("get"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        reqwest::get(format!("{api}/nowhere")).await.expect("get"),
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        client()
            .put(format!("{api}/orders/x"))
            .send()
            .await
            .expect("put"),
        StatusCode::METHOD_NOT_ALLOWED,
    )
    .await;

    // One valid order afterwards is the only one that arrives.
    assert_eq!(
        post_order(&producer, &seed_order()).await.status(),
        StatusCode::ACCEPTED
    );
    eventually(20, || async {
        (orders(&api).await.len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(orders(&api).await.len(), 1);
    app.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_the_first_answer() {
    let broker = TestBroker::start().await;
    let app = TestApp::start(settings(&broker.bootstrap(), "idem"), Services::All).await;
    let (producer, api) = (app.producer.clone(), app.api.clone());
    let send = |body: Value| {
        client()
            .post(format!("{producer}/orders"))
            .header("idempotency-key", "abc-1")
            .json(&body)
            .send()
    };
    let first: Value = send(seed_order())
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let again = send(seed_order()).await.expect("post");
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let again: Value = again.json().await.expect("json");
    assert_eq!(first["id"], again["id"]);
    let mut other = seed_order();
    other["userId"] = json!("someone-else");
    problem(
        send(other).await.expect("post"),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    eventually(20, || async {
        (orders(&api).await.len() == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        orders(&api).await.len(),
        1,
        "the retried request published nothing"
    );
    app.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_504_is_remembered_as_published_so_a_retry_publishes_nothing() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let broker = TestBroker::start().await;
    let s = settings(&broker.bootstrap(), "timeout");
    let topic = s.kafka.topic.clone();
    // A producer with no consumer behind it: a wait for the reply always runs out.
    let app = TestApp::start(s, Services::Producer).await;
    let send = || {
        client()
            .post(format!("{}/orders", app.producer))
            .header("idempotency-key", "slow-1")
            .header("prefer", "wait=1")
            .json(&seed_order())
            .send()
    };
    let first = eventually(20, || async {
        let r = send().await.expect("post");
        // 503 while the reply topic is being attached.
        (r.status() != StatusCode::SERVICE_UNAVAILABLE).then_some(r)
    })
    .await;
    assert_eq!(first.status(), StatusCode::GATEWAY_TIMEOUT);
    let again = send().await.expect("post");
    assert_eq!(
        again.status(),
        StatusCode::ACCEPTED,
        "the retry learns it was published"
    );
    let again: Value = again.json().await.expect("json");
    assert!(again["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("order-")));
    let kafka: BaseConsumer = crate::common::client_config(broker.bootstrap())
        .create()
        .expect("client");
    let mut published = 0;
    for partition in 0..3 {
        let (low, high) = kafka
            .fetch_watermarks(&topic, partition, Duration::from_secs(5))
            .expect("watermarks");
        published += high - low;
    }
    assert_eq!(published, 1, "the retry published nothing more");
    app.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_response_with_two_producer_instances() {
    let broker = TestBroker::start().await;
    let base = settings(&broker.bootstrap(), "rr");
    let backend = TestApp::start(base.clone(), Services::All).await;
    let mut second_settings = base.clone();
    second_settings.orders_api.url = backend.api.parse().expect("url");
    let second = TestApp::start(second_settings, Services::Producer).await;
    let producers = [backend.producer.clone(), second.producer.clone()];

    for round in 0..3 {
        for producer in &producers {
            // The reply route attaches in the background; until then the answer is a 503.
            let response = eventually(20, || async {
                let r = client()
                    .post(format!("{producer}/orders?wait=true"))
                    .json(&seed_order())
                    .send()
                    .await
                    .expect("post");
                (r.status() != StatusCode::SERVICE_UNAVAILABLE).then_some(r)
            })
            .await;
            assert_eq!(
                response.status(),
                StatusCode::CREATED,
                "round {round} via {producer}"
            );
            let order: Value = response.json().await.expect("json");
            assert_eq!(order["status"], "pending");
            let id = order["id"].as_str().expect("id");
            let stored: Value = reqwest::get(format!("{}/orders/{id}", backend.api))
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            assert_eq!(
                stored, order,
                "the reply carries the order as the Orders API stored it"
            );
        }
    }
    let prefer = client()
        .post(format!("{}/orders", producers[1]))
        .header("prefer", "wait=5")
        .json(&seed_order())
        .send()
        .await
        .expect("post");
    assert_eq!(prefer.status(), StatusCode::CREATED);
    second.stop().await;
    backend.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_answers_503_when_kafka_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let mut s = settings(&dead, "down");
    s.producer.publish_timeout = Duration::from_secs(1);
    let app = TestApp::start(s, Services::Producer).await;
    let response = post_order(&app.producer, &seed_order()).await;
    assert_eq!(response.headers()["retry-after"], "5");
    problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_api_ingest_is_idempotent_by_id() {
    let app = TestApp::start(settings("127.0.0.1:1", "ingest"), Services::OrdersApi).await;
    let api = app.api.clone();
    let order = json!({
        "id": "order-fixed-1", "userId": "u", "status": "pending", "createdAt": "2026-01-01T00:00:00Z",
        "products": [{"id": "p", "name": "P", "price": 2.5, "quantity": 4}], "totalAmount": 10
    });
    let first = client()
        .post(format!("{api}/orders"))
        .json(&order)
        .send()
        .await
        .expect("post");
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = client()
        .post(format!("{api}/orders"))
        .json(&order)
        .send()
        .await
        .expect("post");
    assert_eq!(second.status(), StatusCode::OK);
    let s = stats(&api).await;
    assert_eq!(
        (
            s["totalOrders"].clone(),
            s["totalItems"].clone(),
            s["averageOrderValue"].clone()
        ),
        (json!(1), json!(4), json!(10.0))
    );
    app.stop().await;
}
