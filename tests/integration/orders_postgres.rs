//! The Orders API and the producers on PostgreSQL, as processes that share it:
//! - scale out: 2 producers, 2 consumers and 2 Orders APIs, each a process of its own, on one
//!   database, the order stream going to both producers in turn. Faults in the middle of it:
//!   an Orders API and a consumer killed with SIGKILL, PostgreSQL restarted, and on the
//!   3-broker cluster a broker killed. Every order that got a 2xx is stored exactly once, and
//!   both Orders APIs give the same answers, statistics included;
//! - PostgreSQL down: 503 problem+json with Retry-After, `/readyz` says why, and once it is
//!   back the Orders API carries on by itself with nothing lost.
//!
//! Needs `TEST_DATABASE_URL` (a PostgreSQL user allowed to create databases) and
//! `PG_CONTROL` (fixtures/postgres/postgres.sh, to stop and restart it). The tests that stop
//! the server take turns ([`PG_FAULTS`]).

use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use crate::common::process::{free_port, healthy, Process};
use crate::common::stream::OrderStream;
use crate::common::{
    eventually, group_members, kafka_properties, orders, real_kafka, seed_order, settings, TestApp,
    TestBroker,
};
use kafka_orders::app::Services;

/// Held by each test that stops or restarts the shared PostgreSQL server.
static PG_FAULTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `PG_CONTROL` (fixtures/postgres/postgres.sh) with `action`: stop, restart.
fn pg_control(action: &str) {
    let script =
        std::env::var("PG_CONTROL").expect("PG_CONTROL names fixtures/postgres/postgres.sh");
    let status = Command::new("bash")
        .args([&script, action])
        .status()
        .expect("run PG_CONTROL");
    assert!(status.success(), "PG_CONTROL {action} failed");
}

/// One service of `kafka-orders` as a process, started again by [`Service::restart`] with the
/// same settings.
struct Service {
    env: Vec<(String, String)>,
    kind: &'static str,
    process: Process,
}

impl Service {
    fn start(kind: &'static str, env: Vec<(String, String)>) -> Self {
        let process = Self::spawn(kind, &env);
        Self { env, kind, process }
    }

    fn spawn(kind: &str, env: &[(String, String)]) -> Process {
        Process::spawn(
            Command::new(env!("CARGO_BIN_EXE_kafka-orders"))
                .arg(kind)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("RUST_LOG", "warn"),
        )
    }

    fn restart(&mut self) {
        self.process = Self::spawn(self.kind, &self.env);
    }
}

async fn json(url: String) -> Value {
    reqwest::get(url)
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_of_each_service_on_one_database_agree_through_faults() {
    let Some(database) = kafka_orders::database::test_database().await else {
        return;
    };
    let _turn = PG_FAULTS.lock().await;
    let cluster = std::env::var("KAFKA_CONTROL").is_ok_and(|c| c.contains("kafka-cluster"));
    // On the cluster a broker is killed: no other test may share it meanwhile.
    let broker = if cluster {
        TestBroker::alone().await
    } else {
        TestBroker::start().await
    };
    let s = settings(&broker.bootstrap(), "scale");
    let mut common = vec![
        ("KAFKA_ORDERS_BROKERS".to_string(), broker.bootstrap()),
        ("KAFKA_ORDERS_TOPIC".into(), s.kafka.topic.clone()),
        ("KAFKA_ORDERS_GROUP".into(), s.kafka.group.clone()),
        ("KAFKA_ORDERS_PARTITIONS".into(), "4".into()),
        ("KAFKA_ORDERS_DATABASE_URL".into(), database),
    ];
    if real_kafka().is_some() {
        common.extend(kafka_properties().into_iter().map(|(k, v)| {
            (
                format!("KAFKA_ORDERS_KAFKA_{}", k.replace('.', "_").to_uppercase()),
                v,
            )
        }));
    }
    let with = |pairs: &[(&str, String)]| {
        let mut env = common.clone();
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    };
    let apis: Vec<String> = (0..2).map(|_| format!("http://{}", free_port())).collect();
    let mut api_services: Vec<Service> = apis
        .iter()
        .map(|api| {
            let listen = api.trim_start_matches("http://").to_string();
            Service::start(
                "orders-api",
                with(&[("KAFKA_ORDERS_ORDERS_API_LISTEN", listen)]),
            )
        })
        .collect();
    for api in &apis {
        healthy(api).await;
    }
    // Each consumer forwards to its own Orders API; each producer's Location names the first.
    let mut consumers: Vec<Service> = apis
        .iter()
        .map(|api| {
            Service::start(
                "consumer",
                with(&[
                    ("KAFKA_ORDERS_ORDERS_API_URL", api.clone()),
                    ("KAFKA_ORDERS_CONSUMER_LISTEN", free_port().to_string()),
                ]),
            )
        })
        .collect();
    let producers: Vec<String> = (0..2).map(|_| format!("http://{}", free_port())).collect();
    let _producers: Vec<Service> = producers
        .iter()
        .map(|p| {
            Service::start(
                "producer",
                with(&[
                    (
                        "KAFKA_ORDERS_PRODUCER_LISTEN",
                        p.trim_start_matches("http://").to_string(),
                    ),
                    ("KAFKA_ORDERS_ORDERS_API_URL", apis[0].clone()),
                ]),
            )
        })
        .collect();
    for p in &producers {
        healthy(p).await;
    }
    group_members(&broker.bootstrap(), &s.kafka.group, 2).await;

    // An Idempotency-Key retried on the other producer: the first answer, nothing published.
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for p in &producers {
        let response = client
            .post(format!("{p}/orders"))
            .header("Idempotency-Key", "scale-out-retry")
            .json(&seed_order())
            .send()
            .await
            .expect("POST");
        assert!(response.status().is_success(), "{}", response.status());
        answers.push(response.json::<Value>().await.expect("JSON")["id"].clone());
    }
    assert_eq!(
        answers[0], answers[1],
        "the retry on the other producer got the first answer"
    );

    let stream = OrderStream::to_each(&[&producers[0], &producers[1]], 40);
    stream.until_acknowledged(40, 30).await;

    api_services[0].process.kill_9();
    stream.until_acknowledged(40, 30).await;
    api_services[0].restart();
    healthy(&apis[0]).await;

    consumers[1].process.kill_9();
    stream.until_acknowledged(40, 30).await;
    consumers[1].restart();

    let pg = std::env::var("PG_CONTROL").expect("PG_CONTROL names fixtures/postgres/postgres.sh");
    assert!(Command::new("bash")
        .args([&pg, "restart"])
        .status()
        .expect("restart PostgreSQL")
        .success());
    stream.until_acknowledged(40, 30).await;

    if cluster {
        let node = crate::cluster::leader(&broker.bootstrap(), &s.kafka.topic)
            .await
            .to_string();
        TestBroker::control(&["kill", &node]);
        stream.until_acknowledged(60, 60).await;
        TestBroker::control(&["resume", &node]);
    }
    let faults_ended = Instant::now();
    stream.until_acknowledged(40, 60).await;
    let report = stream.finish(&apis[0], faults_ended, 90).await;
    eprintln!("SCALE-OUT {report:?}");

    // The other Orders API: the same orders, in the same order, and the same statistics.
    assert_eq!(orders(&apis[1]).await, orders(&apis[0]).await);
    assert_eq!(
        json(format!("{}/orders/stats", apis[1])).await,
        json(format!("{}/orders/stats", apis[0])).await
    );
    let retried: Vec<Value> = orders(&apis[0])
        .await
        .into_iter()
        .filter(|o| o["id"] == answers[0])
        .collect();
    assert_eq!(
        retried.len(),
        1,
        "the order sent twice with one key is stored once"
    );
    drop(consumers);
    drop(api_services);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_the_orders_api_answers_503_and_then_recovers_by_itself() {
    let Some(database) = kafka_orders::database::test_database().await else {
        return;
    };
    let _turn = PG_FAULTS.lock().await;
    let mut s = settings("127.0.0.1:1", "pg-down");
    s.storage.database_url = Some(database);
    let app = TestApp::start(s, Services::OrdersApi).await;
    let client = reqwest::Client::new();
    let ingest = |id: &str| {
        let mut order = seed_order();
        order["id"] = id.into();
        order["status"] = "pending".into();
        order["createdAt"] = "2026-11-29T00:00:00Z".into();
        client
            .post(format!("{}/orders", app.api))
            .json(&order)
            .send()
    };
    assert_eq!(ingest("before").await.expect("POST").status(), 201);

    pg_control("stop");
    for response in [
        client
            .get(format!("{}/orders", app.api))
            .send()
            .await
            .expect("GET"),
        client
            .get(format!("{}/orders/stats", app.api))
            .send()
            .await
            .expect("GET"),
        ingest("during").await.expect("POST"),
        client
            .get(format!("{}/readyz", app.api))
            .send()
            .await
            .expect("GET"),
    ] {
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: Value = response.json().await.expect("JSON");
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("PostgreSQL"),
            "{body}"
        );
    }
    pg_control("restart");
    eventually(30, || async {
        let ready = client
            .get(format!("{}/readyz", app.api))
            .send()
            .await
            .ok()?;
        ready.status().is_success().then_some(())
    })
    .await;
    assert_eq!(
        ingest("during").await.expect("POST").status(),
        201,
        "the retry is stored"
    );
    let ids: Vec<Value> = orders(&app.api)
        .await
        .into_iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(ids, vec![Value::from("during"), Value::from("before")]);
    app.stop().await;
}
