//! The real `kafka-orders` binary as a child process, for what only a whole process shows:
//! `kill -9`, a restart on the same data, metrics of one process, exit codes.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{eventually, kafka_properties, real_kafka, RealKafka};

/// A child process, killed if the test ends early (a failed assertion must not leave it running).
pub struct Process(pub Child);

impl Process {
    pub fn spawn(command: &mut Command) -> Self {
        Self(command.spawn().expect("start the process"))
    }

    /// SIGKILL: no clean-up, no goodbye to the group or the broker.
    pub fn kill_9(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }

    /// SIGTERM, then waits: whether it exited 0.
    pub fn terminate(&mut self) -> bool {
        self.terminate_within(Duration::MAX).expect("exited")
    }

    /// SIGTERM, then waits at most `limit`: whether it exited 0, or `None` if it was still
    /// running (it is killed then).
    pub fn terminate_within(&mut self, limit: Duration) -> Option<bool> {
        let pid = self.0.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let asked = Instant::now();
        while asked.elapsed() < limit {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_9();
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
}

/// `--brokers KAFKA_BROKERS` and its client properties as `-X` when a real Kafka is named,
/// else `--embedded`.
pub fn kafka_args() -> Vec<OsString> {
    let Some(brokers) = real_kafka() else {
        return vec!["--embedded".into()];
    };
    let mut args: Vec<OsString> = vec!["--brokers".into(), brokers.into()];
    for (k, v) in kafka_properties() {
        args.extend(["-X".into(), format!("{k}={v}").into()]);
    }
    args
}

/// Every service of `kafka-orders` in one child process, on free ports of its own, with a
/// topic and group of its own. [`AppProcess::restart`] starts it again on the same ports.
pub struct AppProcess {
    pub producer: String,
    pub api: String,
    pub consumer: String,
    pub topic: String,
    env: Vec<(&'static str, String)>,
    args: Vec<OsString>,
    pub process: Process,
    /// A share of the real Kafka, when it runs on one.
    _real: Option<RealKafka>,
}

impl AppProcess {
    pub fn launch(args: Vec<OsString>) -> Self {
        let name = uuid::Uuid::new_v4().simple().to_string();
        let (producer, api, consumer) = (free_port(), free_port(), free_port());
        let env = vec![
            ("KAFKA_ORDERS_TOPIC", format!("orders-{name}")),
            ("KAFKA_ORDERS_GROUP", format!("group-{name}")),
            ("KAFKA_ORDERS_PRODUCER_LISTEN", producer.to_string()),
            ("KAFKA_ORDERS_ORDERS_API_LISTEN", api.to_string()),
            ("KAFKA_ORDERS_ORDERS_API_URL", format!("http://{api}")),
            ("KAFKA_ORDERS_BROKER_LISTEN", free_port().to_string()),
            ("KAFKA_ORDERS_CONSOLE_LISTEN", free_port().to_string()),
            ("KAFKA_ORDERS_CONSUMER_LISTEN", consumer.to_string()),
            ("RUST_LOG", "warn".to_string()),
        ];
        let real = real_kafka().map(|_| tokio::task::block_in_place(RealKafka::shared));
        let process = Self::spawn(&args, &env);
        Self {
            _real: real,
            producer: format!("http://{producer}"),
            api: format!("http://{api}"),
            consumer: format!("http://{consumer}"),
            topic: format!("orders-{name}"),
            env,
            args,
            process,
        }
    }

    fn spawn(args: &[OsString], env: &[(&'static str, String)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kafka-orders"));
        command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
        Process::spawn(&mut command)
    }

    /// Starts the process again with the same ports, arguments and data (the old one must
    /// have exited).
    pub fn restart(&mut self) {
        self.process = Self::spawn(&self.args, &self.env);
    }

    /// Waits (at most 60 s) until the producer, the Orders API and the consumer answer
    /// `/healthz`.
    pub async fn healthy(&self) {
        for base in [&self.producer, &self.api, &self.consumer] {
            healthy(base).await;
        }
    }
}

/// Waits (at most 60 s) until the HTTP service at `base` answers `/healthz`.
pub async fn healthy(base: &str) {
    let url = format!("{base}/healthz");
    eventually(60, || async {
        reqwest::get(&url)
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(drop)
    })
    .await;
}
