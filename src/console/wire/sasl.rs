//! SASL for SASL_PLAINTEXT and SASL_SSL: SaslHandshake v1, then the mechanism's messages in
//! SaslAuthenticate v1 requests. PLAIN and SCRAM-SHA-256/512, like librdkafka; GSSAPI and
//! OAUTHBEARER are refused up front with a plain reason.

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::scram::{self, Hash};
use super::{Connection, WireError};
use crate::kafka::Properties;

#[derive(Clone, Copy, Debug)]
enum Mechanism {
    Plain,
    Scram(Hash),
}

impl Mechanism {
    fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(Hash::Sha256) => "SCRAM-SHA-256",
            Mechanism::Scram(Hash::Sha512) => "SCRAM-SHA-512",
        }
    }
}

/// The mechanism and credentials; no `Debug`, so the password cannot reach a log line.
pub struct Sasl {
    mechanism: Mechanism,
    username: String,
    password: String,
}

impl Sasl {
    pub fn from_properties(props: &Properties) -> Result<Self, WireError> {
        // librdkafka's default mechanism, and its older spelling of the key.
        let name = props
            .get("sasl.mechanism")
            .or_else(|| props.get("sasl.mechanisms"))
            .unwrap_or("GSSAPI");
        let mechanism = match name {
            "PLAIN" => Mechanism::Plain,
            "SCRAM-SHA-256" => Mechanism::Scram(Hash::Sha256),
            "SCRAM-SHA-512" => Mechanism::Scram(Hash::Sha512),
            other => return Err(WireError::UnsupportedMechanism(other.to_owned())),
        };
        let get = |key| props.get(key).ok_or(WireError::MissingProperty(key));
        Ok(Self {
            mechanism,
            username: get("sasl.username")?.to_owned(),
            password: get("sasl.password")?.to_owned(),
        })
    }

    pub fn authenticate(&self, conn: &mut Connection) -> Result<(), WireError> {
        let name = self.mechanism.name();
        let handshake =
            SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(name));
        let response = conn.send(&handshake, 1)?;
        if response.error_code != 0 {
            return Err(WireError::MechanismRefused {
                addr: conn.addr.clone(),
                mechanism: name,
                enabled: response
                    .mechanisms
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        match self.mechanism {
            Mechanism::Plain => {
                // RFC 4616: authorization identity (none), user, password.
                let message = format!("\0{}\0{}", self.username, self.password);
                self.step(conn, message.into_bytes())?;
            }
            Mechanism::Scram(hash) => {
                let scram_error = |conn: &Connection| {
                    let addr = conn.addr.clone();
                    move |source| WireError::Scram {
                        addr,
                        mechanism: name,
                        source,
                    }
                };
                let client = scram::Client::new(hash, &self.username, &self.password)
                    .map_err(scram_error(conn))?;
                let server_first = self.step(conn, client.first_message())?;
                let (client_final, expected) = client
                    .final_message(&server_first)
                    .map_err(scram_error(conn))?;
                let server_final = self.step(conn, client_final)?;
                expected.verify(&server_final).map_err(scram_error(conn))?;
            }
        }
        Ok(())
    }

    /// One SaslAuthenticate round trip: our message out, the broker's back.
    fn step(&self, conn: &mut Connection, message: Vec<u8>) -> Result<Bytes, WireError> {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message));
        let response = conn.send(&request, 1)?;
        match ResponseError::try_from_code(response.error_code) {
            None => Ok(response.auth_bytes),
            Some(error) => Err(WireError::AuthenticationFailed {
                addr: conn.addr.clone(),
                mechanism: self.mechanism.name(),
                user: self.username.clone(),
                reason: response
                    .error_message
                    .map_or_else(|| error.to_string(), |m| m.to_string()),
            }),
        }
    }
}
