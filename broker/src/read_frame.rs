//! Reading one request frame: its size, a share of the request memory budget, its body.
//!
//! The memory a request holds is bounded twice. Across connections, the budget
//! (`queued.max.request.bytes`) is taken for the whole announced size before the body is read
//! and given back once the answer is written; a request that does not fit waits for others to
//! finish. Within a connection, the body's buffer grows with the bytes that arrived, so a
//! client that announces 100 MiB and sends four bytes holds a few KiB, not 100 MiB.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes};
use tokio::io::{AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::BrokerConfig;

/// The body buffer's first size: most requests fit; larger ones double it as bytes arrive.
const FIRST_CHUNK: usize = 64 * 1024;

/// Why a connection is closed before a whole request frame was read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("idle for {} s", .0.as_secs())]
    Idle(Duration),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("request not complete after {} s (slow client)", .0.as_secs())]
    SlowClient(Duration),
    #[error("bad or incomplete request: {0}")]
    BadRequest(std::io::Error),
    #[error("negative frame size {0}")]
    NegativeSize(i32),
    #[error("frame of {size} bytes is over the {limit}-byte limit (socket.request.max.bytes)")]
    TooLarge { size: usize, limit: usize },
    /// Other connections held the request memory budget for the whole request timeout.
    #[error(
        "a {size}-byte request waited {} s for the {budget}-byte request memory budget \
         (queued.max.request.bytes) held by other requests",
        .waited.as_secs()
    )]
    BudgetBusy {
        size: usize,
        budget: usize,
        waited: Duration,
    },
}

/// A request frame (the bytes after its size) and its share of the request memory budget,
/// which is given back when this is dropped: after the answer is written.
pub struct Frame {
    pub bytes: Bytes,
    _budget: OwnedSemaphorePermit,
}

/// Reads one length-prefixed frame. `None` at a clean end of stream. The wait for a frame
/// to start is bounded by the idle timeout; the rest of it, budget included, by the request
/// timeout.
pub async fn read_frame(
    stream: &mut BufReader<TcpStream>,
    config: &BrokerConfig,
    budget: &Arc<Semaphore>,
) -> Result<Option<Frame>, ReadError> {
    let mut size = [0u8; 4];
    match tokio::time::timeout(config.idle_timeout, stream.read_u8()).await {
        Err(_) => return Err(ReadError::Idle(config.idle_timeout)),
        Ok(Ok(first)) => size[0] = first,
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Ok(Err(err)) => return Err(ReadError::Io(err)),
    }
    let started = Instant::now();
    let deadline = started + config.request_timeout;
    let slow = || ReadError::SlowClient(config.request_timeout);
    tokio::time::timeout_at(deadline, stream.read_exact(&mut size[1..]))
        .await
        .map_err(|_| slow())?
        .map_err(ReadError::BadRequest)?;
    let announced = i32::from_be_bytes(size);
    // One permit of the budget per byte; a non-negative i32 fits the u32 that permits count in.
    let permits = u32::try_from(announced).map_err(|_| ReadError::NegativeSize(announced))?;
    let len = permits as usize;
    if len > config.max_frame_bytes {
        return Err(ReadError::TooLarge {
            size: len,
            limit: config.max_frame_bytes,
        });
    }
    let share = tokio::time::timeout_at(deadline, budget.clone().acquire_many_owned(permits))
        .await
        .map_err(|_| ReadError::BudgetBusy {
            size: len,
            budget: config.queued_max_request_bytes,
            waited: started.elapsed(),
        })?
        .expect("the request memory budget is never closed");
    let bytes = tokio::time::timeout_at(deadline, read_body(stream, len))
        .await
        .map_err(|_| slow())?
        .map_err(ReadError::BadRequest)?;
    Ok(Some(Frame {
        bytes,
        _budget: share,
    }))
}

/// Reads `len` bytes into a buffer that starts at [`FIRST_CHUNK`] and doubles only when
/// full, never past `len`: a client holds at most twice what it sent, or `FIRST_CHUNK`.
async fn read_body(stream: &mut BufReader<TcpStream>, len: usize) -> std::io::Result<Bytes> {
    let mut body = Vec::with_capacity(len.min(FIRST_CHUNK));
    while body.len() < len {
        if body.len() == body.capacity() {
            body.reserve_exact(body.len().min(len - body.len()));
        }
        // Limited to the free capacity: no read grows the buffer or takes the next frame's bytes.
        let room = body.capacity() - body.len();
        if stream.read_buf(&mut (&mut body).limit(room)).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(Bytes::from(body))
}
