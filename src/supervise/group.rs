//! A child's process group: signalled as a whole, so a shell's children (and theirs) stop
//! with it, and watched until no live member is left; and whether one process still lives.

use std::fs;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The group a supervised child leads (its pgid is its pid: spawned with `process_group(0)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessGroup(Pid);

/// SIGKILLs the group when dropped, unless disarmed: if the task watching a child is dropped
/// (runtime shutting down, panic), nothing of the child's is left running.
#[derive(Debug)]
pub struct KillOnDrop(Option<ProcessGroup>);

impl ProcessGroup {
    /// The group led by the process `pid`.
    pub fn led_by(pid: u32) -> Option<ProcessGroup> {
        i32::try_from(pid)
            .ok()
            .map(|p| ProcessGroup(Pid::from_raw(p)))
    }

    /// Sends `signal` to every member; an empty group is not an error.
    pub fn signal(self, signal: Signal) {
        match killpg(self.0, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => tracing::warn!("sending {signal} to process group {}: {e}", self.0),
        }
    }

    /// True while a member that is not a zombie exists. Orphaned members are re-parented to
    /// PID 1, which may never reap them (in containers it often does not), so "the group still
    /// exists" is not enough: /proc tells whether a member is only a zombie.
    pub fn has_live_members(self) -> bool {
        // No member at all, zombies included: the usual case once the leader was reaped, and
        // one syscall instead of reading every process's stat (a mesh of 100 proxies stops
        // 100 groups at once).
        if killpg(self.0, None) == Err(Errno::ESRCH) {
            return false;
        }
        let Ok(entries) = fs::read_dir("/proc") else {
            return true;
        };
        let pgid = self.0.as_raw();
        entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
            .any(|stat| live_member(&stat, pgid))
    }
}

impl KillOnDrop {
    pub fn new(group: ProcessGroup) -> KillOnDrop {
        KillOnDrop(Some(group))
    }

    /// The group is known to be empty: nothing to kill on drop.
    pub fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(group) = self.0.take() {
            group.signal(Signal::SIGKILL);
        }
    }
}

/// Whether process `pid` exists and has not exited. A process that exited stays a zombie
/// until its parent reaps it, and `kill(pid, 0)` succeeds on a zombie: a detached
/// `meshctl up` is re-parented to PID 1 (or the nearest subreaper), which in a container may
/// reap late or never — here about a second later, which was all that was left of `down`'s
/// time. So /proc decides; without /proc, `kill(pid, 0)`.
pub fn process_is_live(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_fields(&stat).is_some_and(|(state, _)| !exited(state)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(_) => nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok(),
    }
}

/// Whether a `/proc/<pid>/stat` line is a non-zombie member of process group `pgid`.
fn live_member(stat: &str, pgid: i32) -> bool {
    stat_fields(stat).is_some_and(|(state, pgrp)| pgrp == pgid && !exited(state))
}

/// The state and process group of a `/proc/<pid>/stat` line. Fields after the command
/// (which may contain spaces and parentheses, hence the last `)`): state, ppid, pgrp, …
fn stat_fields(stat: &str) -> Option<(&str, i32)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let pgrp = fields.nth(1)?.parse().ok()?;
    Some((state, pgrp))
}

/// A zombie (`Z`) or dead (`X`) process has exited: only its pid is left, awaiting its reaper.
fn exited(state: &str) -> bool {
    state == "Z" || state == "X"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_state_and_group_from_proc_stat() {
        assert!(live_member("42 (sleep) S 1 40 40 0 -1 4194560", 40));
        assert!(!live_member("42 (sleep) Z 1 40 40 0 -1 4194560", 40));
        assert!(!live_member("42 (sleep) S 1 41 41 0 -1 4194560", 40));
        assert!(live_member("42 (a (b) c) R 1 40 40 0", 40));
        assert!(!live_member("garbage", 40));
    }

    /// The state `/proc` gives `pid`, polled until it is `want` (a child exits quickly).
    fn wait_for_state(pid: u32, want: &str) {
        for _ in 0..500 {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            if stat_fields(&stat).unwrap().0 == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("process {pid} never reached state {want}");
    }

    #[test]
    fn an_exited_process_nobody_reaped_is_not_live() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not waited for yet: a zombie, which `kill(pid, 0)` still finds.
        wait_for_state(pid, "Z");
        let raw = i32::try_from(pid).unwrap();
        assert!(nix::sys::signal::kill(Pid::from_raw(raw), None).is_ok());
        assert!(!process_is_live(raw), "a zombie counted as running");
        child.wait().unwrap();
        assert!(!process_is_live(raw), "a reaped process counted as running");
    }

    #[test]
    fn a_running_process_is_live() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert!(process_is_live(pid));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!process_is_live(pid));
    }
}
