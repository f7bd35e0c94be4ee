//! What is measured and how it is summarised: samples with medians and spread, the report's
//! rows, and the memory of a process tree (PSS and RSS from /proc).

use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct Samples(BTreeMap<&'static str, Vec<f64>>);

impl Samples {
    pub fn add(&mut self, name: &'static str, value: f64) {
        self.0.entry(name).or_default().push(value);
    }

    pub fn median(&self, name: &str) -> Option<f64> {
        let mut values = self.0.get(name)?.clone();
        values.sort_by(|a, b| a.total_cmp(b));
        values.get(values.len() / 2).copied()
    }

    /// "median (min-max, n=N)".
    pub fn show(&self, name: &str, unit: &str) -> String {
        let Some(values) = self.0.get(name) else {
            return "not measured".into();
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let median = self.median(name).unwrap_or(f64::NAN);
        if values.len() == 1 {
            return format!("{} {unit}", fmt(median));
        }
        format!(
            "{} {unit} ({}-{}, n={})",
            fmt(median),
            fmt(min),
            fmt(max),
            values.len()
        )
    }
}

pub fn fmt(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub struct Row {
    pub what: String,
    pub value: String,
    pub target: String,
    pub verdict: String,
}

pub fn verdict(value: Option<f64>, limit: f64) -> String {
    match value {
        Some(v) if v <= limit => "met".into(),
        Some(_) => "**missed**".into(),
        None => "not measured".into(),
    }
}

// Memory of a process tree

/// Every descendant of `root`, and `root`.
fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The command name may hold spaces: the fields start after the last ')'.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            if let Some(ppid) = after.split(' ').nth(1).and_then(|p| p.parse::<u32>().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        if let Some(kids) = children.get(&tree[index]) {
            tree.extend(kids);
        }
        index += 1;
    }
    tree
}

/// (PSS, RSS) in MiB of the whole tree; and per process name, PSS.
pub fn tree_memory(root: u32) -> (f64, f64, BTreeMap<String, f64>) {
    let (mut pss, mut rss) = (0u64, 0u64);
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    for pid in process_tree(root) {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        let field = |name: &str| {
            rollup
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let (p, r) = (field("Pss:"), field("Rss:"));
        pss += p;
        rss += r;
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        *by_name.entry(name).or_default() += p as f64 / 1024.0;
    }
    (pss as f64 / 1024.0, rss as f64 / 1024.0, by_name)
}

pub fn self_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
