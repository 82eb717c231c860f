//! The configs a topic can be created with, under Kafka's names, each checked as Kafka checks
//! it. Unset ones follow the broker's settings. They are kept in the topic's `meta` file.

use crate::config::BrokerConfig;
use crate::log::partition::{Retention, Rolling};

/// Kafka 4's smallest `segment.bytes` (KIP-1030).
const MIN_SEGMENT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicConfigs {
    pub max_message_bytes: Option<usize>,
    pub retention_ms: Option<i64>,
    pub retention_bytes: Option<i64>,
    pub segment_bytes: Option<u64>,
    pub segment_ms: Option<i64>,
}

fn invalid(name: &str, value: &str, why: &str) -> String {
    format!("Invalid value {value} for configuration {name}: {why}")
}

fn number<T: std::str::FromStr>(name: &str, value: &str, kind: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(name, value, &format!("Not a number of type {kind}")))
}

fn at_least<T: PartialOrd + std::fmt::Display>(
    name: &str,
    value: &str,
    n: T,
    min: T,
) -> Result<T, String> {
    if n < min {
        return Err(invalid(
            name,
            value,
            &format!("Value must be at least {min}"),
        ));
    }
    Ok(n)
}

impl TopicConfigs {
    /// Sets `name` from its text. `Ok(false)`: not a config this broker applies (accepted and
    /// ignored, like `cleanup.policy=delete`, which is what it does anyway).
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, String> {
        match name {
            "max.message.bytes" => {
                let n: i32 = number(name, value, "INT")?;
                self.max_message_bytes = Some(at_least(name, value, n, 0)? as usize);
            }
            "retention.ms" => {
                let n: i64 = number(name, value, "LONG")?;
                self.retention_ms = Some(at_least(name, value, n, -1)?);
            }
            "retention.bytes" => {
                let n: i64 = number(name, value, "LONG")?;
                self.retention_bytes = Some(at_least(name, value, n, -1)?);
            }
            "segment.bytes" => {
                let n: i32 = number(name, value, "INT")?;
                let n = u64::try_from(n).unwrap_or(0);
                self.segment_bytes = Some(at_least(name, value, n, MIN_SEGMENT_BYTES)?);
            }
            "segment.ms" => {
                let n: i64 = number(name, value, "LONG")?;
                self.segment_ms = Some(at_least(name, value, n, 1)?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// One change asked by AlterConfigs or IncrementalAlterConfigs: `Some(value)` sets the
    /// config, `None` takes it back to the broker's default. Configs this broker does not
    /// apply are refused by name (`cleanup.policy=delete` is accepted: it is what it does).
    pub fn alter(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        let unsupported = || format!("Unknown or unsupported topic config name: {name}");
        match value {
            Some(value) => match self.set(name, value)? {
                true => Ok(()),
                false if name == "cleanup.policy" && value == "delete" => Ok(()),
                false => Err(unsupported()),
            },
            None => {
                match name {
                    "max.message.bytes" => self.max_message_bytes = None,
                    "retention.ms" => self.retention_ms = None,
                    "retention.bytes" => self.retention_bytes = None,
                    "segment.bytes" => self.segment_bytes = None,
                    "segment.ms" => self.segment_ms = None,
                    "cleanup.policy" => {}
                    _ => return Err(unsupported()),
                }
                Ok(())
            }
        }
    }

    /// The configs set on the topic, as `meta` lines and DescribeConfigs show them.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        [
            (
                "max.message.bytes",
                self.max_message_bytes.map(|n| n.to_string()),
            ),
            ("retention.ms", self.retention_ms.map(|n| n.to_string())),
            (
                "retention.bytes",
                self.retention_bytes.map(|n| n.to_string()),
            ),
            ("segment.bytes", self.segment_bytes.map(|n| n.to_string())),
            ("segment.ms", self.segment_ms.map(|n| n.to_string())),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }

    pub fn max_message_bytes(&self, broker: &BrokerConfig) -> usize {
        self.max_message_bytes.unwrap_or(broker.max_message_bytes)
    }

    pub fn rolling(&self, broker: &BrokerConfig) -> Rolling {
        Rolling {
            bytes: self.segment_bytes.unwrap_or(broker.segment_bytes),
            ms: self.segment_ms.unwrap_or(broker.segment_ms),
        }
    }

    pub fn retention(&self, broker: &BrokerConfig) -> Retention {
        Retention {
            ms: self.retention_ms.unwrap_or(broker.retention_ms),
            bytes: self.retention_bytes.unwrap_or(broker.retention_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_as_kafka_checks_them() {
        let mut configs = TopicConfigs::default();
        assert_eq!(configs.set("retention.ms", "60000"), Ok(true));
        assert_eq!(configs.set("retention.bytes", "-1"), Ok(true));
        assert_eq!(configs.set("cleanup.policy", "delete"), Ok(false));
        assert_eq!(
            configs.set("max.message.bytes", "lots"),
            Err(
                "Invalid value lots for configuration max.message.bytes: Not a number of type INT"
                    .into()
            )
        );
        assert!(configs.set("retention.ms", "-2").is_err());
        assert!(configs.set("segment.bytes", "1000").is_err());
        assert_eq!(
            configs.entries(),
            [
                ("retention.ms", "60000".into()),
                ("retention.bytes", "-1".into())
            ]
        );
    }
}
