//! The console's own Kafka protocol client, for the calls rdkafka does not offer
//! (DescribeLogDirs, IncrementalAlterConfigs). It connects as librdkafka does with the same
//! client properties: TCP, then TLS for SSL and SASL_SSL, then SASL for SASL_PLAINTEXT and
//! SASL_SSL.
//!
//! Blocking I/O with timeouts: callers run it on the blocking pool, one short connection
//! per broker, each step bounded by [`TIMEOUT`].

mod sasl;
mod scram;
mod tls;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use openssl::ssl::SslStream;

use crate::kafka::Kafka;

/// Each connect, read and write; the TLS handshake and SASL are a few of those.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The largest response accepted (the brokers' default socket.request.max.bytes is 100 MiB).
const MAX_RESPONSE: usize = 64 * 1024 * 1024;
const CLIENT_ID: &str = "kafka-orders-console";

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("the console's own protocol client cannot speak security.protocol {0}; it speaks PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL")]
    UnsupportedProtocol(String),
    #[error("the console's own protocol client cannot speak SASL mechanism {0}; it speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512")]
    UnsupportedMechanism(String),
    #[error("the console's own protocol client does not read {0}; give the certificate and key in PEM with ssl.certificate.location and ssl.key.location")]
    UnsupportedProperty(&'static str),
    #[error("{0} is needed and not set")]
    MissingProperty(&'static str),
    #[error("{0} is neither true nor false")]
    InvalidProperty(&'static str),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} holds no PEM certificate")]
    NoPem(&'static str),
    #[error("TLS setup from {what}: {source}")]
    TlsSetup {
        what: &'static str,
        source: openssl::error::ErrorStack,
    },
    #[error("the metadata names no broker")]
    NoBroker,
    #[error("{addr} does not resolve to an address")]
    NoAddress { addr: String },
    #[error("{addr}: {source}")]
    Io {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr}: the broker's TLS certificate was not trusted ({reason}); {hint}")]
    Untrusted {
        addr: String,
        reason: &'static str,
        hint: &'static str,
    },
    #[error("{addr}: TLS handshake failed: {reason}")]
    Handshake { addr: String, reason: String },
    #[error(
        "{addr}: the broker does not enable SASL mechanism {mechanism} (it enables {enabled})"
    )]
    MechanismRefused {
        addr: String,
        mechanism: &'static str,
        enabled: String,
    },
    #[error("{addr}: authentication failed for user {user:?} with {mechanism}: {reason}")]
    AuthenticationFailed {
        addr: String,
        mechanism: &'static str,
        user: String,
        reason: String,
    },
    #[error("{addr}: {mechanism}: {source}")]
    Scram {
        addr: String,
        mechanism: &'static str,
        source: scram::ScramError,
    },
    #[error("{addr}: {source}")]
    Codec { addr: String, source: anyhow::Error },
    #[error("{addr}: the broker closed the connection; its listener may expect another security.protocol or sasl.mechanism")]
    Closed { addr: String },
    #[error(
        "{addr}: the broker answered in TLS; its listener needs security.protocol SSL or SASL_SSL"
    )]
    TlsExpected { addr: String },
    #[error("{addr}: the response size {size} is not valid")]
    BadSize { addr: String, size: i32 },
    #[error("{addr}: the response is for request {got}, not {sent}")]
    Correlation { addr: String, sent: i32, got: i32 },
}

/// How to reach every broker, read once from the client properties.
pub struct Security {
    tls: Option<tls::Tls>,
    sasl: Option<sasl::Sasl>,
}

impl Security {
    pub fn from_kafka(kafka: &Kafka) -> Result<Self, WireError> {
        let protocol = kafka.security_protocol();
        let (tls, sasl) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            _ => return Err(WireError::UnsupportedProtocol(protocol)),
        };
        let props = &kafka.properties;
        Ok(Self {
            tls: tls.then(|| tls::Tls::from_properties(props)).transpose()?,
            sasl: sasl
                .then(|| sasl::Sasl::from_properties(props))
                .transpose()?,
        })
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Sends `request` to each broker in turn until one answers (for requests any broker takes:
/// a topic's configs, FindCoordinator); the last failure when none does.
pub fn to_any<R: Request>(
    brokers: &[(String, i32)],
    security: &Security,
    request: &R,
    version: i16,
) -> Result<R::Response, WireError> {
    let mut last = WireError::NoBroker;
    for (host, port) in brokers {
        match connect(host, *port, security).and_then(|mut c| c.send(request, version)) {
            Ok(response) => return Ok(response),
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// A connection to one broker, ready for requests (TLS and SASL done).
pub struct Connection {
    addr: String,
    stream: Stream,
    correlation_id: i32,
}

/// Connects to `host:port` as `security` says.
pub fn connect(host: &str, port: i32, security: &Security) -> Result<Connection, WireError> {
    let addr = format!("{host}:{port}");
    let io = |source| WireError::Io {
        addr: addr.clone(),
        source,
    };
    // A host name (kafka:29092 in compose) as well as an address; each address in turn.
    let mut last = None;
    let mut tcp = None;
    for sock in addr.to_socket_addrs().map_err(io)? {
        match TcpStream::connect_timeout(&sock, TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match (tcp, last) {
        (Some(tcp), _) => tcp,
        (None, Some(e)) => return Err(io(e)),
        (None, None) => return Err(WireError::NoAddress { addr }),
    };
    tcp.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    tcp.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    tcp.set_nodelay(true).map_err(io)?;
    let stream = match &security.tls {
        Some(tls) => Stream::Tls(Box::new(tls.handshake(&addr, host, tcp)?)),
        None => Stream::Plain(tcp),
    };
    let mut conn = Connection {
        addr,
        stream,
        correlation_id: 0,
    };
    if let Some(sasl) = &security.sasl {
        sasl.authenticate(&mut conn)?;
    }
    Ok(conn)
}

impl Connection {
    /// One request at `version` and its response.
    pub fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, WireError> {
        self.correlation_id += 1;
        let sent = self.correlation_id;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(sent)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, R::header_version(version))
            .and_then(|()| request.encode(&mut frame, version))
            .map_err(|source| self.codec(source))?;
        let len = i32::try_from(frame.len() - 4).map_err(|_| WireError::BadSize {
            addr: self.addr.clone(),
            size: i32::MAX,
        })?;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        self.stream
            .write_all(&frame)
            .and_then(|()| self.stream.flush())
            .map_err(|source| self.io(source))?;

        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|source| self.io(source))?;
        // A TLS record (alert 0x15 or handshake 0x16, version 3.x) where a size should be.
        if matches!(len, [0x15 | 0x16, 3, _, _]) {
            return Err(WireError::TlsExpected {
                addr: self.addr.clone(),
            });
        }
        let size = i32::from_be_bytes(len);
        let len = usize::try_from(size)
            .ok()
            .filter(|n| *n <= MAX_RESPONSE)
            .ok_or_else(|| WireError::BadSize {
                addr: self.addr.clone(),
                size,
            })?;
        let mut body = vec![0u8; len];
        self.stream
            .read_exact(&mut body)
            .map_err(|source| self.io(source))?;
        let mut body = Bytes::from(body);
        let header = ResponseHeader::decode(&mut body, R::Response::header_version(version))
            .map_err(|source| self.codec(source))?;
        if header.correlation_id != sent {
            return Err(WireError::Correlation {
                addr: self.addr.clone(),
                sent,
                got: header.correlation_id,
            });
        }
        R::Response::decode(&mut body, version).map_err(|source| self.codec(source))
    }

    fn io(&self, source: std::io::Error) -> WireError {
        let addr = self.addr.clone();
        match source.kind() {
            std::io::ErrorKind::UnexpectedEof => WireError::Closed { addr },
            _ => WireError::Io { addr, source },
        }
    }

    fn codec(&self, source: anyhow::Error) -> WireError {
        WireError::Codec {
            addr: self.addr.clone(),
            source,
        }
    }
}
