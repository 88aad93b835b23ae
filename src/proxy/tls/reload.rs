//! Certificate reload: watches the identity directory and swaps in new TLS configs when its
//! files change, so new handshakes use the new certificate while open connections carry on.
//!
//! Handles in-place writes, atomic renames and the Kubernetes `..data` symlink swap (all
//! are Create/Modify/Remove events in the directory itself). Only those event kinds count:
//! reading the files raises Access events, and reacting to them would reload forever.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::proxy::limits;
use crate::proxy::telemetry::metrics::Metrics;
use crate::proxy::tls::TlsStore;

/// Keeps the watch alive; dropping it stops reloading.
pub type CertWatcher = RecommendedWatcher;

/// Longest a stream of events may postpone a reload.
const MAX_DEBOUNCE: Duration = Duration::from_secs(1);

/// Starts watching `store`'s directory. The watcher's thread sleeps until the kernel reports a
/// change (no polling: an idle proxy is not woken); the burst a rotation makes is coalesced
/// on the proxy's runtime and the reload itself runs on a blocking-pool thread.
///
/// Must be called within the proxy's tokio runtime.
pub fn watch(
    dir: &Path,
    store: Arc<TlsStore>,
    metrics: Arc<Metrics>,
) -> notify::Result<CertWatcher> {
    let (changed, events) = mpsc::unbounded_channel();
    let mut watcher =
        notify::recommended_watcher(move |result: notify::Result<notify::Event>| match result {
            Ok(event)
                if matches!(
                    event.kind,
                    EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                ) =>
            {
                let _ = changed.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "watching the identity directory"),
        })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    tokio::spawn(reload_on_change(dir.to_path_buf(), events, store, metrics));
    Ok(watcher)
}

/// One reload per burst of changes: once the directory has been quiet for
/// [`limits::RELOAD_DEBOUNCE`], or [`MAX_DEBOUNCE`] after the burst began. Ends when the
/// watcher is dropped.
async fn reload_on_change(
    dir: PathBuf,
    mut events: mpsc::UnboundedReceiver<()>,
    store: Arc<TlsStore>,
    metrics: Arc<Metrics>,
) {
    while events.recv().await.is_some() {
        let latest = Instant::now() + MAX_DEBOUNCE;
        loop {
            let quiet = (Instant::now() + limits::RELOAD_DEBOUNCE).min(latest);
            tokio::select! {
                more = events.recv() => if more.is_none() { return },
                () = sleep_until(quiet) => break,
            }
        }
        let (dir, store, metrics) = (dir.clone(), store.clone(), metrics.clone());
        let _ = tokio::task::spawn_blocking(move || reload(&dir, &store, &metrics)).await;
    }
}

fn reload(dir: &Path, store: &TlsStore, metrics: &Metrics) {
    match store.reload() {
        Ok(configs) => {
            metrics.reload(true);
            metrics.cert_expires(configs.not_after);
            tracing::info!(dir = %dir.display(), serial = %configs.serial, "reloaded the workload certificate");
        }
        Err(e) => {
            metrics.reload(false);
            tracing::warn!(dir = %dir.display(), error = %e, "refused the new workload certificate; keeping the current one");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reloads attempted so far (the test store has no directory, so each one fails).
    fn reloads(metrics: &Metrics) -> u64 {
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix("meshctl_identity_reloads_total{result=\"failure\"} "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn start() -> (
        mpsc::UnboundedSender<()>,
        Arc<Metrics>,
        tokio::task::JoinHandle<()>,
    ) {
        let id = "spiffe://mesh.local/ns/local/sa/api".parse().unwrap();
        let (store, _) = crate::proxy::tls::testing::store(&id);
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(reload_on_change(
            PathBuf::from("/nonexistent"),
            rx,
            store,
            metrics.clone(),
        ));
        (tx, metrics, task)
    }

    #[tokio::test]
    async fn a_burst_of_changes_reloads_once_after_it_quiets_down() {
        let (tx, metrics, task) = start();
        for _ in 0..5 {
            tx.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(limits::RELOAD_DEBOUNCE * 3).await;
        assert_eq!(reloads(&metrics), 1);
        // Dropping the watcher's side ends the task.
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the reload task ends with the watcher")
            .unwrap();
    }

    #[tokio::test]
    async fn changes_that_never_stop_still_reload_every_max_debounce() {
        let (tx, metrics, _task) = start();
        let until = Instant::now() + MAX_DEBOUNCE * 2 + limits::RELOAD_DEBOUNCE;
        while Instant::now() < until {
            tx.send(()).unwrap();
            tokio::time::sleep(limits::RELOAD_DEBOUNCE / 5).await;
        }
        // Without the cap this would be one reload, after the changes stop.
        tokio::time::sleep(limits::RELOAD_DEBOUNCE * 3).await;
        assert!(reloads(&metrics) >= 2, "{}", reloads(&metrics));
    }
}
