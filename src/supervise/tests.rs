//! The supervisor against real processes: logs, restarts with backoff, shutdown deadlines,
//! process groups.

use std::fs;
use std::future::Future;
use std::io::Write as _;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::fsutil::mode_of;

/// A generous bound for things that should happen in milliseconds: failing tests, not slow
/// machines, should trip it.
const PATIENCE: Duration = Duration::from_secs(10);

fn sh(dir: &Path, name: &str, script: &str) -> ProcessSpec {
    ProcessSpec {
        name: name.to_string(),
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
        workdir: dir.to_path_buf(),
    }
}

/// Polls `check` every 10 ms until it returns `Some`, or panics after [`PATIENCE`].
async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn log_of(sup: &Supervisor, name: &str) -> String {
    fs::read_to_string(sup.log_dir.join(format!("{name}{LOG_SUFFIX}"))).unwrap_or_default()
}

/// True while `pid` exists and is not a zombie (PID 1 here may never reap orphans).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

/// The first line of the log that parses as a pid (scripts `echo $!` their background job).
fn pid_in_log(sup: &Supervisor, name: &str) -> Option<u32> {
    log_of(sup, name)
        .lines()
        .find_map(|l| l.trim().parse().ok())
}

#[tokio::test]
async fn output_and_env_land_in_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let sup = Supervisor::new(&logs).unwrap();
    let handle = sup
        .spawn(sh(
            dir.path(),
            "web",
            "echo out $GREETING; echo err >&2; pwd; sleep 100",
        ))
        .unwrap();
    // Until the last line the script writes (`pwd`): on a loaded machine the log was once
    // read between `echo err` and `pwd`.
    let workdir = format!("{}\n", dir.path().display());
    let log = eventually("output in the log", || async {
        let log = log_of(&sup, "web");
        (log.contains("err\n") && log.contains(&workdir)).then_some(log)
    })
    .await;
    assert!(log.contains("out hello\n"), "{log}");
    assert_eq!(mode_of(&logs).unwrap(), 0o700);
    assert_eq!(mode_of(&handle.status().log).unwrap(), 0o600);
    let status = handle.status();
    assert_eq!(status.state, ProcessState::Running);
    assert!(status.pid.is_some_and(alive));
    assert!(status.uptime.is_some());
    assert_eq!(status.restarts, 0);
    sup.shutdown(Duration::from_secs(5)).await;
    let after = &sup.status()[0];
    assert_eq!((after.state, after.pid), (ProcessState::Exited, None));
}

#[tokio::test]
async fn a_crashing_child_is_restarted_with_growing_delays() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(dir.path()).unwrap();
    let handle = sup
        .spawn(sh(dir.path(), "crash", "echo run; exit 3"))
        .unwrap();
    // Record when each restart happens: 100 ms, 200 ms, 400 ms apart at the least.
    let mut seen = Vec::new();
    let mut last = 0;
    while seen.len() < 3 {
        let status = eventually("a restart", || async {
            let s = handle.status();
            (s.restarts > last).then_some(s)
        })
        .await;
        last = status.restarts;
        seen.push((Instant::now(), status));
    }
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[0] >= Duration::from_millis(150), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(350), "{gaps:?}");
    assert!(gaps[1] > gaps[0], "delays grow: {gaps:?}");
    assert_eq!(seen[2].1.last_exit.as_deref(), Some("exit status: 3"));
    sup.shutdown(Duration::from_secs(1)).await;
    let log = log_of(&sup, "crash");
    assert!(log.matches("run\n").count() >= 3, "{log}");
    assert!(log.contains("restarting in 200ms"), "{log}");
}

#[tokio::test]
async fn shutdown_kills_a_child_that_ignores_sigterm_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(dir.path()).unwrap();
    let handle = sup
        .spawn(sh(
            dir.path(),
            "stubborn",
            "trap '' TERM; echo ready; while :; do sleep 1; done",
        ))
        .unwrap();
    eventually("the trap", || async {
        log_of(&sup, "stubborn").contains("ready").then_some(())
    })
    .await;
    let pid = handle.status().pid.unwrap();
    let start = Instant::now();
    sup.shutdown(Duration::from_millis(500)).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "SIGTERM was ignored: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(!alive(pid));
    assert_eq!(handle.status().state, ProcessState::Exited);
}

#[tokio::test]
async fn a_well_behaved_child_stops_without_waiting_for_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(dir.path()).unwrap();
    sup.spawn(sh(dir.path(), "quick", "exec sleep 100"))
        .unwrap();
    let start = Instant::now();
    sup.shutdown(PATIENCE).await;
    assert!(start.elapsed() < PATIENCE / 2);
}

#[tokio::test]
async fn process_groups_leave_no_survivors() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(dir.path()).unwrap();
    sup.spawn(sh(dir.path(), "group", "sleep 100 & echo $!; wait"))
        .unwrap();
    // The grandchild ignores SIGTERM and outlives the shell: only the deadline's SIGKILL to
    // the group gets it.
    sup.spawn(sh(
        dir.path(),
        "orphan",
        "(trap '' TERM; exec sleep 100) & echo $!; wait",
    ))
    .unwrap();
    let sleeper = eventually("the first pid", || async { pid_in_log(&sup, "group") }).await;
    let orphan = eventually("the second pid", || async { pid_in_log(&sup, "orphan") }).await;
    assert!(alive(sleeper) && alive(orphan));
    sup.shutdown(Duration::from_millis(300)).await;
    assert!(!alive(sleeper), "the shell's child survived");
    assert!(!alive(orphan), "the TERM-ignoring grandchild survived");
}

#[tokio::test]
async fn spawn_errors_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(dir.path()).unwrap();
    let mut missing = sh(dir.path(), "missing", "");
    missing.argv = vec!["/nonexistent/program".into()];
    let e = sup.spawn(missing).unwrap_err().to_string();
    assert!(
        e.starts_with("starting `missing` (/nonexistent/program in "),
        "{e}"
    );
    let mut lost = sh(dir.path(), "lost", "true");
    lost.workdir = dir.path().join("nowhere");
    let e = sup.spawn(lost).unwrap_err().to_string();
    assert!(e.ends_with("nowhere is not a directory"), "{e}");
    for bad in ["", ".hidden", "a/b", "a b"] {
        assert!(matches!(
            sup.spawn(sh(dir.path(), bad, "true")),
            Err(SuperviseError::InvalidName(_))
        ));
    }
    let mut empty = sh(dir.path(), "empty", "");
    empty.argv.clear();
    assert!(matches!(
        sup.spawn(empty),
        Err(SuperviseError::EmptyCommand(_))
    ));
    sup.spawn(sh(dir.path(), "one", "exec sleep 100")).unwrap();
    assert!(matches!(
        sup.spawn(sh(dir.path(), "one", "exec sleep 100")),
        Err(SuperviseError::Duplicate(_))
    ));
    assert_eq!(sup.status().len(), 1, "failed spawns are not listed");
    sup.shutdown(Duration::from_secs(1)).await;
    assert!(matches!(
        sup.spawn(sh(dir.path(), "late", "true")),
        Err(SuperviseError::ShuttingDown)
    ));
}

#[tokio::test]
async fn dropping_the_supervisor_kills_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(dir.path()).unwrap();
    sup.spawn(sh(dir.path(), "left", "sleep 100 & echo $!; wait"))
        .unwrap();
    let grandchild = eventually("the pid", || async { pid_in_log(&sup, "left") }).await;
    let child = sup.status()[0].pid.unwrap();
    drop(sup);
    eventually("the children to die", || async {
        (!alive(child) && !alive(grandchild)).then_some(())
    })
    .await;
}

/// The supervisor notes events ("started, pid …") in the log the child appends to at the same
/// moment; each note must arrive as one whole line, never with the child's output inside.
#[tokio::test]
async fn notes_and_the_childs_lines_never_share_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let sup = Supervisor::new(&dir.path().join("logs")).unwrap();
    let chatty = "i=0; while [ $i -lt 3000 ]; do echo child-line-$i; i=$((i+1)); done; sleep 100";
    let handle = sup.spawn(sh(dir.path(), "chatty", chatty)).unwrap();
    let launch = Launch {
        spec: sh(dir.path(), "chatty", chatty),
        log_path: handle.status().log,
    };
    for _ in 0..2000 {
        launch.note("noted");
    }
    eventually("the child's last line", || async {
        log_of(&sup, "chatty")
            .contains("child-line-2999\n")
            .then_some(())
    })
    .await;
    let log = log_of(&sup, "chatty");
    let mixed: Vec<&str> = (log.lines())
        .filter(|l| {
            let note = l.starts_with("--- meshctl ")
                && (l.ends_with(": noted") || l.contains(": started, pid "));
            let child = (l.strip_prefix("child-line-")).is_some_and(|n| n.parse::<u32>().is_ok());
            !note && !child
        })
        .collect();
    assert!(mixed.is_empty(), "lines mixing both writers: {mixed:?}");
    sup.shutdown(Duration::from_secs(2)).await;
}

/// A supervisor logging into `dir/logs` that rotates a log past `max_bytes`, checked every 50 ms.
fn rotating_at(dir: &Path, max_bytes: u64) -> Supervisor {
    Supervisor::new(&dir.join("logs"))
        .unwrap()
        .with_log_limit(LogLimit {
            max_bytes,
            check_every: Duration::from_millis(50),
        })
}

#[tokio::test]
async fn a_log_written_by_another_process_is_rotated_with_the_children_logs() {
    let dir = tempfile::tempdir().unwrap();
    let sup = rotating_at(dir.path(), 100);
    let log = dir.path().join("logs/up.log");
    let mut writer = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    writeln!(writer, "{}", "early ".repeat(30)).unwrap();
    // Watched before any process was started: the rotation task starts with it.
    sup.rotate_log(log.clone());
    let rotated = rotated_path(&log);
    eventually("a rotation", || async { rotated.exists().then_some(()) }).await;
    assert!(fs::read_to_string(&rotated).unwrap().starts_with("early "));
    writeln!(writer, "later").unwrap();
    assert_eq!(fs::read_to_string(&log).unwrap(), "later\n");
    sup.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_log_over_its_limit_is_rotated_and_the_child_keeps_writing() {
    let dir = tempfile::tempdir().unwrap();
    let sup = rotating_at(dir.path(), 4096);
    // 300 lines (~3.6 KiB) at once, then one line every 20 ms.
    let handle = sup
        .spawn(sh(
            dir.path(),
            "chatty",
            "i=0; while [ $i -lt 300 ]; do echo \"burst line $i\"; i=$((i+1)); done; \
             while true; do echo \"later line $i\"; i=$((i+1)); sleep 0.02; done",
        ))
        .unwrap();
    let log = handle.status().log;
    let rotated = rotated_path(&log);
    eventually("a rotation", || async { rotated.exists().then_some(()) }).await;
    let copy = fs::read_to_string(&rotated).unwrap();
    assert!(copy.contains("burst line 0\n"), "{copy}");
    assert!(copy.len() > 4096);
    assert_eq!(mode_of(&rotated).unwrap() & 0o777, 0o600);
    // The child goes on writing into the emptied log, from its start (append mode).
    eventually("new lines after the rotation", || async {
        let text = fs::read_to_string(&log).unwrap();
        (text.contains("later line") && !text.contains("burst line 0\n")).then_some(())
    })
    .await;
    assert!(fs::metadata(&log).unwrap().len() <= 2 * 4096);
    sup.shutdown(Duration::from_secs(2)).await;
}
