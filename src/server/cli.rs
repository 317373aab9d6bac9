//! The command line: which command runs, with what, on which runtime. The flags are in
//! [`flags`](crate::server::flags), the settings they make in [`Config`].

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::server::config::Config;
use crate::server::doctor::DoctorArgs;
use crate::server::flags::ServeArgs;
use crate::server::logging::init_command_logging;
use crate::server::service::ServiceArgs;

#[derive(Parser, Debug)]
#[command(
    name = "codex-serve",
    version,
    about = "Serve your Codex login as an OpenAI-compatible API on a private Unix socket",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Install or remove the user service that starts codex-serve on the first connection.
    Service(ServiceArgs),
    /// Login, server and rate limits at a glance (never prints a token).
    Status(Box<crate::server::status::StatusArgs>),
    /// The models this login can use, with the reasoning efforts each takes.
    Models(Box<crate::server::status::ModelsArgs>),
    /// The settings in force (flags, environment, config file, the codex CLI's config) and where each
    /// came from.
    Config(Box<crate::server::config::show::ConfigArgs>),
    /// Checks each link (login, versions, permissions, server, network, routing, units) and says what
    /// to do about the one that fails; exits 1 when one does.
    Doctor(Box<DoctorArgs>),
}

pub fn main() -> ExitCode {
    let cli: Cli = match crate::server::config::load() {
        Ok(cli) => cli,
        Err(crate::server::config::LoadError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("codex-serve: {e}");
            return ExitCode::from(2);
        }
    };
    let args = match cli.command {
        Some(Command::Service(s)) => return crate::server::service::main(s),
        Some(Command::Status(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_command(crate::server::status::status(*a));
        }
        Some(Command::Models(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_command(crate::server::status::models(*a));
        }
        Some(Command::Config(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_command(async move { crate::server::config::show::run(&a) });
        }
        Some(Command::Doctor(a)) => {
            init_command_logging(a.serve.verbose, a.serve.log_format);
            return run_doctor(*a);
        }
        Some(Command::Serve(a)) => *a,
        None => cli.serve,
    };
    let config = Config::from_args(&args);
    if let Err(e) = crate::server::logging::init_serve(&config.log) {
        eprintln!("codex-serve: {e}");
        return ExitCode::from(2);
    }
    crate::server::config::log_start();
    crate::server::hardening::apply();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(crate::server::serve::serve(config));
    // A stdin read parked in the blocking pool can't be cancelled; don't let it hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `doctor`: 0 when every check passed or only warned, 1 when one failed, 2 when it could not run.
fn run_doctor(args: DoctorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-serve: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(crate::server::doctor::run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs a one-shot command (status, models) to its end.
fn run_command(fut: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("codex-serve: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codex-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;
