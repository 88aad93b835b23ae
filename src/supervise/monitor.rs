//! The task that watches one child: waits for it, restarts it with backoff, and stops it (and
//! its process group) when the supervisor shuts down.

use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::watch;
use tokio::time::Instant;

use super::backoff::{Backoff, BackoffPolicy};
use super::group::{KillOnDrop, ProcessGroup};
use super::{Launch, ProcessState, Tracked, lock};

/// How often a stopping group is checked for live members.
const GROUP_POLL: Duration = Duration::from_millis(20);
/// After SIGKILL, how long to wait for the group to disappear before giving up on it.
const KILL_SETTLE: Duration = Duration::from_secs(2);

/// How one run of the child ended.
enum RunEnd {
    Exited(ExitStatus),
    Stopped,
}

/// Supervises `child` (already started by `launch`) until `stop` carries a deadline.
pub(super) async fn watch(
    launch: Launch,
    child: Child,
    tracked: Arc<Mutex<Tracked>>,
    policy: BackoffPolicy,
    mut stop: watch::Receiver<Option<Instant>>,
) {
    let mut backoff = Backoff::new(policy);
    let mut child = Some(child);
    loop {
        let mut uptime = Duration::ZERO;
        if let Some(running) = child.take() {
            let started = Instant::now();
            launch.note(&format!(
                "started, pid {}",
                running.id().unwrap_or_default()
            ));
            match run(running, &mut stop).await {
                RunEnd::Stopped => break,
                RunEnd::Exited(status) => {
                    uptime = started.elapsed();
                    launch.note(&format!("exited ({status}) after {uptime:?}"));
                    let mut t = lock(&tracked);
                    t.last_exit = Some(status.to_string());
                }
            }
        }
        let delay = backoff.next_delay(uptime);
        {
            let mut t = lock(&tracked);
            t.state = ProcessState::Restarting;
            t.pid = None;
            t.started = None;
        }
        launch.note(&format!("restarting in {delay:?}"));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = deadline(&mut stop) => break,
        }
        let mut t = lock(&tracked);
        t.restarts += 1;
        match launch.start() {
            Ok(started) => {
                t.pid = started.id();
                t.state = ProcessState::Running;
                t.started = Some(Instant::now());
                child = Some(started);
            }
            Err(e) => {
                drop(t);
                launch.note(&format!("could not start: {e}"));
                lock(&tracked).last_exit = Some(e.to_string());
            }
        }
    }
    let mut t = lock(&tracked);
    t.state = ProcessState::Exited;
    t.pid = None;
    t.started = None;
}

/// Waits for the child to exit, or stops it when shutdown starts. Either way no member of its
/// process group is left running afterwards.
async fn run(mut child: Child, stop: &mut watch::Receiver<Option<Instant>>) -> RunEnd {
    let group = child.id().and_then(ProcessGroup::led_by);
    let mut guard = group.map(KillOnDrop::new);
    let end = tokio::select! {
        status = child.wait() => match status {
            Ok(status) => {
                // The leader crashed: its helpers must not hold its port for the restart.
                if let Some(g) = group {
                    g.signal(Signal::SIGKILL);
                }
                RunEnd::Exited(status)
            }
            Err(e) => {
                tracing::warn!("waiting for a child: {e}");
                stop_group(&mut child, group, Instant::now()).await;
                RunEnd::Stopped
            }
        },
        at = deadline(stop) => {
            stop_group(&mut child, group, at).await;
            RunEnd::Stopped
        }
    };
    if let Some(g) = guard.as_mut() {
        g.disarm();
    }
    end
}

/// SIGTERM to the group; SIGKILL to whatever of it lives at `at`; returns once nothing does
/// (or [`KILL_SETTLE`] after SIGKILL, if the kernel is that slow).
async fn stop_group(child: &mut Child, group: Option<ProcessGroup>, at: Instant) {
    let Some(group) = group else {
        let _ = child.start_kill();
        let _ = child.wait().await;
        return;
    };
    group.signal(Signal::SIGTERM);
    let leader_exited = tokio::time::timeout_at(at, child.wait()).await.is_ok();
    if leader_exited && wait_until_empty(group, at).await {
        return;
    }
    group.signal(Signal::SIGKILL);
    let _ = child.start_kill();
    let _ = child.wait().await;
    if !wait_until_empty(group, Instant::now() + KILL_SETTLE).await {
        tracing::warn!("process group {group:?} still has members after SIGKILL");
    }
}

/// Polls until the group has no live member (true) or `until` passes (false).
async fn wait_until_empty(group: ProcessGroup, until: Instant) -> bool {
    loop {
        if !group.has_live_members() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// The shutdown deadline, once there is one. A dropped supervisor means: stop now.
async fn deadline(stop: &mut watch::Receiver<Option<Instant>>) -> Instant {
    loop {
        if let Some(at) = *stop.borrow_and_update() {
            return at;
        }
        if stop.changed().await.is_err() {
            return Instant::now();
        }
    }
}
