//! The user's librdkafka client properties: `-X KEY=VALUE` (as kcat takes them), a `[kafka]`
//! table in `kafka-orders.toml`, and `KAFKA_ORDERS_KAFKA_<KEY>` variables (`_` for `.`).
//!
//! A property `KEY.file = PATH` is read from that file into `KEY` (Docker and Kubernetes
//! secrets), and secret values (passwords, keys, tokens) never show in `Debug` output.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Properties whose value is a secret: shown as `***` wherever settings are shown.
const SECRET_MARKERS: [&str; 6] = [
    "password",
    "secret",
    "ssl.key.pem",
    "sasl.oauthbearer.config",
    "jaas",
    "token",
];

/// The prefix of the environment variables that set properties.
pub const ENV_PREFIX: &str = "KAFKA_ORDERS_KAFKA_";

#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Properties(BTreeMap<String, String>);

#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    #[error("Kafka property {key}: cannot read {path}: {source}")]
    File {
        key: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Kafka property {0} is given twice: directly and as {0}.file; keep one")]
    Twice(String),
    #[error("Kafka property {0}: {1} is not a single value (text, number or true/false)")]
    NotAValue(String, String),
}

pub fn is_secret(key: &str) -> bool {
    SECRET_MARKERS.iter().any(|m| key.contains(m))
}

impl Properties {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Replaces every `KEY.file` property by `KEY` with the file's content (a final newline,
    /// as secrets files often have, is not part of the value).
    pub fn read_files(self) -> Result<Self, PropertyError> {
        let mut out = BTreeMap::new();
        let mut files = Vec::new();
        for (key, value) in self.0 {
            match key.strip_suffix(".file") {
                Some(base) => files.push((base.to_string(), PathBuf::from(value))),
                None => {
                    out.insert(key, value);
                }
            }
        }
        for (key, path) in files {
            if out.contains_key(&key) {
                return Err(PropertyError::Twice(key));
            }
            let content = std::fs::read_to_string(&path).map_err(|source| PropertyError::File {
                key: format!("{key}.file"),
                path: path.clone(),
                source,
            })?;
            let value = content.strip_suffix('\n').unwrap_or(&content);
            out.insert(key, value.strip_suffix('\r').unwrap_or(value).to_string());
        }
        Ok(Self(out))
    }

    /// `key=value` lines, secrets as `***`.
    pub fn redacted(&self) -> Vec<String> {
        self.iter()
            .map(|(k, v)| format!("{k}={}", if is_secret(k) { "***" } else { v }))
            .collect()
    }

    /// The properties set by `KAFKA_ORDERS_KAFKA_<KEY>` variables: `SASL_USERNAME` is
    /// `sasl.username` (librdkafka's names have dots where variables can only have `_`).
    pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
        vars.filter_map(|(name, value)| {
            let key = name.strip_prefix(ENV_PREFIX)?;
            Some((key.to_ascii_lowercase().replace('_', "."), value))
        })
        .collect()
    }
}

impl FromIterator<(String, String)> for Properties {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Self(pairs.into_iter().collect())
    }
}

impl fmt::Debug for Properties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.redacted()).finish()
    }
}

/// `KEY=VALUE` from the command line.
pub fn parse_flag(flag: &str) -> anyhow::Result<(String, String)> {
    match flag.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => anyhow::bail!("expected KEY=VALUE (a librdkafka property), got {flag:?}"),
    }
}

/// Adds `value` under `key`; nested tables (`[kafka] security.protocol = ...` in TOML is
/// `security = { protocol = ... }`) become dotted keys.
fn flatten(
    key: String,
    value: Value,
    nested: bool,
    out: &mut Vec<(bool, String, String)>,
) -> Result<(), PropertyError> {
    let text = match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(format!("{key}.{k}"), v, true, out)?;
            }
            return Ok(());
        }
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(PropertyError::NotAValue(key, other.to_string())),
    };
    out.push((nested, key, text));
    Ok(())
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, Value>::deserialize(d)?;
        let mut all = Vec::new();
        for (key, value) in map {
            flatten(key, value, false, &mut all).map_err(D::Error::custom)?;
        }
        // A dotted key given as such (the file's quoted keys, variables, flags) wins over the
        // same key spelled as nested tables in the file: variables and flags come later.
        all.sort_by_key(|(nested, _, _)| !nested);
        Ok(Self(all.into_iter().map(|(_, k, v)| (k, v)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(json: serde_json::Value) -> Properties {
        serde_json::from_value(json).expect("properties")
    }

    #[test]
    fn nested_tables_become_dotted_keys_and_dotted_keys_win() {
        let p = props(serde_json::json!({
            "security": {"protocol": "SSL"},
            "security.protocol": "SASL_SSL",
            "acks": 1,
            "enable.idempotence": true,
        }));
        assert_eq!(p.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(p.get("acks"), Some("1"));
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert!(serde_json::from_value::<Properties>(serde_json::json!({"a": [1]})).is_err());
    }

    #[test]
    fn secrets_are_read_from_files_and_never_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("password");
        std::fs::write(&file, "s3cret\n").expect("write");
        let p = props(serde_json::json!({
            "sasl.username": "orders",
            "sasl.password.file": file.to_str().expect("utf8"),
        }))
        .read_files()
        .expect("readable");
        assert_eq!(p.get("sasl.password"), Some("s3cret"));
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("sasl.username=orders"),
            "{shown}"
        );

        let missing = props(serde_json::json!({"sasl.password.file": "/nope"})).read_files();
        assert!(matches!(missing, Err(PropertyError::File { .. })));
        let twice = props(serde_json::json!({"sasl.password": "x", "sasl.password.file": "/nope"}));
        assert!(matches!(twice.read_files(), Err(PropertyError::Twice(_))));
    }

    #[test]
    fn flags_and_variables_name_properties_as_librdkafka_does() {
        assert_eq!(
            parse_flag("sasl.password=a=b").expect("flag"),
            ("sasl.password".into(), "a=b".into())
        );
        assert!(parse_flag("novalue").is_err());
        let env = Properties::from_env(
            [
                (
                    "KAFKA_ORDERS_KAFKA_SECURITY_PROTOCOL".to_string(),
                    "SSL".to_string(),
                ),
                ("KAFKA_ORDERS_TOPIC".to_string(), "t".to_string()),
            ]
            .into_iter(),
        );
        assert_eq!(
            env.into_iter().collect::<Vec<_>>(),
            vec![("security.protocol".to_string(), "SSL".to_string())]
        );
    }
}
