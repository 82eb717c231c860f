//! TLS for SSL and SASL_SSL, from librdkafka's `ssl.*` properties and with its semantics:
//! the CA from `ssl.ca.location` (or `ssl.ca.pem`) is the only one trusted, else the system's
//! roots; a client certificate for mutual TLS; the broker's certificate verified unless
//! `enable.ssl.certificate.verification=false`, its host name unless
//! `ssl.endpoint.identification.algorithm=none`.

use std::net::TcpStream;
use std::path::Path;

use openssl::pkey::PKey;
use openssl::ssl::{
    HandshakeError, SslConnector, SslFiletype, SslMethod, SslStream, SslVerifyMode,
};
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::{X509VerifyResult, X509};

use super::WireError;
use crate::kafka::Properties;

/// Where the common distributions keep their CA bundle (librdkafka probes the same places,
/// since its OpenSSL, like ours, is compiled in and knows no system path).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];
const SYSTEM_DIR: &str = "/etc/ssl/certs";

pub struct Tls {
    connector: SslConnector,
    verify_hostname: bool,
}

impl Tls {
    pub fn from_properties(props: &Properties) -> Result<Self, WireError> {
        if props.get("ssl.keystore.location").is_some() {
            return Err(WireError::UnsupportedProperty("ssl.keystore.location"));
        }
        let setup = |what: &'static str| move |source| WireError::TlsSetup { what, source };
        let mut builder =
            SslConnector::builder(SslMethod::tls_client()).map_err(setup("TLS context"))?;

        builder.set_cert_store(trusted(props)?);

        match (pem(props, "ssl.certificate")?, pem(props, "ssl.key")?) {
            (Some(chain), Some(key)) => {
                let mut chain = X509::stack_from_pem(&chain)
                    .map_err(setup("ssl.certificate.location"))?
                    .into_iter();
                let leaf = chain
                    .next()
                    .ok_or(WireError::NoPem("ssl.certificate.location"))?;
                builder
                    .set_certificate(&leaf)
                    .map_err(setup("ssl.certificate.location"))?;
                for cert in chain {
                    builder
                        .add_extra_chain_cert(cert)
                        .map_err(setup("ssl.certificate.location"))?;
                }
                let key = match props.get("ssl.key.password") {
                    Some(pass) => PKey::private_key_from_pem_passphrase(&key, pass.as_bytes()),
                    None => PKey::private_key_from_pem(&key),
                }
                .map_err(setup("ssl.key.location (or its ssl.key.password)"))?;
                builder
                    .set_private_key(&key)
                    .map_err(setup("ssl.key.location"))?;
                builder
                    .check_private_key()
                    .map_err(setup("ssl.key.location (does not match the certificate)"))?;
            }
            (None, None) => {}
            (Some(_), None) => return Err(WireError::MissingProperty("ssl.key.location")),
            (None, Some(_)) => return Err(WireError::MissingProperty("ssl.certificate.location")),
        }

        let verify_certificate = flag(props, "enable.ssl.certificate.verification", true)?;
        if !verify_certificate {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let algorithm = props
            .get("ssl.endpoint.identification.algorithm")
            .unwrap_or("https");
        let verify_hostname = verify_certificate && !algorithm.eq_ignore_ascii_case("none");
        Ok(Self {
            connector: builder.build(),
            verify_hostname,
        })
    }

    /// The TLS handshake on a connected socket; `host` is checked against the certificate.
    pub fn handshake(
        &self,
        addr: &str,
        host: &str,
        tcp: TcpStream,
    ) -> Result<SslStream<TcpStream>, WireError> {
        let mut config = self
            .connector
            .configure()
            .map_err(|e| WireError::Handshake {
                addr: addr.to_owned(),
                reason: e.to_string(),
            })?;
        config.set_verify_hostname(self.verify_hostname);
        let mid = match config.connect(host, tcp) {
            Ok(stream) => return Ok(stream),
            Err(HandshakeError::Failure(mid)) => mid,
            Err(HandshakeError::WouldBlock(_)) => {
                return Err(WireError::Io {
                    addr: addr.to_owned(),
                    source: std::io::ErrorKind::TimedOut.into(),
                })
            }
            Err(HandshakeError::SetupFailure(e)) => {
                return Err(WireError::Handshake {
                    addr: addr.to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        let verify = mid.ssl().verify_result();
        if verify != X509VerifyResult::OK {
            // X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
            let hint = match verify.as_raw() {
                62 | 64 => "it is not for this broker's address",
                _ => "check ssl.ca.location",
            };
            return Err(WireError::Untrusted {
                addr: addr.to_owned(),
                reason: verify.error_string(),
                hint,
            });
        }
        Err(match mid.into_error().into_io_error() {
            Ok(source) => WireError::Io {
                addr: addr.to_owned(),
                source,
            },
            Err(e) => WireError::Handshake {
                addr: addr.to_owned(),
                reason: e.to_string(),
            },
        })
    }
}

/// The CAs the broker's certificate must chain to.
fn trusted(props: &Properties) -> Result<X509Store, WireError> {
    let setup = |what: &'static str| move |source| WireError::TlsSetup { what, source };
    let mut store = X509StoreBuilder::new().map_err(setup("certificate store"))?;
    let location = props.get("ssl.ca.location").filter(|p| *p != "probe");
    let (what, pem) = match (location, props.get("ssl.ca.pem")) {
        (Some(dir), _) if Path::new(dir).is_dir() => return hashed_dir(store, dir),
        (Some(file), _) => ("ssl.ca.location", read(file)?),
        (None, Some(pem)) => ("ssl.ca.pem", pem.as_bytes().to_vec()),
        (None, None) => match SYSTEM_BUNDLES.iter().find(|p| Path::new(p).is_file()) {
            Some(bundle) => ("the system's CA bundle", read(bundle)?),
            None => return hashed_dir(store, SYSTEM_DIR),
        },
    };
    let certs = X509::stack_from_pem(&pem).map_err(setup(what))?;
    if certs.is_empty() {
        return Err(WireError::NoPem(what));
    }
    for cert in certs {
        store.add_cert(cert).map_err(setup(what))?;
    }
    Ok(store.build())
}

/// A directory of CA certificates named by their hash (c_rehash), as OpenSSL reads them.
fn hashed_dir(mut store: X509StoreBuilder, dir: &str) -> Result<X509Store, WireError> {
    store
        .add_lookup(X509Lookup::hash_dir())
        .and_then(|lookup| lookup.add_dir(dir, SslFiletype::PEM))
        .map_err(|source| WireError::TlsSetup {
            what: "ssl.ca.location",
            source,
        })?;
    Ok(store.build())
}

fn read(path: &str) -> Result<Vec<u8>, WireError> {
    std::fs::read(path).map_err(|source| WireError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

/// PEM from `{prefix}.location` (a file) or `{prefix}.pem` (inline), as librdkafka takes both.
fn pem(props: &Properties, prefix: &'static str) -> Result<Option<Vec<u8>>, WireError> {
    if let Some(path) = props.get(&format!("{prefix}.location")) {
        return read(path).map(Some);
    }
    Ok(props
        .get(&format!("{prefix}.pem"))
        .map(|p| p.as_bytes().to_vec()))
}

fn flag(props: &Properties, key: &'static str, default: bool) -> Result<bool, WireError> {
    match props.get(key).map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(WireError::InvalidProperty(key)),
    }
}
