//! Graceful drain: one signal tells every listener to stop accepting and every connection
//! to finish in-flight work (HTTP/1 closes after a short grace, HTTP/2 sends GOAWAY);
//! the proxy exits when the last connection is done or the deadline passes.

use std::time::Duration;

use tokio::sync::watch;

/// Held by the proxy's main task: starts the drain and waits for it.
#[derive(Debug)]
pub struct Drain {
    tx: watch::Sender<bool>,
}

/// Held by every listener and connection task; dropping it tells the [`Drain`] that task is
/// done.
#[derive(Debug, Clone)]
pub struct DrainWatch {
    rx: watch::Receiver<bool>,
}

impl Drain {
    pub fn new() -> (Drain, DrainWatch) {
        let (tx, rx) = watch::channel(false);
        (Drain { tx }, DrainWatch { rx })
    }

    /// Signals every watcher, then waits until all of them are dropped or `deadline` passes.
    /// Returns false when the deadline cut the drain short.
    pub async fn drain(self, deadline: Duration) -> bool {
        let _ = self.tx.send(true);
        tokio::time::timeout(deadline, self.tx.closed())
            .await
            .is_ok()
    }

    /// Connection and listener tasks still holding a watch.
    pub fn pending(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl DrainWatch {
    /// Resolves once the drain has started (immediately if it already has).
    pub async fn signaled(&mut self) {
        // An error means the Drain was dropped, i.e. the process is going away: same thing.
        let _ = self.rx.wait_for(|draining| *draining).await;
    }

    /// The drain has started.
    pub fn is_draining(&self) -> bool {
        *self.rx.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_waits_for_watchers() {
        let (drain, watch) = Drain::new();
        let mut task_watch = watch.clone();
        drop(watch);
        let task = tokio::spawn(async move {
            task_watch.signaled().await;
            drop(task_watch);
        });
        assert!(drain.drain(Duration::from_secs(5)).await);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn drain_gives_up_at_the_deadline() {
        let (drain, _held) = Drain::new();
        assert!(!drain.drain(Duration::from_millis(10)).await);
    }
}
