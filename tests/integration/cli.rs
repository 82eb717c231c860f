//! The command line: bad configuration stops the program at once with one message naming the
//! key, whichever layer it came from.

use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-orders"));
    cmd.args(args)
        .current_dir(dir.path())
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kafka-orders");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit code and everything the process wrote (its logs go to standard output).
fn run_all(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kafka-orders"));
    cmd.args(args).env("RUST_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run kafka-orders");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

#[test]
fn a_kafka_property_librdkafka_does_not_know_stops_the_start_naming_it() {
    let producer = [
        "producer",
        "--brokers",
        "127.0.0.1:1",
        "--listen",
        "127.0.0.1:0",
    ];
    let (code, out) = run_all(
        &[&producer[..], &["-X", "no.such.property=1"]].concat(),
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("no.such.property") && out.contains("-X"),
        "{out}"
    );
    // The same from a variable: SASL_TYPO is sasl.typo.
    let (code, out) = run_all(&producer, &[("KAFKA_ORDERS_KAFKA_SASL_TYPO", "x")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sasl.typo"), "{out}");
    // A flag that is not KEY=VALUE is refused by the parser.
    let (code, out) = run_all(&["-X", "novalue", "producer"], &[]);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
fn a_secret_file_that_cannot_be_read_is_named_and_its_value_never_shown() {
    let (code, err) = run(
        &["producer", "-X", "sasl.password.file=/no/such/secret"],
        &[],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("sasl.password.file") && err.contains("/no/such/secret"),
        "{err}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = dir.path().join("password");
    std::fs::write(&secret, "hunter2\n").expect("write");
    let flag = format!("sasl.password.file={}", secret.display());
    // librdkafka refuses the typo; the message must not carry the password read from the file.
    let (code, out) = run_all(
        &[
            "producer",
            "--brokers",
            "127.0.0.1:1",
            "--listen",
            "127.0.0.1:0",
            "-X",
            &flag,
            "-X",
            "sasl.typo=1",
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("hunter2"), "{out}");
    // The database URL from a file: the same rules, and never both.
    let (code, err) = run(
        &["orders-api"],
        &[("KAFKA_ORDERS_DATABASE_URL_FILE", "/no/such/url")],
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("database_url_file") && err.contains("/no/such/url"),
        "{err}"
    );
    let url = dir.path().join("database-url");
    std::fs::write(&url, "postgres://orders:hunter2@127.0.0.1:1/orders\n").expect("write");
    let url = url.to_str().expect("utf8");
    let (code, err) = run(
        &["orders-api"],
        &[
            ("KAFKA_ORDERS_DATABASE_URL_FILE", url),
            ("KAFKA_ORDERS_DATABASE_URL", "postgres://x@y/z"),
        ],
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("both set"), "{err}");
}

/// The URL read from its file is the one used (trimmed): the start names PostgreSQL's
/// refusal, never the password.
#[test]
fn the_database_url_is_read_from_its_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = dir.path().join("database-url");
    // Port 1: nothing listens; the start waits for it, so a bad URL shows at once instead.
    std::fs::write(
        &url,
        "postgres://orders:hunter2@127.0.0.1:1/orders?sslmode=nonsense\n",
    )
    .expect("write");
    let (code, out) = run_all(
        &["orders-api", "--listen", "127.0.0.1:0"],
        &[(
            "KAFKA_ORDERS_DATABASE_URL_FILE",
            url.to_str().expect("utf8"),
        )],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("database_url") && out.contains("sslmode"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
}

#[test]
fn a_bad_environment_value_names_its_key() {
    let (code, err) = run(&["orders-api"], &[("KAFKA_ORDERS_PARTITIONS", "many")]);
    assert_eq!(code, Some(2));
    assert!(err.to_lowercase().contains("partitions"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
}

#[test]
fn an_unknown_setting_is_refused() {
    let (code, err) = run(&["orders-api"], &[("KAFKA_ORDERS_PARTITON", "3")]);
    assert_eq!(code, Some(2));
    assert!(err.to_lowercase().contains("partiton"), "{err}");
}

#[test]
fn a_bad_config_file_value_names_its_key_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("kafka-orders.toml");
    std::fs::write(&file, "producer_listen = \"not an address\"\n").expect("write");
    let (code, err) = run(&["producer", "--config", file.to_str().expect("utf8")], &[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("producer_listen") && err.contains("kafka-orders.toml"),
        "{err}"
    );
}

#[test]
fn bad_flags_and_fsync_policies_are_refused() {
    let (code, err) = run(&["broker", "--fsync", "sometimes"], &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("fsync"), "{err}");
    let (code, _) = run(&["--no-such-flag"], &[]);
    assert_eq!(code, Some(2));
}

/// In a Kubernetes pod, every Service in the namespace adds variables such as
/// `KAFKA_ORDERS_SERVICE_HOST` (a Service named kafka-orders) or
/// `KAFKA_ORDERS_KAFKA_PORT_9092_TCP_ADDR` (one named kafka-orders-kafka): the process starts
/// anyway, while a misspelled setting is still refused.
#[tokio::test]
async fn kubernetes_service_variables_do_not_stop_the_start() {
    let listen = crate::common::process::free_port();
    let links = [
        ("KAFKA_ORDERS_SERVICE_HOST", "10.0.0.11"),
        ("KAFKA_ORDERS_SERVICE_PORT", "3003"),
        ("KAFKA_ORDERS_SERVICE_PORT_HTTP", "3003"),
        ("KAFKA_ORDERS_PORT", "tcp://10.0.0.11:3003"),
        ("KAFKA_ORDERS_PORT_3003_TCP", "tcp://10.0.0.11:3003"),
        ("KAFKA_ORDERS_PORT_3003_TCP_PROTO", "tcp"),
        ("KAFKA_ORDERS_PORT_3003_TCP_PORT", "3003"),
        ("KAFKA_ORDERS_PORT_3003_TCP_ADDR", "10.0.0.11"),
        ("KAFKA_ORDERS_KAFKA_SERVICE_HOST", "10.0.0.12"),
        ("KAFKA_ORDERS_KAFKA_SERVICE_PORT", "9092"),
        ("KAFKA_ORDERS_KAFKA_PORT", "tcp://10.0.0.12:9092"),
        ("KAFKA_ORDERS_KAFKA_PORT_9092_TCP_ADDR", "10.0.0.12"),
        ("KAFKA_ORDERS_PRODUCER_SERVICE_HOST", "10.0.0.13"),
        ("KAFKA_ORDERS_PRODUCER_PORT_3001_TCP_PROTO", "tcp"),
    ];
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafka-orders"));
    command
        .arg("orders-api")
        .env("KAFKA_ORDERS_ORDERS_API_LISTEN", listen.to_string())
        .envs(links);
    let _api = crate::common::process::Process::spawn(&mut command);
    crate::common::process::healthy(&format!("http://{listen}")).await;
    let (code, err) = run(
        &["orders-api"],
        &[links[0], ("KAFKA_ORDERS_ORDERS_API_PORT", "3003")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("orders_api_port"), "{err}");
}
