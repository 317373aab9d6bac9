//! Layer 5, the process: the commands and their flags, [`Config`](config::Config) (between the flags
//! and the `App`), logging, listeners, signals, the config file, `status`, `models`, `service`,
//! `doctor`. Nothing below imports from here.

pub mod apikey;
pub mod app;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod flags;
pub mod hardening;
pub mod listen;
pub mod logfile;
pub mod logging;
pub mod serve;
pub mod service;
pub mod signals;
pub mod status;

pub use cli::main;
