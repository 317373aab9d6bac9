//! Layer 5, the process: the commands and their flags, [`Config`](config::Config) (between the flags
//! and the `App`), logging, listeners, signals, the config file, `status`, `models`, `service`,
//! `doctor`. Nothing below imports from here.

pub(crate) mod apikey;
pub(crate) mod app;
pub(crate) mod cli;
pub(crate) mod config;
pub(crate) mod doctor;
pub(crate) mod flags;
pub(crate) mod hardening;
pub(crate) mod listen;
pub(crate) mod logfile;
pub(crate) mod logging;
pub(crate) mod serve;
pub(crate) mod service;
pub(crate) mod signals;
pub(crate) mod status;

pub use cli::main;
