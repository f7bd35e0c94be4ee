//! What IT and support use: the doctor's checks, the diagnostics bundle, the log files, the
//! clean-up of per-user leftovers, and the one scrubber every log line and bundle passes
//! through.

pub mod cleanup;
pub mod diagnostics;
pub mod doctor;
pub mod logs;
pub mod scrub;
