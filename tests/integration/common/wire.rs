//! One Kafka request as raw frames over plain TCP, for requests no well-behaved client sends
//! (a made-up producer id, a batch whose header lies). The cluster's SASL_SSL listener is not
//! spoken here: [`plaintext`] says whether the broker under test can be reached this way.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the broker under test takes plaintext Kafka requests (not the SASL_SSL cluster).
pub fn plaintext() -> bool {
    !super::kafka_properties()
        .iter()
        .any(|(k, v)| k == "security.protocol" && v != "PLAINTEXT")
}

/// Sends `request` at `version` on a new connection and decodes the answer.
pub async fn request<R: Request>(addr: &str, request: &R, version: i16) -> R::Response {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("hostile-test")));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    header
        .encode(&mut frame, R::header_version(version))
        .expect("header");
    request.encode(&mut frame, version).expect("body");
    let len = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&frame).await.expect("send");
    let size = stream.read_i32().await.expect("answer size");
    let mut body = vec![0u8; usize::try_from(size).expect("size")];
    stream.read_exact(&mut body).await.expect("answer");
    let mut body = Bytes::from(body);
    let api = ApiKey::try_from(R::KEY).expect("a known API");
    ResponseHeader::decode(&mut body, api.response_header_version(version)).expect("header");
    R::Response::decode(&mut body, version).expect("decode the answer")
}
