//! Blocking work (fsync, the scan of the data directory) called from async code.
//!
//! The broker's handlers are synchronous functions run on tokio's worker threads. Work that
//! may block a thread for milliseconds goes through [`block_in_place`], so that while it
//! blocks, the worker's other tasks (every other connection scheduled on that thread) move to
//! another thread instead of waiting. The work itself still runs on the calling thread, in
//! order, before the handler answers: an acknowledged batch has been written (and with
//! `FsyncPolicy::Always` synced) exactly as before.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f`, which may block the thread, telling tokio first (`tokio::task::block_in_place`).
///
/// On a current-thread runtime (the fuzz harness, a plain `#[tokio::test]`) there is no other
/// thread to hand the tasks to, and `block_in_place` would panic: there, and outside any
/// runtime, `f` simply runs. Nested calls are fine (the inner one just runs `f`).
pub fn block_in_place<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::block_in_place;

    #[test]
    fn runs_outside_a_runtime() {
        assert_eq!(block_in_place(|| 7), 7);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runs_on_a_current_thread_runtime_without_panicking() {
        assert_eq!(block_in_place(|| 7), 7);
    }

    /// With one worker, a task that blocks without telling tokio would starve the task it
    /// waits for (queued on that same worker) until the timeout: this fails without the handoff.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn other_tasks_run_while_a_worker_blocks() {
        let waited = tokio::spawn(async {
            let (tx, rx) = std::sync::mpsc::channel();
            tokio::spawn(async move { tx.send(()) });
            block_in_place(|| block_in_place(|| rx.recv_timeout(Duration::from_secs(10))))
        })
        .await
        .expect("the blocking task");
        assert_eq!(waited, Ok(()), "the other task ran while this one blocked");
    }
}
