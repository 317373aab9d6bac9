//! Logging: where log lines go (stderr or the rotated `--log-file`), their format, and how much.

use std::sync::Arc;

use crate::server::config::LogSettings;
use crate::server::flags::LogFormat;
use crate::server::logfile::RotatingFile;

/// Logging for `serve`; an error names the log file that cannot be opened.
pub(crate) fn init_serve(log: &LogSettings) -> Result<(), String> {
    let file = match &log.file {
        Some(path) => Some(
            RotatingFile::new(path, log.file_max_bytes, log.file_keep)
                .map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    init_logging_to(log.verbose, log.format, file);
    Ok(())
}

pub(crate) fn init_command_logging(verbose: u8, format: LogFormat) {
    if verbose == 0 {
        init_command_logging_with("warn", format);
    } else {
        init_logging(verbose, format);
    }
}

fn init_logging(verbose: u8, format: LogFormat) {
    init_logging_to(verbose, format, None);
}

fn init_logging_to(verbose: u8, format: LogFormat, file: Option<Arc<RotatingFile>>) {
    let default = match verbose {
        0 => "codex_serve=info,codex_client=warn",
        1 => "codex_serve=debug,codex_client=debug",
        _ => "trace",
    };
    init_logging_with(default, format, file);
}

fn init_command_logging_with(default: &str, format: LogFormat) {
    init_logging_with(default, format, None);
}

fn init_logging_with(default: &str, format: LogFormat, file: Option<Arc<RotatingFile>>) {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("CODEX_SERVE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal, not in files and journals.
    let (ansi, writer) = match file {
        Some(f) => (
            false,
            BoxMakeWriter::new(move || crate::server::logfile::Writer(f.clone())),
        ),
        None => (
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            BoxMakeWriter::new(std::io::stderr),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
