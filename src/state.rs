//! Where meshctl keeps its state: `.meshctl/` found from the current directory upward.

use std::path::{Path, PathBuf};

/// Name of the state directory meshctl creates beside `mesh.yaml`.
pub const STATE_DIR_NAME: &str = ".meshctl";

/// Finds the state directory: `explicit` (flag or `MESHCTL_STATE_DIR`) if given, else the
/// nearest `.meshctl/` from `cwd` upward.
pub fn find(explicit: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    cwd.ancestors()
        .map(|d| d.join(STATE_DIR_NAME))
        .find(|p| p.is_dir())
}

/// The state directory a command that creates state should use: the one [`find`] returns, or
/// `.meshctl/` in `cwd` when there is none yet.
pub fn for_create(explicit: Option<&Path>, cwd: &Path) -> PathBuf {
    find(explicit, cwd).unwrap_or_else(|| cwd.join(STATE_DIR_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nearest_state_dir_upward() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(find(None, &nested), None);
        std::fs::create_dir(root.path().join(".meshctl")).unwrap();
        assert_eq!(find(None, &nested), Some(root.path().join(".meshctl")));
        assert_eq!(
            for_create(Some(Path::new("/x")), &nested),
            PathBuf::from("/x")
        );
    }
}
