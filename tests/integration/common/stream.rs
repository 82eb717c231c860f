//! A steady stream of orders for the fault tests, and the count at the end: every order that
//! got a 2xx must be in the Orders API exactly once, and the stats must agree with the list.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;

use super::{eventually, seed_order};

#[derive(Default)]
struct Tally {
    sent: usize,
    /// Ids of the orders the producer acknowledged (2xx).
    acknowledged: Vec<String>,
    /// When each acknowledgement came.
    acknowledged_at: Vec<Instant>,
    /// Answers other than 2xx, and requests that got no answer (the producer was down).
    refused: usize,
}

pub struct OrderStream {
    tally: Arc<Mutex<Tally>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What a fault test reports (and the README's reliability table shows).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "every field is printed with the report, through Debug"
)]
pub struct Report {
    pub sent: usize,
    pub acknowledged: usize,
    pub found: usize,
    pub duplicates: usize,
    pub lost: usize,
    /// From the end of the fault to the first order acknowledged after it.
    pub accepting_again_in: Duration,
    /// From the end of the fault until every acknowledged order was in the Orders API.
    pub caught_up_in: Duration,
}

impl OrderStream {
    /// POSTs an order to `producer` every `1/rate` seconds, each in its own task, so a stalled
    /// request does not slow the stream.
    pub fn start(producer: &str, rate: u32) -> Self {
        Self::to_each(&[producer], rate)
    }

    /// As [`OrderStream::start`], sending to each producer in turn (as a load balancer would).
    pub fn to_each(producers: &[&str], rate: u32) -> Self {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let urls: Vec<String> = producers.iter().map(|p| format!("{p}/orders")).collect();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let shared = tally.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut requests = JoinSet::new();
            while !*stopped.borrow() {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let sent = {
                    let mut tally = shared.lock().expect("tally");
                    tally.sent += 1;
                    tally.sent
                };
                let url = urls[sent % urls.len()].clone();
                let (client, tally) = (client.clone(), shared.clone());
                requests.spawn(async move {
                    let acknowledged = match client.post(&url).json(&seed_order()).send().await {
                        Ok(r) if r.status().is_success() => r
                            .json::<Value>()
                            .await
                            .ok()
                            .and_then(|b| b["id"].as_str().map(str::to_string)),
                        _ => None,
                    };
                    let mut tally = tally.lock().expect("tally");
                    match acknowledged {
                        Some(id) => {
                            tally.acknowledged.push(id);
                            tally.acknowledged_at.push(Instant::now());
                        }
                        None => tally.refused += 1,
                    }
                });
            }
            while requests.join_next().await.is_some() {}
        });
        Self { tally, stop, task }
    }

    pub fn acknowledged(&self) -> usize {
        self.tally.lock().expect("tally").acknowledged.len()
    }

    /// Waits until `n` more orders than now have been acknowledged (at most `secs` seconds).
    pub async fn until_acknowledged(&self, more: usize, secs: u64) {
        let target = self.acknowledged() + more;
        eventually(secs, || async {
            (self.acknowledged() >= target).then_some(())
        })
        .await;
    }

    /// Stops sending, waits for the answers, then waits (at most `secs`) until the Orders API
    /// at `api` holds every acknowledged order, and checks each is there exactly once and
    /// that `/orders/stats` agrees with the list. `fault_ended` starts the recovery clock.
    pub async fn finish(self, api: &str, fault_ended: Instant, secs: u64) -> Report {
        let _ = self.stop.send(true);
        self.task.await.expect("stream task");
        let tally = std::mem::take(&mut *self.tally.lock().expect("tally"));
        assert_eq!(tally.sent, tally.acknowledged.len() + tally.refused);
        // Poll until every acknowledged order is there or time is up; the count below says
        // which were lost.
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let listed = list(api).await;
            if tally.acknowledged.iter().all(|id| listed.contains(id)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caught_up_in = fault_ended.elapsed();
        let accepting_again_in = tally
            .acknowledged_at
            .iter()
            .filter(|t| **t >= fault_ended)
            .min()
            .map_or(Duration::ZERO, |t| *t - fault_ended);
        // Redeliveries still under way would show up now as duplicates.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let orders = super::orders(api).await;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for order in &orders {
            *counts.entry(order["id"].as_str().expect("id")).or_default() += 1;
        }
        let found = tally
            .acknowledged
            .iter()
            .filter(|id| counts.contains_key(id.as_str()))
            .count();
        let duplicates = counts.values().map(|n| n - 1).sum();
        let report = Report {
            sent: tally.sent,
            acknowledged: tally.acknowledged.len(),
            found,
            duplicates,
            lost: tally.acknowledged.len() - found,
            accepting_again_in,
            caught_up_in,
        };
        check_stats(api, &orders).await;
        eprintln!(
            "RELIABILITY {report:?} (orders stored in all: {})",
            orders.len()
        );
        assert_eq!((report.lost, report.duplicates), (0, 0), "{report:?}");
        assert!(report.acknowledged > 0, "{report:?}");
        report
    }
}

/// The ids the Orders API holds; none while it is unreachable.
async fn list(api: &str) -> HashSet<String> {
    let orders = super::try_orders(api).await.unwrap_or_default();
    orders
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect()
}

/// `/orders/stats` must describe exactly the orders the list holds.
async fn check_stats(api: &str, orders: &[Value]) {
    let stats: Value = reqwest::get(format!("{api}/orders/stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    let cents: i64 = orders
        .iter()
        .map(|o| (o["totalAmount"].as_f64().expect("amount") * 100.0).round() as i64)
        .sum();
    assert_eq!(stats["totalOrders"], orders.len(), "{stats}");
    assert_eq!(
        (stats["totalRevenue"].as_f64().expect("revenue") * 100.0).round() as i64,
        cents,
        "{stats}"
    );
}
