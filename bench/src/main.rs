//! The measuring harness behind `scripts/bench.sh`: Agent Shell side by side with Chromium
//! showing the same emulated Genesys Cloud client, in one run, several rounds, medians and
//! spread. Prints a table and (with `--out`) writes docs/benchmarks.md.
//!
//! Needs what the e2e tests need (a display, a D-Bus session with an unlocked keyring):
//! scripts/bench.sh provides them. Timings are taken on this process's clock when a log line
//! of the app arrives (launch = spawn), memory from /proc/PID/smaps_rollup of the whole
//! process tree (the app and its WebKit processes; Chromium and all of its processes).

mod app;
mod browser;
mod refresh;
mod stats;

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::stats::Samples;

#[derive(Parser)]
pub struct Args {
    /// The agent-shell binary to measure (a release build without the emulator).
    #[arg(long)]
    app: PathBuf,
    /// The floor app (bench/floor: the smallest Tauri app on the same Tauri and webview), for
    /// the "shell / floor" rows (skipped when absent).
    #[arg(long)]
    floor: Option<PathBuf>,
    /// Chromium, for the side-by-side rows (skipped when absent).
    #[arg(long)]
    chromium: Option<PathBuf>,
    /// The .deb to report the size of.
    #[arg(long)]
    deb: Option<PathBuf>,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Idle time before memory is read (the figure is 60 s).
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    #[arg(long, default_value_t = 1000)]
    refresh_cycles: usize,
    /// Write the report here (markdown) as well as printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write every figure of this run here as JSON (machine, settings, samples, rows), to
    /// compare a later run with.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Compare this run with an earlier one's JSON: a table of medians and ratios, printed
    /// after the report.
    #[arg(long, value_name = "FILE")]
    compare: Option<PathBuf>,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    // Read first: a bad file is reported before a run of many minutes, not after it.
    let earlier = match &args.compare {
        Some(path) => Some(read_run(path)?),
        None => None,
    };
    let (report, samples, rows) = runtime.block_on(run(&args))?;
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report)?;
        eprintln!("bench: wrote {}", out.display());
    }
    if let Some(path) = &args.json {
        let figures = serde_json::json!({
            "format": 1,
            "machine": machine(),
            "rounds": args.rounds,
            "idle_secs": args.idle_secs,
            "refresh_cycles": args.refresh_cycles,
            "samples": samples.to_json(),
            "rows": rows.iter().map(|r| serde_json::json!({
                "what": r.what, "value": r.value, "target": r.target, "verdict": r.verdict,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)?;
        eprintln!("bench: wrote {}", path.display());
    }
    if let Some((path, earlier)) = args.compare.as_ref().zip(earlier) {
        println!(
            "\n## Compared with {}\n\n{}",
            path.display(),
            samples.compare(&earlier)
        );
    }
    Ok(())
}

/// The samples of an earlier run's `--json` file.
fn read_run(path: &Path) -> Result<Samples, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Samples::from_json(&value["samples"]).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or("?".into(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let gpu = Path::new("/dev/dri").exists();
    format!(
        "{cpu}, {cores} cores, {memory} RAM, {}, Xvfb",
        if gpu {
            "a GPU render node"
        } else {
            "no GPU (software rendering)"
        }
    )
}

async fn run(args: &Args) -> Result<(String, Samples, Vec<stats::Row>), BoxError> {
    let mut rows = Vec::new();
    let mut samples = Samples::default();
    eprintln!("bench: the refresh engine");
    refresh::refresh_engine(args, &mut rows).await?;
    eprintln!("bench: the app and Chromium, {} round(s)", args.rounds);
    app::app_and_browser(args, &mut rows, &mut samples).await?;
    app::sizes(args, &mut rows)?;

    let mut out = String::from("# Benchmarks\n\n");
    out.push_str(&format!(
        "Written by `scripts/bench.sh` (`{}` rounds, {} s idle). Machine: {}. Values are medians with the range over the rounds; Agent Shell and Chromium are measured in the same run, one after the other, against the same emulator.\n\n",
        args.rounds,
        args.idle_secs,
        machine()
    ));
    out.push_str("| measure | value | target | |\n|---|---|---|---|\n");
    for row in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.what, row.value, row.target, row.verdict
        ));
    }
    Ok((out, samples, rows))
}
