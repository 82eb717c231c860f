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
