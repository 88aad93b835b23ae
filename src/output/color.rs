//! Colour on only for a terminal, and never with `--no-color` or `NO_COLOR` set.

use std::io::IsTerminal;

use colored::{ColoredString, Colorize};

/// Decides once, at start-up, whether stdout gets colour.
pub fn init(no_color_flag: bool) {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let enabled = !no_color_flag && !no_color_env && std::io::stdout().is_terminal();
    colored::control::set_override(enabled);
}

/// The ✓/‼/× markers and words for a state, coloured when colour is on.
pub fn ok(text: &str) -> ColoredString {
    text.green()
}

pub fn warn(text: &str) -> ColoredString {
    text.yellow()
}

pub fn bad(text: &str) -> ColoredString {
    text.red()
}
