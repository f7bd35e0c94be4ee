//! What is measured and how it is summarised: samples with medians and spread, the report's
//! rows, and the memory of a process tree (PSS and RSS from /proc).

use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct Samples(BTreeMap<String, Vec<f64>>);

impl Samples {
    pub fn add(&mut self, name: &str, value: f64) {
        self.0.entry(name.to_string()).or_default().push(value);
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

impl Samples {
    /// Every sample by name, for the JSON beside the table.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self.0)
    }

    /// The samples a JSON file of an earlier run holds (`samples` of [`Samples::to_json`]).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let map = value
            .as_object()
            .ok_or("the samples are not an object of name -> [numbers]")?;
        let mut samples = BTreeMap::new();
        for (name, values) in map {
            let values: Vec<f64> = values
                .as_array()
                .ok_or_else(|| format!("{name}: not a list"))?
                .iter()
                .map(|v| v.as_f64().ok_or_else(|| format!("{name}: not a number")))
                .collect::<Result<_, _>>()?;
            samples.insert(name.clone(), values);
        }
        Ok(Self(samples))
    }

    /// A markdown table of every figure both runs have: the earlier median, this one, and
    /// this / earlier (above 1 costs more; the machines are noisy, so read ratios near 1 as
    /// the same).
    pub fn compare(&self, earlier: &Samples) -> String {
        let mut out = String::from(
            "| figure | earlier (median) | now (median) | now / earlier |\n|---|---|---|---|\n",
        );
        for name in self.0.keys() {
            let (Some(now), Some(before)) = (self.median(name), earlier.median(name)) else {
                continue;
            };
            let ratio = if before > 0.0 {
                format!("{:.2}", now / before)
            } else {
                "-".into()
            };
            out.push_str(&format!(
                "| {name} | {} | {} | {ratio} |\n",
                fmt(before),
                fmt(now)
            ));
        }
        let only: Vec<&str> = earlier
            .0
            .keys()
            .filter(|name| !self.0.contains_key(*name))
            .map(String::as_str)
            .collect();
        if !only.is_empty() {
            out.push_str(&format!("\nOnly in the earlier run: {}\n", only.join(", ")));
        }
        out
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

/// One process name's share of a tree, in MiB: its PSS, and the anonymous part of it (heaps
/// and other private memory, as opposed to mapped files such as shared libraries).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessMemory {
    pub pss: f64,
    pub anon: f64,
}

/// (PSS, RSS) in MiB of the whole tree; and per process name, PSS and its anonymous part.
pub fn tree_memory(root: u32) -> (f64, f64, BTreeMap<String, ProcessMemory>) {
    let (mut pss, mut rss) = (0u64, 0u64);
    let mut by_name: BTreeMap<String, ProcessMemory> = BTreeMap::new();
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
        let entry = by_name.entry(name).or_default();
        entry.pss += p as f64 / 1024.0;
        entry.anon += field("Pss_Anon:") as f64 / 1024.0;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_run_round_trips_through_json_and_compares_by_median() {
        let mut earlier = Samples::default();
        for v in [100.0, 300.0, 200.0] {
            earlier.add("start_silent", v);
        }
        earlier.add("gone", 1.0);
        let text = serde_json::to_string(&earlier.to_json()).unwrap();
        let earlier = Samples::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        let mut now = Samples::default();
        now.add("start_silent", 300.0);
        now.add("new", 5.0);
        let table = now.compare(&earlier);
        assert!(
            table.contains("| start_silent | 200 | 300 | 1.50 |"),
            "{table}"
        );
        assert!(!table.contains("| new |"), "{table}");
        assert!(table.contains("Only in the earlier run: gone"), "{table}");
        assert!(Samples::from_json(&serde_json::json!({"x": ["a"]})).is_err());
    }
}
