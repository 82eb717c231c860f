//! `kafka-bench`: the rdkafka side of the benchmarks (bench/run.py runs it against both
//! brokers, alongside Kafka's own Java perf tools). Each command prints one JSON line.
//!
//! - `produce`: as fast as possible, batched; records/s, MB/s and the latency from `send` to
//!   the delivery report (p50/p99/p99.9), like ProducerPerformance.
//! - `consume`: reads a partition from the start; records/s and MB/s.
//! - `latency`: a producer at a fixed moderate rate and a consumer in the same process; the
//!   time from `send` to the consumer holding the record (p50/p99/p99.9).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    brokers: String,
    #[arg(long)]
    topic: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Produce {
        #[arg(long)]
        records: usize,
        #[arg(long, default_value_t = 100)]
        size: usize,
        #[arg(long, default_value = "all")]
        acks: String,
    },
    Consume {
        #[arg(long)]
        records: usize,
    },
    Latency {
        /// Records per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u32,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
}

/// Collects send → delivery-report latencies (µs).
struct Timed(Mutex<Vec<u64>>);

impl ClientContext for Timed {}

impl ProducerContext for Timed {
    type DeliveryOpaque = Box<Instant>;
    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        if let Err((err, _)) = result {
            eprintln!("delivery failed: {err}");
            std::process::exit(1);
        }
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sent.elapsed().as_micros() as u64);
    }
}

fn percentiles(mut micros: Vec<u64>) -> serde_json::Value {
    micros.sort_unstable();
    let at = |q: f64| {
        micros
            .get(((micros.len() as f64 * q) as usize).min(micros.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    json!({"p50": at(0.5), "p99": at(0.99), "p999": at(0.999)})
}

fn produce(
    brokers: &str,
    topic: &str,
    records: usize,
    size: usize,
    acks: &str,
) -> anyhow::Result<serde_json::Value> {
    let producer: BaseProducer<Timed> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", acks)
        .set("linger.ms", "5")
        .set("batch.size", "65536")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Timed(Mutex::new(Vec::with_capacity(records))))?;
    let payload = vec![b'x'; size];
    let started = Instant::now();
    for _ in 0..records {
        let mut record =
            BaseRecord::with_opaque_to(topic, Box::new(Instant::now())).payload(&payload[..]);
        loop {
            match producer.send::<[u8], [u8]>(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((err, _)) => anyhow::bail!("send failed: {err}"),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60))?;
    let secs = started.elapsed().as_secs_f64();
    let latencies = std::mem::take(
        &mut *producer
            .context()
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    );
    anyhow::ensure!(
        latencies.len() == records,
        "{} of {records} delivered",
        latencies.len()
    );
    let mut out = percentiles(latencies);
    out["rec_s"] = json!(records as f64 / secs);
    out["mb_s"] = json!((records * size) as f64 / secs / 1e6);
    Ok(out)
}

fn reader(brokers: &str, topic: &str, from: Offset) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        // librdkafka wants a group id even for assign(); nothing is committed.
        .set("group.id", format!("bench-{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, from)?;
    consumer.assign(&partitions)?;
    Ok(consumer)
}

fn consume(brokers: &str, topic: &str, records: usize) -> anyhow::Result<serde_json::Value> {
    let consumer = reader(brokers, topic, Offset::Beginning)?;
    let (mut count, mut bytes) = (0usize, 0usize);
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while count < records {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {count} of {records} records in 120 s"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                started.get_or_insert_with(Instant::now);
                count += 1;
                bytes += message.payload_len();
            }
            Some(Err(err)) => anyhow::bail!("consume failed: {err}"),
            None => {}
        }
    }
    // From the first record on, so connecting and the first fetch's wait do not count.
    let secs = started.map_or(1.0, |s| s.elapsed().as_secs_f64());
    Ok(json!({"rec_s": count as f64 / secs, "mb_s": bytes as f64 / secs / 1e6}))
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn latency(
    brokers: &str,
    topic: &str,
    rate: u32,
    seconds: u32,
    size: usize,
) -> anyhow::Result<serde_json::Value> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "0")
        .create()?;
    // Create the topic, then read from its current end.
    producer
        .send(BaseRecord::<[u8], [u8]>::to(topic).payload(b"start"))
        .map_err(|(e, _)| e)?;
    producer.flush(Duration::from_secs(30))?;
    let (_, end) = producer
        .client()
        .fetch_watermarks(topic, 0, Duration::from_secs(10))?;
    let consumer = reader(brokers, topic, Offset::Offset(end))?;
    let total = (rate * seconds) as usize;
    let mut payload = vec![b'x'; size.max(8)];
    let receiving = std::thread::spawn(move || -> anyhow::Result<Vec<u64>> {
        let mut seen = Vec::with_capacity(total);
        let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 60);
        while seen.len() < total && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message?;
                let sent = message
                    .payload()
                    .and_then(|p| p.get(..8))
                    .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default()));
                if let Some(sent) = sent {
                    seen.push(now_micros().saturating_sub(sent));
                }
            }
        }
        Ok(seen)
    });
    let interval = Duration::from_secs(1) / rate;
    let started = Instant::now();
    for i in 0..total {
        let due = started + interval * i as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        payload[..8].copy_from_slice(&now_micros().to_be_bytes());
        producer
            .send(BaseRecord::<[u8], [u8]>::to(topic).payload(&payload[..]))
            .map_err(|(e, _)| e)?;
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(30))?;
    let seen = receiving
        .join()
        .map_err(|_| anyhow::anyhow!("consumer thread panicked"))??;
    anyhow::ensure!(
        seen.len() == total,
        "{} of {total} records arrived",
        seen.len()
    );
    let mut out = percentiles(seen);
    out["rate"] = json!(rate);
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Produce {
            records,
            size,
            acks,
        } => produce(&cli.brokers, &cli.topic, records, size, &acks)?,
        Command::Consume { records } => consume(&cli.brokers, &cli.topic, records)?,
        Command::Latency {
            rate,
            seconds,
            size,
        } => latency(&cli.brokers, &cli.topic, rate, seconds, size)?,
    };
    println!("{result}");
    Ok(())
}
