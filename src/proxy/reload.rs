//! Certificate reload: watches the identity directory and swaps in new TLS configs when its
//! files change, so new handshakes use the new certificate while open connections carry on.
//!
//! Handles in-place writes, atomic renames and the Kubernetes `..data` symlink swap (all
//! are Create/Modify/Remove events in the directory itself). Only those event kinds count:
//! reading the files raises Access events, and reacting to them would reload forever.

use std::path::Path;
use std::sync::Arc;

use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::limits;
use super::metrics::Metrics;
use super::tls::TlsStore;

/// Keeps the watch alive; dropping it stops reloading.
pub type CertWatcher = Debouncer<RecommendedWatcher, RecommendedCache>;

/// Starts watching `store`'s directory. Reloads run on the debouncer's own thread, never on
/// the proxy's runtime.
pub fn watch(
    dir: &Path,
    store: Arc<TlsStore>,
    metrics: Arc<Metrics>,
) -> notify::Result<CertWatcher> {
    let dir = dir.to_path_buf();
    let shown = dir.clone();
    let mut debouncer = new_debouncer(
        limits::RELOAD_DEBOUNCE,
        None,
        move |result: DebounceEventResult| match result {
            Ok(events) => {
                let changed = events.iter().any(|e| {
                    matches!(
                        e.kind,
                        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
                    )
                });
                if changed {
                    reload(&shown, &store, &metrics);
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(error = %e, "watching the identity directory");
                }
            }
        },
    )?;
    debouncer.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(debouncer)
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
