//! Layer 5, the process: commands and flags, the config file, listeners, signals, `status`, `service`,
//! `doctor`. Nothing below imports from here.

pub mod apikey;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod hardening;
pub mod listen;
pub mod logfile;
pub mod service;
pub mod status;
