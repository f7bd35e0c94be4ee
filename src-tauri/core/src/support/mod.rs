//! What IT and support use: the doctor's checks, the diagnostics bundle, the log files, and the
//! one scrubber every log line and bundle passes through.

pub mod diagnostics;
pub mod doctor;
pub mod logs;
pub mod scrub;
