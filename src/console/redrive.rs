//! Dead letters sent back to the topic they came from ("redrive").
//!
//! A dead letter (written by the consumer, `consumer::publish::dead_letter`) carries the
//! original key, value and headers, and `dlq-*` headers naming its origin and error. A redrive
//! produces key, value and the original headers to the origin topic, with `redrive-count`
//! one more than the message had.
//!
//! Each redrive is noted in the dead-letter topic's ledger, `<dlq>.redriven` (kept for ever:
//! `retention.ms=-1`), keyed by the dead letter and its origin: first `sending`, then `sent`
//! or `failed`. A dead letter whose last note is `sending` or `sent` is never sent again: a
//! double click, two tabs, repeated picks or a "redrive all" after a "redrive selected" send
//! each one once, and one whose send was cut off (the console stopped between the two notes)
//! is shown as uncertain rather than sent twice. A `failed` one can be sent again. Redrives
//! in one console run one at a time (`Console::redrive_lock`); two consoles redriving the
//! same dead letter at the same instant could both send it, which the Orders API, storing an
//! order id once, absorbs.
//!
//! Only the topic a dead-letter topic belongs to (`orders-topic` for `orders-topic.dlq`) is a
//! destination: a redrive never writes, with the console's credentials, to a topic that
//! whoever wrote a dead letter named in its headers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rdkafka::admin::{AdminOptions, NewTopic, TopicReplication};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use serde_json::json;

use super::error::{code_name, ConsoleError};
use super::kafka::{self, MessageInfo, Reader, TopicInfo};
use super::Console;
use crate::kafka::{headers, Kafka};

/// The header a redrive adds: how many times this message was sent back.
pub const REDRIVE_COUNT: &str = "redrive-count";
/// The most dead letters one action sends back; "redrive all" again sends the next ones.
pub const MAX_PER_ACTION: usize = 1_000;
/// The most dead letters the page lists per partition.
pub const SHOWN: i64 = 200;
/// Dead letters read at a time while looking for ones to send.
const SCAN: i64 = 500;
/// Refusals named in the answer; the rest are counted.
const NAMED: usize = 5;

pub fn is_dead_letter_topic(name: &str) -> bool {
    name.ends_with(".dlq")
}

pub fn ledger_topic(dlq: &str) -> String {
    format!("{dlq}.redriven")
}

/// A ledger note's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noted {
    /// Sending began and was not confirmed: it may have reached the origin topic.
    Sending,
    Sent,
    Failed,
}

/// A dead letter as the page shows it.
pub struct DeadLetter {
    pub message: MessageInfo,
    pub error: Option<String>,
    /// Origin topic, partition and offset.
    pub origin: Option<(String, String, String)>,
    /// The ledger's last note on it, with when (ms since the epoch).
    pub noted: Option<(Noted, i64)>,
    /// Why it cannot be sent back, if it cannot.
    pub unsendable: Option<String>,
}

impl DeadLetter {
    fn of(dlq: &str, message: MessageInfo, ledger: &Ledger) -> Self {
        let origin = match (
            message.header(headers::DLQ_TOPIC),
            message.header(headers::DLQ_PARTITION),
            message.header(headers::DLQ_OFFSET),
        ) {
            (Some(t), Some(p), Some(o)) => Some((t, p, o)),
            _ => None,
        };
        let owner = dlq.strip_suffix(".dlq").unwrap_or(dlq);
        let unsendable = if message.header(headers::DLQ_TRUNCATED).is_some() {
            Some("it was cut to fit the dead-letter topic, so it is not the whole message".into())
        } else if !message.headers_intact {
            Some("a header's name is not UTF-8, so it cannot be copied".into())
        } else {
            match &origin {
                None => Some("it does not say which topic it came from".into()),
                Some((topic, _, _)) if topic != owner => Some(format!(
                    "it names {topic} as its origin; only {owner} takes letters back from {dlq}"
                )),
                Some(_) => None,
            }
        };
        Self {
            error: message.header(headers::DLQ_ERROR),
            noted: ledger.get(&key(&message, origin.as_ref())).copied(),
            origin,
            unsendable,
            message,
        }
    }

    /// Whether a redrive would send it now.
    fn due(&self) -> bool {
        self.unsendable.is_none() && self.noted.is_none_or(|(n, _)| n == Noted::Failed)
    }
}

/// The ledger key of a dead letter: where it is and where it came from (so a dead-letter
/// topic deleted and made again does not inherit the old notes).
fn key(m: &MessageInfo, origin: Option<&(String, String, String)>) -> String {
    let (_, p, o) = origin.map_or(("", "", ""), |(t, p, o)| {
        (t.as_str(), p.as_str(), o.as_str())
    });
    format!("{}:{}:{p}:{o}", m.partition, m.offset)
}

/// Ledger key → the last note and when it was written.
type Ledger = BTreeMap<String, (Noted, i64)>;

fn read_ledger(kafka: &Kafka, client: &Reader, dlq: &str) -> Result<Ledger, ConsoleError> {
    let name = ledger_topic(dlq);
    let info = match kafka::topic(client, &name) {
        Ok(info) => info,
        Err(ConsoleError::NoSuchTopic(_)) => return Ok(Ledger::new()),
        Err(e) => return Err(e),
    };
    let mut ledger = Ledger::new();
    for p in &info.partitions {
        for m in kafka::read(kafka, &name, p.id, p.low, p.high)? {
            let Some(key) = m.key.as_deref().map(String::from_utf8_lossy) else {
                continue;
            };
            let state = m
                .value
                .as_deref()
                .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
                .and_then(|v| v["state"].as_str().map(str::to_string));
            let noted = match state.as_deref() {
                Some("sending") => Noted::Sending,
                Some("failed") => Noted::Failed,
                _ => Noted::Sent,
            };
            ledger.insert(key.into_owned(), (noted, m.timestamp.unwrap_or_default()));
        }
    }
    Ok(ledger)
}

/// Dead letters not sent back (nor being sent) in the dead-letter topics among `topics`.
pub fn waiting(kafka: &Kafka, client: &Reader, topics: &[TopicInfo]) -> Result<i64, ConsoleError> {
    let mut waiting = 0;
    for t in topics.iter().filter(|t| is_dead_letter_topic(&t.name)) {
        let done = read_ledger(kafka, client, &t.name)?
            .values()
            .filter(|(n, _)| *n != Noted::Failed)
            .count() as i64;
        waiting += (t.messages() - done).max(0);
    }
    Ok(waiting)
}

/// The newest dead letters of `dlq`, newest first, each with its ledger state.
pub fn list(console: &Console, dlq: &str) -> Result<Vec<DeadLetter>, ConsoleError> {
    let client: Reader = kafka::client(&console.kafka, None)?;
    let info = kafka::topic(&client, dlq)?;
    let ledger = read_ledger(&console.kafka, &client, dlq)?;
    let mut out = Vec::new();
    for p in &info.partitions {
        let from = (p.high - SHOWN).max(p.low);
        for m in kafka::read(&console.kafka, dlq, p.id, from, p.high)? {
            out.push(DeadLetter::of(dlq, m, &ledger));
        }
    }
    out.sort_by_key(|l| std::cmp::Reverse(l.message.timestamp));
    Ok(out)
}

/// What a redrive did.
#[derive(Default, Debug)]
pub struct Outcome {
    pub sent: usize,
    /// Picked, but sent (or begun) before.
    pub already: usize,
    /// Dead letters that cannot be sent back, with why (the first few)...
    pub refused: Vec<String>,
    /// ... and how many more.
    pub refused_count: usize,
}

/// Which dead letters: the ones picked (partition, offset), or all of them.
pub enum Picked {
    These(BTreeSet<(i32, i64)>),
    All,
}

/// The dead letters picked, read again from Kafka (never from the form), with the ledger.
/// For `All`, the first [`MAX_PER_ACTION`] that are due, whatever comes before them, and of
/// those that cannot be sent the first [`NAMED`] (the rest are only counted: the number is
/// returned beside).
fn picked(
    console: &Console,
    dlq: &str,
    which: &Picked,
) -> Result<(Vec<DeadLetter>, usize), ConsoleError> {
    let client: Reader = kafka::client(&console.kafka, None)?;
    let info = kafka::topic(&client, dlq)?;
    let ledger = read_ledger(&console.kafka, &client, dlq)?;
    let mut out = Vec::new();
    let mut more_refused = 0;
    match which {
        Picked::These(list) => {
            let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
            for &(p, o) in list.iter().take(MAX_PER_ACTION) {
                by_partition.entry(p).or_default().push(o);
            }
            for (p, offsets) in by_partition {
                let range =
                    info.partitions.iter().find(|x| x.id == p).ok_or_else(|| {
                        ConsoleError::Input(format!("{dlq} has no partition {p}"))
                    })?;
                // Picks come from one page: near each other, read in one go.
                let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
                if first < range.low || last >= range.high {
                    return Err(ConsoleError::Input(format!(
                        "{dlq}/{p} holds offsets {} to {}: {first}..{last} is not all there",
                        range.low, range.high
                    )));
                }
                let wanted: BTreeSet<i64> = offsets.into_iter().collect();
                for m in kafka::read(&console.kafka, dlq, p, first, last + 1)? {
                    if wanted.contains(&m.offset) {
                        out.push(DeadLetter::of(dlq, m, &ledger));
                    }
                }
            }
        }
        Picked::All => {
            let (mut due, mut refused) = (0, 0);
            for p in &info.partitions {
                let mut from = p.low;
                while from < p.high && due < MAX_PER_ACTION {
                    let to = p.high.min(from + SCAN);
                    for m in kafka::read(&console.kafka, dlq, p.id, from, to)? {
                        let letter = DeadLetter::of(dlq, m, &ledger);
                        // Those sent before are skipped quietly; refusals are reported.
                        if letter.due() && due < MAX_PER_ACTION {
                            due += 1;
                            out.push(letter);
                        } else if letter.unsendable.is_some() {
                            refused += 1;
                            if refused <= NAMED {
                                out.push(letter);
                            } else {
                                more_refused += 1;
                            }
                        }
                    }
                    from = to;
                }
            }
        }
    }
    Ok((out, more_refused))
}

/// Sends the picked dead letters back to their origin topic, each at most once.
pub async fn redrive(console: &Console, dlq: &str, which: Picked) -> Result<Outcome, ConsoleError> {
    let _one_at_a_time = console.redrive_lock.lock().await;
    // Kafka reads block (rdkafka): off the async workers, borrowing the console.
    let (letters, more_refused) = tokio::task::block_in_place(|| picked(console, dlq, &which))?;
    let mut outcome = Outcome {
        refused_count: more_refused,
        ..Outcome::default()
    };
    let mut ledger_ready = false;
    for letter in letters {
        let id = format!("{}:{}", letter.message.partition, letter.message.offset);
        if let Some(why) = &letter.unsendable {
            if outcome.refused.len() < NAMED {
                outcome.refused.push(format!("{id}: {why}"));
            } else {
                outcome.refused_count += 1;
            }
            continue;
        }
        if !letter.due() {
            outcome.already += 1;
            continue;
        }
        if !ledger_ready {
            create_ledger(console, dlq).await?;
            ledger_ready = true;
        }
        let key = key(&letter.message, letter.origin.as_ref());
        note(console, dlq, &key, "sending").await?;
        let (topic, _, _) = letter.origin.as_ref().expect("due: it has an origin");
        match send_back(console, topic, &letter.message).await {
            Ok(()) => {
                note(console, dlq, &key, "sent").await?;
                outcome.sent += 1;
            }
            Err(err) => {
                note(console, dlq, &key, "failed").await?;
                return Err(ConsoleError::Input(format!(
                    "after {} sent, {id} was not taken by {topic}: {err}",
                    outcome.sent
                )));
            }
        }
    }
    Ok(outcome)
}

async fn note(console: &Console, dlq: &str, key: &str, state: &str) -> Result<(), ConsoleError> {
    let ledger = ledger_topic(dlq);
    let value = json!({ "state": state }).to_string();
    console
        .producer
        .send(
            FutureRecord::to(&ledger).key(key).payload(&value),
            Duration::from_secs(5),
        )
        .await
        .map_err(|(e, _)| {
            ConsoleError::Input(format!(
                "the redrive ledger {ledger} did not take a note: {e}"
            ))
        })?;
    Ok(())
}

async fn create_ledger(console: &Console, dlq: &str) -> Result<(), ConsoleError> {
    let name = ledger_topic(dlq);
    let topic = NewTopic::new(
        &name,
        1,
        TopicReplication::Fixed(console.replication_factor),
    )
    .set("retention.ms", "-1");
    let created = console
        .admin
        .create_topics(&[topic], &AdminOptions::new())
        .await?;
    match created.into_iter().next() {
        Some(Err((_, code))) if code != RDKafkaErrorCode::TopicAlreadyExists => {
            Err(ConsoleError::Input(format!(
                "cannot create the redrive ledger {name}: {}",
                code_name(&format!("{code:?}"))
            )))
        }
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
        .saturating_add(1)
        .to_string();
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
        .map_err(|(e, _)| ConsoleError::Kafka(e))?;
    Ok(())
}
