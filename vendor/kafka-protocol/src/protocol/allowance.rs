//! kafka-orders patch: a cap on the memory one decode may take for arrays and tagged fields.
//!
//! An array element can take a byte or two on the wire and tens of bytes decoded (a
//! Metadata v0 topic is a 2-byte empty name on the wire, a 72-byte struct in memory), and so
//! can an unknown tagged field (2 bytes on the wire, an entry of a B-tree map in memory).
//! The count-versus-bytes-left check of `Array::decode` still lets a frame decode into ~36
//! times its size. A caller that decodes untrusted frames sets an allowance for one decode:
//! the element storage of its arrays and the entries of its tagged-field maps are charged
//! before they are allocated, and a decode that would exceed it fails instead.
//!
//! The allowance is per thread, which fits because decoding is synchronous: it is set
//! around one `decode` call and cannot leak into another.

use std::cell::Cell;

use bytes::Bytes;

use super::buf::ByteBuf;
use super::types;
use super::Decoder;

/// What one tagged field is charged: a `(tag, value)` entry of a B-tree map, whose nodes
/// are at least half full, so twice the entry.
const TAGGED_FIELD_BYTES: usize = 2 * std::mem::size_of::<(i32, Bytes)>();

/// The allowance of the decode running on this thread.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    given: usize,
    left: usize,
}

thread_local! {
    /// `None`: no limit (the default, and outside `with_allowance`).
    static CURRENT: Cell<Option<Allowance>> = const { Cell::new(None) };
}

/// The arrays and tagged fields of one decode would take more than its allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowanceExceeded {
    /// The allowance the decode was given, in bytes.
    pub allowance: usize,
}

impl std::fmt::Display for AllowanceExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "its arrays and tagged fields take more than the {} bytes allowed for it",
            self.allowance
        )
    }
}

impl std::error::Error for AllowanceExceeded {}

/// Runs `decode` with at most `allowance` bytes for the arrays and tagged fields it decodes
/// on this thread. One that would exceed it fails to decode with [`AllowanceExceeded`]
/// (inside the `anyhow::Error`). Returns the result and the bytes charged.
pub fn with_allowance<R>(allowance: usize, decode: impl FnOnce() -> R) -> (R, usize) {
    /// Puts back the allowance of an enclosing call, even if `decode` panics.
    struct Restore(Option<Allowance>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| current.set(self.0));
        }
    }
    let given = Allowance {
        given: allowance,
        left: allowance,
    };
    let _restore = Restore(CURRENT.with(|current| current.replace(Some(given))));
    let result = decode();
    let left = CURRENT.with(Cell::get).map_or(allowance, |a| a.left);
    (result, allowance - left)
}

/// Takes `bytes` from the current allowance, if one is set.
pub(crate) fn charge(bytes: usize) -> Result<(), AllowanceExceeded> {
    CURRENT.with(|current| match current.get() {
        None => Ok(()),
        Some(a) => {
            let left = a.left.checked_sub(bytes).ok_or(AllowanceExceeded {
                allowance: a.given,
            })?;
            current.set(Some(Allowance { left, ..a }));
            Ok(())
        }
    })
}

/// Reads the count of tagged fields that ends a flexible struct, and charges their entries.
pub(crate) fn tagged_field_count<B: ByteBuf>(buf: &mut B) -> anyhow::Result<u32> {
    let count = types::UnsignedVarInt.decode(buf)?;
    charge((count as usize).saturating_mul(TAGGED_FIELD_BYTES))?;
    Ok(count)
}
