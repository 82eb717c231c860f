//! Topic sizes on disk (or in memory), through DescribeLogDirs. rdkafka does not offer that
//! call, so the console sends it itself with the Kafka protocol codec (kafka-protocol), one
//! request to each broker, and adds up the partitions.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::kafka::Kafka;

#[derive(Debug, thiserror::Error)]
pub enum LogDirsError {
    #[error("the console's own protocol client speaks PLAINTEXT only, not {0}")]
    Unsupported(String),
    #[error("{addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} does not resolve to an address")]
    NoAddress { addr: String },
    #[error("{addr}: {source}")]
    Codec { addr: String, source: anyhow::Error },
    #[error("{addr}: the response size {size} is not valid")]
    BadSize { addr: String, size: i32 },
}

/// v1 is served by every Kafka since 2.0 and by the built-in broker.
const VERSION: i16 = 1;

fn describe(host: &str, port: i32) -> Result<DescribeLogDirsResponse, LogDirsError> {
    let addr = format!("{host}:{port}");
    let io = |source| LogDirsError::Io {
        addr: addr.clone(),
        source,
    };
    let codec = |source| LogDirsError::Codec {
        addr: addr.clone(),
        source,
    };
    let timeout = Duration::from_secs(3);
    // A host name (kafka:29092 in compose) as well as an address.
    let sock = addr
        .to_socket_addrs()
        .map_err(io)?
        .next()
        .ok_or_else(|| LogDirsError::NoAddress { addr: addr.clone() })?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    let api = ApiKey::DescribeLogDirs;
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("kafka-orders-console")));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    header
        .encode(&mut frame, api.request_header_version(VERSION))
        .map_err(codec)?;
    DescribeLogDirsRequest::default()
        .with_topics(None)
        .encode(&mut frame, VERSION)
        .map_err(codec)?;
    let len = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&frame).map_err(io)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).map_err(io)?;
    let size = i32::from_be_bytes(len);
    let len = usize::try_from(size)
        .ok()
        .filter(|n| *n <= 64 * 1024 * 1024)
        .ok_or_else(|| LogDirsError::BadSize {
            addr: addr.clone(),
            size,
        })?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).map_err(io)?;
    let mut body = Bytes::from(body);
    ResponseHeader::decode(&mut body, api.response_header_version(VERSION)).map_err(codec)?;
    DescribeLogDirsResponse::decode(&mut body, VERSION).map_err(codec)
}

/// Bytes per topic across every broker and log dir. A broker that does not answer is left
/// out, so sizes may be partial; the console shows them as they are. An error when no broker
/// answered, or the console cannot speak the cluster's security protocol.
pub fn topic_sizes(
    kafka: &Kafka,
    brokers: &[(String, i32)],
) -> Result<HashMap<String, i64>, LogDirsError> {
    let protocol = kafka.security_protocol();
    if protocol != "PLAINTEXT" {
        return Err(LogDirsError::Unsupported(protocol));
    }
    let mut sizes = HashMap::new();
    let mut last_error = None;
    for (host, port) in brokers {
        let response = match describe(host, *port) {
            Ok(response) => response,
            Err(err) => {
                last_error = Some(err);
                continue;
            }
        };
        for dir in response.results.iter().filter(|d| d.error_code == 0) {
            for topic in &dir.topics {
                let bytes: i64 = topic
                    .partitions
                    .iter()
                    .filter(|p| !p.is_future_key)
                    .map(|p| p.partition_size)
                    .sum();
                *sizes.entry(topic.name.to_string()).or_insert(0) += bytes;
            }
        }
        last_error = None;
    }
    last_error.map_or(Ok(sizes), Err)
}
