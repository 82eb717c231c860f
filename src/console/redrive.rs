//! Dead letters sent back to the topic they came from ("redrive").
//!
//! A dead letter (written by the consumer, `consumer::publish::dead_letter`) carries the
//! original key, value and headers, and `dlq-*` headers naming its origin and error. A redrive
//! produces key, value and the original headers to the origin topic, with `redrive-count`
//! one more than the message had, then notes it in the dead-letter topic's ledger,
//! `<dlq>.redriven` (key `partition:offset` of the dead letter, value when and where it
//! went). A dead letter in the ledger is not redriven again: a double click, two tabs or a
//! "redrive all" after a "redrive selected" send each one once. Redrives in one console run
//! one at a time (the ledger is read and written under `Console::redrive_lock`); two consoles
//! redriving the same dead letter at the same instant could both send it, and the Orders
//! API, which stores an order id once, keeps that harmless for orders.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;

use super::error::ConsoleError;
use super::kafka::{self, MessageInfo, Reader};
use super::Console;
use crate::kafka::headers;

/// The header a redrive adds: how many times this message was sent back.
pub const REDRIVE_COUNT: &str = "redrive-count";
/// The most dead letters one action sends back; "redrive all" again sends the next ones.
pub const MAX_PER_ACTION: i64 = 1_000;
/// The most dead letters the page lists per partition.
pub const SHOWN: i64 = 200;

pub fn is_dead_letter_topic(name: &str) -> bool {
    name.ends_with(".dlq")
}

pub fn ledger_topic(dlq: &str) -> String {
    format!("{dlq}.redriven")
}

/// A dead letter as the page shows it.
pub struct DeadLetter {
    pub message: MessageInfo,
    pub error: Option<String>,
    /// Origin topic, partition and offset.
    pub origin: Option<(String, String, String)>,
    /// When it was redriven (ms since the epoch), if it was.
    pub redriven: Option<i64>,
}

impl DeadLetter {
    fn of(message: MessageInfo, ledger: &Ledger) -> Self {
        let origin = match (
            message.header(headers::DLQ_TOPIC),
            message.header(headers::DLQ_PARTITION),
            message.header(headers::DLQ_OFFSET),
        ) {
            (Some(t), Some(p), Some(o)) => Some((t, p, o)),
            _ => None,
        };
        Self {
            error: message.header(headers::DLQ_ERROR),
            redriven: ledger.get(&(message.partition, message.offset)).copied(),
            origin,
            message,
        }
    }

    /// Why it cannot be sent back, if it cannot.
    pub fn unsendable(&self) -> Option<&'static str> {
        if self.message.header(headers::DLQ_TRUNCATED).is_some() {
            Some("it was cut to fit the dead-letter topic, so it is not the whole message")
        } else if self.origin.is_none() {
            Some("it does not say which topic it came from")
        } else {
            None
        }
    }
}

/// Dead letter (partition, offset) → when it was redriven.
type Ledger = BTreeMap<(i32, i64), i64>;

fn read_ledger(console: &Console, client: &Reader, dlq: &str) -> Result<Ledger, ConsoleError> {
    let name = ledger_topic(dlq);
    let info = match kafka::topic(client, &name) {
        Ok(info) => info,
        Err(ConsoleError::NoSuchTopic(_)) => return Ok(Ledger::new()),
        Err(e) => return Err(e),
    };
    let mut ledger = Ledger::new();
    for p in &info.partitions {
        for m in kafka::read(&console.kafka, &name, p.id, p.low, p.high)? {
            let key = m.key.as_deref().map(String::from_utf8_lossy);
            let at = m.timestamp.unwrap_or_default();
            if let Some((part, off)) = key.as_deref().and_then(|k| k.split_once(':')) {
                if let (Ok(part), Ok(off)) = (part.parse(), off.parse()) {
                    ledger.insert((part, off), at);
                }
            }
        }
    }
    Ok(ledger)
}

/// The newest dead letters of `dlq`, newest first, each with its ledger state.
pub fn list(console: &Console, dlq: &str) -> Result<Vec<DeadLetter>, ConsoleError> {
    let client: Reader = kafka::client(&console.kafka, None)?;
    let info = kafka::topic(&client, dlq)?;
    let ledger = read_ledger(console, &client, dlq)?;
    let mut out = Vec::new();
    for p in &info.partitions {
        let from = (p.high - SHOWN).max(p.low);
        for m in kafka::read(&console.kafka, dlq, p.id, from, p.high)? {
            out.push(DeadLetter::of(m, &ledger));
        }
    }
    out.sort_by_key(|l| std::cmp::Reverse(l.message.timestamp));
    Ok(out)
}

/// What a redrive did.
#[derive(Default, Debug)]
pub struct Outcome {
    pub sent: usize,
    pub already: usize,
    /// Dead letters that cannot be sent back, with why.
    pub refused: Vec<String>,
}

/// Which dead letters: the ones picked (partition, offset), or all of them.
pub enum Picked {
    These(Vec<(i32, i64)>),
    All,
}

/// The dead letters picked, read again from Kafka (never from the form), with the ledger.
fn picked(console: &Console, dlq: &str, picked: &Picked) -> Result<Vec<DeadLetter>, ConsoleError> {
    let client: Reader = kafka::client(&console.kafka, None)?;
    let info = kafka::topic(&client, dlq)?;
    let ledger = read_ledger(console, &client, dlq)?;
    let mut out = Vec::new();
    match picked {
        Picked::These(list) => {
            for &(p, o) in list.iter().take(MAX_PER_ACTION as usize) {
                let m = kafka::read(&console.kafka, dlq, p, o, o + 1)?
                    .pop()
                    .ok_or_else(|| {
                        ConsoleError::Input(format!("there is no dead letter {p}:{o}"))
                    })?;
                out.push(DeadLetter::of(m, &ledger));
            }
        }
        Picked::All => {
            let mut left = MAX_PER_ACTION;
            for p in &info.partitions {
                // Those not in the ledger yet, oldest first.
                let mut from = p.low;
                while from < p.high && ledger.contains_key(&(p.id, from)) {
                    from += 1;
                }
                let to = p.high.min(from + left);
                for m in kafka::read(&console.kafka, dlq, p.id, from, to)? {
                    left -= 1;
                    out.push(DeadLetter::of(m, &ledger));
                }
            }
        }
    }
    Ok(out)
}

/// Sends the picked dead letters back to their origin topics, each at most once.
pub async fn redrive(console: &Console, dlq: &str, which: Picked) -> Result<Outcome, ConsoleError> {
    let _one_at_a_time = console.redrive_lock.lock().await;
    // Kafka reads block (rdkafka): off the async workers, borrowing the console.
    let letters = tokio::task::block_in_place(|| picked(console, dlq, &which))?;
    let mut outcome = Outcome::default();
    let mut ledger_ready = false;
    for letter in letters {
        let id = format!("{}:{}", letter.message.partition, letter.message.offset);
        if letter.redriven.is_some() {
            outcome.already += 1;
            continue;
        }
        if let Some(why) = letter.unsendable() {
            outcome.refused.push(format!("{id}: {why}"));
            continue;
        }
        if !ledger_ready {
            create_ledger(console, dlq).await?;
            ledger_ready = true;
        }
        let (topic, _, _) = letter.origin.as_ref().expect("checked by unsendable");
        send_back(console, topic, &letter.message).await?;
        let note = json!({ "topic": topic, "redrivenAt": kafka_now() }).to_string();
        let ledger = ledger_topic(dlq);
        console
            .producer
            .send(
                FutureRecord::to(&ledger).key(&id).payload(&note),
                Duration::from_secs(5),
            )
            .await
            .map_err(|(e, _)| e)?;
        outcome.sent += 1;
    }
    Ok(outcome)
}

fn kafka_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

async fn create_ledger(console: &Console, dlq: &str) -> Result<(), ConsoleError> {
    let name = ledger_topic(dlq);
    let topic = NewTopic::new(
        &name,
        1,
        TopicReplication::Fixed(console.replication_factor),
    );
    let created = console
        .admin
        .create_topics(&[topic], &AdminOptions::new())
        .await?;
    match created.into_iter().next() {
        Some(Err((_, code))) if code != RDKafkaErrorCode::TopicAlreadyExists => Err(
            ConsoleError::Input(format!("cannot create the redrive ledger {name}: {code}")),
        ),
        _ => Ok(()),
    }
}

/// Key, value and the original headers (the `dlq-*` ones dropped) to `topic`, with
/// `redrive-count` one more than before.
async fn send_back(console: &Console, topic: &str, m: &MessageInfo) -> Result<(), ConsoleError> {
    let count = m
        .header(REDRIVE_COUNT)
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let count = count.to_string();
    let mut out = OwnedHeaders::new();
    for (k, v) in &m.headers {
        if k.starts_with("dlq-") || k == REDRIVE_COUNT {
            continue;
        }
        out = out.insert(Header {
            key: k,
            value: v.as_deref(),
        });
    }
    out = out.insert(Header {
        key: REDRIVE_COUNT,
        value: Some(&count),
    });
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).headers(out);
    if let Some(key) = &m.key {
        record = record.key(key);
    }
    if let Some(value) = &m.value {
        record = record.payload(value);
    }
    console
        .producer
        .send(record, Duration::from_secs(5))
        .await
        .map_err(|(e, _)| {
            ConsoleError::Input(format!("Kafka did not take the message for {topic}: {e}"))
        })?;
    Ok(())
}
