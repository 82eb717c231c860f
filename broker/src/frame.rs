//! Kafka request and response frames: `length i32 | header | body`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::allowance::{self, AllowanceExceeded};
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::api;

/// The arrays and tagged fields of a request may take this many times its frame's size once
/// decoded, plus [`DECODE_SLACK`] (see kafka-protocol's `protocol/allowance.rs`). Real
/// clients' requests take 2 to 6.5 times (Fetch, OffsetCommit, CreateTopics, DescribeGroups,
/// Metadata v12, each with 1,000 topics or partitions), where a hostile Metadata v0 of empty
/// topic names would take 36 times. Kafka has no such cap.
const DECODE_FACTOR: usize = 8;
/// Room for requests of many very short entries: a Metadata v0-v8 request (before topic ids)
/// naming 5,000 one-letter topics takes 352 KiB, 24 times its frame. At most one request per
/// connection is decoded at a time, so this adds at most 256 MiB over 1,000 connections.
const DECODE_SLACK: usize = 256 * 1024;

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
    /// Many entries in few bytes (millions of empty topic names, say): it is refused before
    /// they are allocated, and the connection closed as for a malformed request, which is what
    /// Kafka does with a request it cannot parse.
    #[error("{api:?} v{version} request of {frame_bytes} bytes refused: {reason}")]
    TooManyEntries {
        api: ApiKey,
        version: i16,
        frame_bytes: usize,
        reason: AllowanceExceeded,
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
    let frame_bytes = frame.len();
    let refused = |e: anyhow::Error| match e.downcast_ref::<AllowanceExceeded>() {
        Some(&reason) => FrameError::TooManyEntries {
            api,
            version,
            frame_bytes,
            reason,
        },
        None => FrameError::Malformed {
            api,
            version,
            reason: e.to_string(),
        },
    };
    let (decoded, _) = allowance::with_allowance(decode_allowance(frame_bytes), || {
        decode_parts(&mut frame, api, version)
    });
    let (header, body) = decoded.map_err(refused)?;
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

fn decode_parts(
    frame: &mut Bytes,
    api: ApiKey,
    version: i16,
) -> anyhow::Result<(RequestHeader, RequestKind)> {
    let header = RequestHeader::decode(frame, api.request_header_version(version))?;
    let body = RequestKind::decode(api, frame, version)?;
    Ok((header, body))
}

/// What the arrays and tagged fields of a request of `frame_bytes` may take once decoded.
fn decode_allowance(frame_bytes: usize) -> usize {
    DECODE_FACTOR * frame_bytes + DECODE_SLACK
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

    /// A Metadata v0 request for `names` (header v1, no client id).
    fn metadata_v0(names: impl ExactSizeIterator<Item = String>) -> Bytes {
        let mut frame = BytesMut::new();
        frame.put_slice(&[0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        frame.put_i32(names.len() as i32);
        for name in names {
            frame.put_i16(name.len() as i16);
            frame.put_slice(name.as_bytes());
        }
        frame.freeze()
    }

    /// A Metadata v9 request (flexible) for one empty topic name that carries `count` unknown
    /// tagged fields, each two to four bytes on the wire.
    fn metadata_v9_tagged_fields(count: u32) -> Bytes {
        fn varint(frame: &mut BytesMut, mut value: u32) {
            while value >= 0x80 {
                frame.put_u8(value as u8 | 0x80);
                value >>= 7;
            }
            frame.put_u8(value as u8);
        }
        let mut frame = BytesMut::new();
        // Header v2: key, version, correlation id, null client id, no tagged fields.
        frame.put_slice(&[0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0]);
        // One topic: an empty compact name, then its tagged fields.
        frame.put_slice(&[2, 1]);
        varint(&mut frame, count);
        for tag in 0..count {
            varint(&mut frame, tag);
            frame.put_u8(0);
        }
        // Three flags, no tagged fields of the request's own.
        frame.put_slice(&[0, 0, 0, 0]);
        frame.freeze()
    }

    /// Many entries in few bytes: unbounded, they decode into tens of times the frame; the
    /// broker refuses them before allocating more than its allowance. Real requests of many
    /// short entries still decode.
    #[test]
    fn many_entries_in_few_bytes_are_refused_before_they_are_allocated() {
        let hostile = [
            (
                "Metadata v0, 512 Ki empty topic names",
                metadata_v0((0..512 * 1024).map(|_| String::new())),
            ),
            (
                "Metadata v9, one topic with 256 Ki unknown tagged fields",
                metadata_v9_tagged_fields(256 * 1024),
            ),
        ];
        for (what, frame) in hostile {
            let (decoded, taken) = allowance::with_allowance(usize::MAX, || {
                decode_parts(&mut frame.clone(), ApiKey::Metadata, i16::from(frame[3]))
            });
            assert!(decoded.is_ok(), "{what}: a valid request");
            assert!(
                taken > 16 * frame.len(),
                "{what}: unbounded, {taken} bytes decoded from {}",
                frame.len()
            );
            match decode_request(frame.clone()) {
                Err(FrameError::TooManyEntries { reason, .. }) => {
                    assert_eq!(reason.allowance, decode_allowance(frame.len()), "{what}")
                }
                Err(other) => panic!("{what}: refused for another reason: {other}"),
                Ok(_) => panic!("{what}: decoded"),
            }
        }
        let short_names = metadata_v0((0..5_000).map(|i| char::from(b'a' + (i % 26) as u8).into()));
        let long_names = metadata_v0((0..100_000).map(|i| format!("orders-{i:05}")));
        for real in [short_names, long_names] {
            assert!(decode_request(real).is_ok());
        }
    }
}
