//! Topic sizes on disk (or in memory), through DescribeLogDirs. rdkafka does not offer that
//! call, so the console sends it itself with the Kafka protocol codec (kafka-protocol), one
//! request to each broker, and adds up the partitions.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// v1 is served by every Kafka since 2.0 and by the built-in broker.
const VERSION: i16 = 1;

fn describe(host: &str, port: i32) -> Result<DescribeLogDirsResponse, String> {
    let addr = format!("{host}:{port}");
    let timeout = Duration::from_secs(3);
    let sock = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut stream =
        TcpStream::connect_timeout(&sock, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
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
        .map_err(|e| e.to_string())?;
    DescribeLogDirsRequest::default()
        .with_topics(None)
        .encode(&mut frame, VERSION)
        .map_err(|e| e.to_string())?;
    let len = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    stream
        .write_all(&frame)
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| format!("{addr}: {e}"))?;
    let len = usize::try_from(i32::from_be_bytes(len))
        .map_err(|_| "negative response size".to_string())?;
    let mut body = vec![0u8; len.min(64 * 1024 * 1024)];
    stream
        .read_exact(&mut body)
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut body = Bytes::from(body);
    ResponseHeader::decode(&mut body, api.response_header_version(VERSION))
        .map_err(|e| e.to_string())?;
    DescribeLogDirsResponse::decode(&mut body, VERSION).map_err(|e| e.to_string())
}

/// Bytes per topic across every broker and log dir. A broker that does not answer is left
/// out, so sizes may be partial; the console shows them as they are.
pub fn topic_sizes(brokers: &[(String, i32)]) -> HashMap<String, i64> {
    let mut sizes = HashMap::new();
    for (host, port) in brokers {
        let Ok(response) = describe(host, *port) else {
            continue;
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
    }
    sizes
}
