//! One rendering path: comfy-table for people, serde for machines, always into a `Write`.

use std::io::{self, Write};

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

pub mod color;

/// `2026-11-26T19:30:00.123Z` (milliseconds; trailing zeros dropped).
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    let t = t.replace_millisecond(t.millisecond()).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `-o/--output`: how read commands print their result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// The table with extra columns.
    Wide,
    /// JSON; streams print one object per line (NDJSON).
    Json,
    /// YAML.
    Yaml,
}

impl OutputFormat {
    pub fn is_structured(self) -> bool {
        matches!(self, OutputFormat::Json | OutputFormat::Yaml)
    }
}

/// Writes `value` as JSON/YAML, or the table `table(wide)` builds for table/wide.
pub fn render<T: Serialize + ?Sized>(
    out: &mut dyn Write,
    format: OutputFormat,
    value: &T,
    table: impl FnOnce(bool) -> Table,
) -> io::Result<()> {
    match format {
        OutputFormat::Json => {
            // `io::Error::from` keeps an I/O failure's kind (a closed pipe stays BrokenPipe: exit 0).
            serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::from)?;
            writeln!(out)
        }
        OutputFormat::Yaml => {
            let text = serde_yaml::to_string(value).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())
        }
        OutputFormat::Table => writeln!(out, "{}", table(false)),
        OutputFormat::Wide => writeln!(out, "{}", table(true)),
    }
}

/// Writes one JSON object on its own line (NDJSON streams).
pub fn json_line<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// A borderless, kubectl-style table with upper-case headers.
pub fn table<I, S>(headers: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers);
    // Tables go to pipes as often as to terminals: keep them plain and stable.
    t.force_no_tty();
    t
}

/// A step progress bar on stderr when it is a terminal and the output is not structured
/// (JSON/YAML on stdout stays clean); hidden otherwise.
pub fn step_bar(steps: u64, structured: bool) -> Result<indicatif::ProgressBar, anyhow::Error> {
    use std::io::IsTerminal as _;
    if structured || !io::stderr().is_terminal() {
        return Ok(indicatif::ProgressBar::hidden());
    }
    let bar = indicatif::ProgressBar::new(steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:24}] {pos}/{len} {wide_msg}")?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Ok(bar)
}
