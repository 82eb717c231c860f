//! Kafka request and response frames: `length i32 | header | body`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::api;

/// Why a frame cannot be served. Each is logged once and the connection is closed,
/// except an unsupported ApiVersions, which gets Kafka's UNSUPPORTED_VERSION answer.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api:?} v{version} is not supported (this broker serves v{min}..=v{max})")]
    UnsupportedVersion {
        api: ApiKey,
        version: i16,
        min: i16,
        max: i16,
        correlation_id: i32,
    },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    /// The answer could not be encoded (a response field out of its version's range).
    #[error("cannot encode the {api:?} v{version} response: {reason}")]
    Encode {
        api: ApiKey,
        version: i16,
        reason: String,
    },
}

pub struct Request {
    pub api: ApiKey,
    pub version: i16,
    pub header: RequestHeader,
    pub body: RequestKind,
}

/// Decodes a request frame (the bytes after the length prefix).
pub fn decode_request(mut frame: Bytes) -> Result<Request, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::TooShort(frame.len()));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api = ApiKey::try_from(key).map_err(|_| FrameError::UnknownApi(key))?;
    let range = api::supported(api).ok_or(FrameError::UnknownApi(key))?;
    if !(range.0..=range.1).contains(&version) {
        return Err(FrameError::UnsupportedVersion {
            api,
            version,
            min: range.0,
            max: range.1,
            correlation_id,
        });
    }
    let malformed = |e: anyhow::Error| FrameError::Malformed {
        api,
        version,
        reason: e.to_string(),
    };
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(malformed)?;
    let body = RequestKind::decode(api, &mut frame, version).map_err(malformed)?;
    if frame.has_remaining() {
        // Kafka ignores bytes after the request body, and librdkafka sends a few with a
        // full-topic Metadata v12 request: accept them as Kafka does.
        tracing::debug!(
            ?api,
            version,
            extra = frame.remaining(),
            "ignored bytes after the request body"
        );
    }
    Ok(Request {
        api,
        version,
        header,
        body,
    })
}

/// Encodes a response frame (size, header, body) into `out`, which is cleared first. The
/// connection passes the same buffer for every answer, so its capacity is kept: answers reuse
/// memory instead of allocating (and page-faulting) a fresh buffer each time, which under a
/// fetch load of megabyte answers was most of the broker's CPU (bench/changes.md).
pub fn encode_response(
    out: &mut BytesMut,
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<(), FrameError> {
    out.clear();
    // A fetch answer carries up to megabytes of record batches: reserve once, instead of
    // growing by doubling (each step a reallocation and a copy of everything so far).
    if let ResponseKind::Fetch(fetch) = body {
        out.reserve(64 + fetch.compute_size(version).unwrap_or(0));
    }
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let failed = |e: anyhow::Error| FrameError::Encode {
        api,
        version,
        reason: e.to_string(),
    };
    header
        .encode(out, api.response_header_version(version))
        .map_err(failed)?;
    body.encode(out, version).map_err(failed)?;
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames the fuzz target found: each claims a huge array in a few bytes. Decoding must
    /// fail cleanly instead of trying to allocate gigabytes (see vendor/kafka-protocol).
    #[test]
    fn huge_array_counts_are_decode_errors() {
        for hex in [
            "0003000000000000000032000000",
            "000f00004040004d000040000b87",
            "0003000000010000000010000100",
        ] {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            assert!(decode_request(Bytes::from(bytes)).is_err(), "{hex}");
        }
    }
}
