//! The `kafka-orders` command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use figment::value::Dict;
use kafka_orders::app::{self, Services};
use kafka_orders::config::{given, LogFormat, Settings};
use kafka_orders::kafka;
use serde::Serialize;

/// mimalloc instead of glibc malloc: a profile of the orders pipeline spent about 13 % of its
/// CPU in glibc's allocator (BENCHMARKS.md has the before and after).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An event-driven orders system on Kafka: producer (:3001) → orders-topic → consumer →
/// Orders API (:3003). Runs on a real Kafka, or on its own built-in broker with --embedded.
#[derive(Parser)]
#[command(
    name = "kafka-orders",
    version,
    after_help = "Examples:\n  kafka-orders --embedded            everything in one process, no Kafka needed\n  kafka-orders --brokers host:9092   the three services against your Kafka\n  kafka-orders broker                just the built-in broker on 127.0.0.1:9092\n\nSettings come from defaults < kafka-orders.toml < KAFKA_ORDERS_* variables < flags."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file.
    #[arg(long, global = true, default_value = "kafka-orders.toml")]
    config: PathBuf,
    #[command(flatten)]
    flags: GlobalFlags,
}

/// Flags every command takes. Each serializes under its setting's key (see `config::given`).
#[derive(Args, Serialize)]
struct GlobalFlags {
    /// Start the built-in Kafka-compatible broker in this process and use it.
    #[arg(long, global = true)]
    embedded: bool,
    /// Kafka bootstrap servers (default localhost:9092).
    #[arg(long, global = true, value_name = "HOST:PORT[,...]")]
    brokers: Option<String>,
    /// A librdkafka property for every Kafka client, as kcat takes it (repeatable), e.g.
    /// -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512. KEY.file=PATH reads
    /// KEY's value from a file.
    #[arg(
        short = 'X',
        long = "kafka-property",
        global = true,
        value_name = "KEY=VALUE",
        value_parser = kafka::parse_flag
    )]
    #[serde(rename = "kafka", serialize_with = "as_map")]
    kafka_properties: Vec<(String, String)>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Keep data in this folder: the built-in broker's log and offsets, the Orders API's orders
    /// (SQLite). Default: in memory.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Keep orders and Idempotency-Key answers in PostgreSQL, shared by any number of Orders
    /// API and producer processes: postgres://USER:PASSWORD@HOST:PORT/DATABASE (keep the
    /// password out of `ps`: set KAFKA_ORDERS_DATABASE_URL instead).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// The orders topic.
    #[arg(long, global = true)]
    topic: Option<String>,
    /// Partitions of the orders topic (and of topics the built-in broker creates).
    #[arg(long, global = true)]
    partitions: Option<i32>,
    /// When --data-dir writes reach the disk: never (the OS decides; survives a crash of this
    /// process, not of the machine), always (before each answer), or an interval like 1000ms.
    #[arg(long, global = true, value_name = "POLICY")]
    fsync: Option<String>,
}

/// `-X` flags as the `[kafka]` table they override.
fn as_map<S: serde::Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[derive(Subcommand)]
enum Command {
    /// Producer, consumer, Orders API and console together (the default).
    All,
    /// The producer: POST /orders publishes to Kafka.
    Producer(ProducerFlags),
    /// The consumer: forwards orders from Kafka to the Orders API.
    Consumer(ConsumerFlags),
    /// The Orders API: stores orders and serves queries and stats.
    OrdersApi(OrdersApiFlags),
    /// The console: topics, messages, consumer groups and orders of any Kafka.
    Console(ConsoleFlags),
    /// GET a URL and exit 0 on a 2xx answer: a health check for slim container images.
    Probe { url: String },
    /// Only the built-in Kafka-compatible broker.
    Broker(BrokerFlags),
}

#[derive(Args, Serialize)]
struct ProducerFlags {
    /// Address to listen on (default 127.0.0.1:3001).
    #[arg(long)]
    #[serde(rename = "producer_listen")]
    listen: Option<SocketAddr>,
    /// Orders API base URL used in Location headers.
    #[arg(long)]
    orders_api_url: Option<String>,
}

#[derive(Args, Serialize)]
struct ConsumerFlags {
    /// Address of its health and metrics port (default 127.0.0.1:3002).
    #[arg(long)]
    #[serde(rename = "consumer_listen")]
    listen: Option<SocketAddr>,
    /// Orders API base URL (default http://localhost:3003).
    #[arg(long)]
    orders_api_url: Option<String>,
}

#[derive(Args, Serialize)]
struct OrdersApiFlags {
    /// Address to listen on (default 127.0.0.1:3003).
    #[arg(long)]
    #[serde(rename = "orders_api_listen")]
    listen: Option<SocketAddr>,
}

#[derive(Args, Serialize)]
struct ConsoleFlags {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    #[serde(rename = "console_listen")]
    listen: Option<SocketAddr>,
    /// Orders API base URL for the orders page (default http://localhost:3003).
    #[arg(long)]
    orders_api_url: Option<String>,
    /// Show Kafka without letting anyone change it (no forms; every change refused).
    #[arg(long)]
    #[serde(rename = "console_read_only")]
    read_only: bool,
}

#[derive(Args, Serialize)]
struct BrokerFlags {
    /// Address to listen on (default 127.0.0.1:9092).
    #[arg(long)]
    #[serde(rename = "broker_listen")]
    listen: Option<SocketAddr>,
    /// host:port to advertise to clients (default: the listen address).
    #[arg(long)]
    #[serde(rename = "broker_advertised")]
    advertised: Option<String>,
}

impl Command {
    /// Which services run, and this command's own flags as a configuration layer.
    fn services_and_flags(&self) -> anyhow::Result<(Services, Dict)> {
        Ok(match self {
            Command::All | Command::Probe { .. } => (Services::All, Dict::new()),
            Command::Producer(flags) => (Services::Producer, given(flags)?),
            Command::Consumer(flags) => (Services::Consumer, given(flags)?),
            Command::OrdersApi(flags) => (Services::OrdersApi, given(flags)?),
            Command::Console(flags) => (Services::Console, given(flags)?),
            Command::Broker(flags) => (Services::Broker, given(flags)?),
        })
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,librdkafka=warn,rdkafka=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Ctrl+C or SIGTERM. Listening starts when this is called (before the services start, so
/// a signal during start-up also ends in a clean stop); it resolves when one arrives.
fn signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Ok(mut term) = term {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}

async fn probe(url: &str) -> std::process::ExitCode {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    match client.map(|c| c.get(url).send()) {
        Ok(request) => match request.await {
            Ok(response) if response.status().is_success() => std::process::ExitCode::SUCCESS,
            Ok(response) => {
                eprintln!("{url}: {}", response.status());
                std::process::ExitCode::FAILURE
            }
            Err(err) => {
                eprintln!("{url}: {err}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(err) => {
            eprintln!("{err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads the settings for the command; exits with status 2 and one line naming the key.
fn settings(cli: &Cli, command: &Command) -> Result<(Services, Settings), std::process::ExitCode> {
    let loaded = command.services_and_flags().and_then(|(services, own)| {
        let layers = [given(&cli.flags)?, own];
        Ok((services, Settings::load(&cli.config, &layers)?))
    });
    loaded.map_err(|err| {
        eprintln!("kafka-orders: {err:#}");
        std::process::ExitCode::from(2)
    })
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("kafka-orders: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    // A Kafka client still blocked in a call (a final commit to a Kafka that is gone) must not
    // hold the exit once the stop is done.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let command = cli.command.as_ref().unwrap_or(&Command::All);
    if let Command::Probe { url } = command {
        return probe(url).await;
    }
    let (services, settings) = match settings(&cli, command) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    init_logs(settings.log_format);
    let stop_signal = signal();
    let running = match app::start(settings, services).await {
        Ok(r) => r,
        Err(err) => {
            tracing::error!("{err:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    for line in running.describe() {
        tracing::info!("{line}");
    }
    tracing::info!("ready; Ctrl+C to stop");
    stop_signal.await;
    tracing::info!("shutting down");
    match running.stop().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
