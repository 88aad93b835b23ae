//! The one place exit codes are defined: every command returns a [`CliError`] carrying its code.

use std::fmt;

/// Exit codes shared by every command. Command-specific codes start at 3 and are
/// documented in each command's `--help`.
pub mod code {
    /// Success.
    pub const OK: i32 = 0;
    /// Runtime failure, or a check that failed.
    pub const FAILURE: i32 = 1;
    /// Usage error: bad flags or arguments (also what clap exits with).
    pub const USAGE: i32 = 2;
    /// `certs status --fail-within`: something expires within the window.
    pub const EXPIRING: i32 = 3;
    /// `certs rotate`: a step could not complete (a proxy never reported); nothing was dropped.
    pub const ROTATION_STALLED: i32 = 4;
}

/// An error on its way to `main`, which prints it (if any) and exits with `code`.
#[derive(Debug)]
pub struct CliError {
    pub error: Option<anyhow::Error>,
    pub code: i32,
}

pub type CliResult = Result<(), CliError>;

impl CliError {
    pub fn new(error: anyhow::Error, code: i32) -> Self {
        CliError {
            error: Some(error),
            code,
        }
    }

    /// A usage error (exit 2) detected after clap parsed the arguments.
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        CliError::new(error.into(), code::USAGE)
    }

    /// A non-zero exit with nothing more to print (the command already explained itself).
    pub fn silent(code: i32) -> Self {
        CliError { error: None, code }
    }

    /// True when the failure is only a closed stdout (`meshctl … | head`): exit 0 then.
    pub fn is_broken_pipe(&self) -> bool {
        self.error.as_ref().is_some_and(|e| {
            e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            })
        })
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::new(error, code::FAILURE)
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::new(error.into(), code::FAILURE)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => f.write_str(&one_line(e)),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

/// The error and its causes on one line, as `{:#}` joins them ("issuing leaf: reading …:
/// denied"), except that a cause whose text the line already holds is not repeated: many
/// errors put their cause in their own message and also expose it as their source, which
/// printed "No such file or directory (os error 2): No such file or directory (os error 2)".
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading mesh.yaml: {source}")]
    struct Read {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone (os error 2)");
        let e = anyhow::Error::new(Read { source: io() });
        assert_eq!(one_line(&e), "reading mesh.yaml: gone (os error 2)");
        // Context whose text is new is still joined on.
        let e = anyhow::Error::new(io()).context("loading the CA");
        assert_eq!(one_line(&e), "loading the CA: gone (os error 2)");
        let e = anyhow::Error::new(Read { source: io() }).context("starting");
        assert_eq!(
            CliError::from(e).to_string(),
            "starting: reading mesh.yaml: gone (os error 2)"
        );
    }
}
