//! Shared helpers: the binary under test, a `meshctl` command with a clean environment, and a
//! mesh CA in a temp dir.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The binary under test: `MESHCTL_TEST_BIN` when set (e.g. the profile-guided release build,
/// `MESHCTL_TEST_BIN=$(scripts/pgo.sh) ./scripts/test.sh`), else the one cargo
/// built for this run. Made absolute: tests run it from other working directories.
pub fn meshctl_bin() -> PathBuf {
    match std::env::var_os("MESHCTL_TEST_BIN") {
        Some(bin) => std::fs::canonicalize(&bin)
            .unwrap_or_else(|e| panic!("MESHCTL_TEST_BIN={}: {e}", Path::new(&bin).display())),
        None => assert_cmd::cargo::cargo_bin("meshctl"),
    }
}

/// Held by every test that changes cluster-wide state on the opt-in API server (installing,
/// uninstalling, meshed pods): `uninstall --apply` refuses while any meshed pod exists, so
/// those tests must not overlap.
pub static CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`CLUSTER`] (a test that failed while holding it does not poison it for the rest).
pub fn cluster_lock() -> std::sync::MutexGuard<'static, ()> {
    CLUSTER.lock().unwrap_or_else(|p| p.into_inner())
}

/// `meshctl` with no state dir, target, cluster, span export or colour leaking in from the
/// developer's environment (a test that wants a cluster sets KUBECONFIG or passes
/// --kubeconfig).
pub fn meshctl() -> Command {
    let mut cmd = Command::new(meshctl_bin());
    for name in span_export_vars() {
        cmd.env_remove(name);
    }
    cmd.env_remove("MESHCTL_STATE_DIR")
        .env_remove("MESHCTL_TARGET")
        .env_remove("MESHCTL_CONTROLLER_ADMIN")
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1");
    cmd
}

/// The variables of this environment that would configure span export in a proxy
/// (`OTEL_EXPORTER_OTLP_*`, `MESHCTL_OTLP_HEADERS`): removed from every `meshctl` a test runs.
pub fn span_export_vars() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let name = name.to_string_lossy();
            name.starts_with("OTEL_EXPORTER_OTLP_") || name == "MESHCTL_OTLP_HEADERS"
        })
        .collect()
}

/// A temporary working directory with an initialised mesh CA in `.meshctl/`.
pub struct Mesh {
    pub dir: tempfile::TempDir,
}

impl Mesh {
    /// An empty directory: no state yet.
    pub fn empty() -> Self {
        Mesh {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A directory where `meshctl certs init` has run.
    pub fn initialised() -> Self {
        let mesh = Mesh::empty();
        mesh.cmd().args(["certs", "init"]).assert().success();
        mesh
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join(".meshctl")
    }

    /// `meshctl` running in this directory.
    pub fn cmd(&self) -> Command {
        let mut cmd = meshctl();
        cmd.current_dir(self.path());
        cmd
    }

    /// Issues a leaf for `id` into `<dir>/<name>` and returns that directory.
    pub fn issue(&self, id: &str, name: &str, lifetime: &str) -> PathBuf {
        let out = self.path().join(name);
        self.cmd()
            .args(["certs", "issue", id, "--lifetime", lifetime, "--out"])
            .arg(&out)
            .assert()
            .success();
        out
    }
}

/// Lists a directory recursively (relative paths, sorted): "nothing was written" checks.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            out.push(p.strip_prefix(base).unwrap_or(&p).display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
