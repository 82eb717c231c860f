//! A message's headers, read without trusting their names.
//!
//! rdkafka's header accessors (`Headers::iter`, `try_get`) unwrap the name as UTF-8 and
//! panic on one that is not, which any producer can send (librdkafka takes any bytes). A
//! panic there would take down the consumer's task or a console page, so each header is read
//! under `catch_unwind` (the crate forbids `unsafe`, which reading it through librdkafka
//! directly would need); one whose name is not UTF-8 is kept as [`NOT_UTF8`] without a value.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rdkafka::message::Headers;

/// The name given to a header whose name is not UTF-8 (its value is not read).
pub const NOT_UTF8: &str = "\u{fffd}";

/// One header: its name and value (None: a null value, or a name that was not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader {
    pub name: String,
    pub value: Option<Vec<u8>>,
    /// Whether the name was UTF-8 (if not, `name` is [`NOT_UTF8`] and `value` None).
    pub intact: bool,
}

pub fn header_list(headers: &impl Headers) -> Vec<MessageHeader> {
    (0..headers.count())
        .map(|idx| {
            let read = catch_unwind(AssertUnwindSafe(|| {
                headers
                    .try_get(idx)
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
            }));
            match read {
                Ok(Some((name, value))) => MessageHeader {
                    name,
                    value,
                    intact: true,
                },
                _ => MessageHeader {
                    name: NOT_UTF8.to_string(),
                    value: None,
                    intact: false,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header as Out, OwnedHeaders};

    #[test]
    fn headers_are_read_with_their_values() {
        let headers = OwnedHeaders::new()
            .insert(Out {
                key: "a",
                value: Some(&[0xff_u8, 0][..]),
            })
            .insert(Out::<&[u8]> {
                key: "b",
                value: None,
            });
        let read = header_list(&headers);
        assert_eq!(read.len(), 2);
        assert_eq!(
            (read[0].name.as_str(), read[0].value.as_deref()),
            ("a", Some(&[0xff, 0][..]))
        );
        assert_eq!(
            (
                read[1].name.as_str(),
                read[1].value.as_deref(),
                read[1].intact
            ),
            ("b", None, true)
        );
    }
}
