//! Graceful drain: one signal tells every listener to stop accepting and every connection
//! to finish in-flight work (HTTP/1 closes after a short grace, HTTP/2 sends GOAWAY);
//! the proxy exits when the last connection is done or the deadline passes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Held by the proxy's main task: starts the drain and waits for it.
#[derive(Debug)]
pub struct Drain {
    tx: Arc<watch::Sender<bool>>,
}

/// Makes watches for listeners that start later (an upstream a new configuration adds)
/// without being one: a watch held by something that lives as long as the process would
/// keep every drain waiting until its deadline.
#[derive(Debug, Clone)]
pub struct DrainSource {
    tx: Arc<watch::Sender<bool>>,
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
        (Drain { tx: Arc::new(tx) }, DrainWatch { rx })
    }

    /// A source of watches for listeners started later; it holds none itself.
    pub fn source(&self) -> DrainSource {
        DrainSource {
            tx: self.tx.clone(),
        }
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

impl DrainSource {
    /// A watch like the ones [`Drain::new`] hands out (already signaled if the drain began).
    pub fn watch(&self) -> DrainWatch {
        DrainWatch {
            rx: self.tx.subscribe(),
        }
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
    async fn a_source_holds_no_watch_and_its_watches_count_until_dropped() {
        let (drain, watch) = Drain::new();
        let source = drain.source();
        drop(watch);
        let late = source.watch();
        assert_eq!(drain.pending(), 1, "only the watch made from the source");
        let task = tokio::spawn(async move {
            let mut late = late;
            late.signaled().await;
        });
        // The source itself (kept by a task that never ends) does not hold the drain up.
        assert!(drain.drain(Duration::from_secs(5)).await);
        task.await.unwrap();
        let after = source.watch();
        assert!(
            after.is_draining(),
            "a watch made after the drain starts sees it"
        );
    }

    #[tokio::test]
    async fn drain_gives_up_at_the_deadline() {
        let (drain, _held) = Drain::new();
        assert!(!drain.drain(Duration::from_millis(10)).await);
    }
}
