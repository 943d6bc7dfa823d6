//! CPU used per process over a measured window: utime + stime deltas from `/proc/<pid>/stat`,
//! reported as cores (CPU seconds per wall second). Covers the `kefu` nodes and any other named
//! process (the Socket.IO relay), Postgres (the backends serving the bench database, and every
//! postgres process on the machine), Redis, the load generator itself, and the whole machine
//! from `/proc/stat`, so a figure measured on shared cores can be read honestly.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Value, json};

/// What to sample.
#[derive(Clone, Default)]
pub struct CpuSpec {
    /// `(label, pid)`: several pids may share a label (the nodes); they are summed.
    pub named: Vec<(String, u32)>,
    /// The bench database: postgres backends whose title names it count as "ours".
    pub pg_db: Option<String>,
    /// Extra pids counted as the load generator (idle-socket worker processes).
    pub load_children: Vec<u32>,
}

/// One reading.
pub struct Snapshot {
    at: Instant,
    named: Vec<Option<u64>>,
    pg_ours: HashMap<u32, u64>,
    pg_all: HashMap<u32, u64>,
    redis: HashMap<u32, u64>,
    load: u64,
    machine_busy: u64,
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process (all its threads), in clock ticks.
pub fn ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn machine_busy() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return 0 };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else { return 0 };
    // user nice system idle iowait irq softirq steal
    let fields: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| fields.get(i)).sum()
}

impl CpuSpec {
    /// Reads every process now.
    pub fn sample(&self) -> Snapshot {
        let mut pg_ours = HashMap::new();
        let mut pg_all = HashMap::new();
        let mut redis = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
                let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else { continue };
                let comm = comm.trim();
                if comm == "postgres" || comm.starts_with("postgres:") {
                    let Some(t) = ticks(&pid.to_string()) else { continue };
                    pg_all.insert(pid, t);
                    if let Some(db) = &self.pg_db {
                        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                        let title = String::from_utf8_lossy(&title);
                        if title.split_whitespace().any(|w| w == db) {
                            pg_ours.insert(pid, t);
                        }
                    }
                } else if comm.starts_with("redis-server")
                    && let Some(t) = ticks(&pid.to_string())
                {
                    redis.insert(pid, t);
                }
            }
        }
        let load = ticks("self").unwrap_or(0)
            + self.load_children.iter().filter_map(|pid| ticks(&pid.to_string())).sum::<u64>();
        Snapshot {
            at: Instant::now(),
            named: self.named.iter().map(|(_, pid)| ticks(&pid.to_string())).collect(),
            pg_ours,
            pg_all,
            redis,
            load,
            machine_busy: machine_busy(),
        }
    }

    /// Cores used between two readings: a table cell and the same figures as JSON.
    pub fn between(&self, before: &Snapshot, after: &Snapshot) -> (String, Value) {
        let seconds = after.at.duration_since(before.at).as_secs_f64().max(1e-3);
        let cores = |ticks: u64| ticks as f64 / clock_ticks() / seconds;
        let delta_map = |b: &HashMap<u32, u64>, a: &HashMap<u32, u64>| -> u64 {
            // Processes that started inside the window count whole; ended ones are lost.
            a.iter().map(|(pid, t)| t.saturating_sub(b.get(pid).copied().unwrap_or(0))).sum()
        };
        let mut parts: Vec<String> = Vec::new();
        let mut json = serde_json::Map::new();
        let mut labels: Vec<&str> = Vec::new();
        for (label, _) in &self.named {
            if !labels.contains(&label.as_str()) {
                labels.push(label);
            }
        }
        for label in labels {
            let each: Vec<f64> = self
                .named
                .iter()
                .enumerate()
                .filter(|(_, (l, _))| l == label)
                .map(|(i, _)| match (before.named[i], after.named[i]) {
                    (Some(b), Some(a)) => cores(a.saturating_sub(b)),
                    _ => f64::NAN,
                })
                .collect();
            let total: f64 = each.iter().sum();
            if each.len() > 1 {
                let split: Vec<String> = each.iter().map(|c| format!("{c:.2}")).collect();
                parts.push(format!("{label} {total:.2} ({})", split.join("+")));
            } else {
                parts.push(format!("{label} {total:.2}"));
            }
            json.insert(label.to_owned(), json!(total));
        }
        let pg_all = cores(delta_map(&before.pg_all, &after.pg_all));
        if self.pg_db.is_some() {
            let pg_ours = cores(delta_map(&before.pg_ours, &after.pg_ours));
            parts.push(format!("pg {pg_ours:.2} (all {pg_all:.2})"));
            json.insert("postgres_bench_db".into(), json!(pg_ours));
        } else {
            parts.push(format!("pg {pg_all:.2}"));
        }
        json.insert("postgres_all".into(), json!(pg_all));
        let redis = cores(delta_map(&before.redis, &after.redis));
        parts.push(format!("redis {redis:.2}"));
        json.insert("redis".into(), json!(redis));
        let load = cores(after.load.saturating_sub(before.load));
        parts.push(format!("load {load:.2}"));
        json.insert("load_generator".into(), json!(load));
        let machine = cores(after.machine_busy.saturating_sub(before.machine_busy));
        let available = std::thread::available_parallelism().map_or(0, usize::from);
        parts.push(format!("machine {machine:.2}/{available}"));
        json.insert("machine".into(), json!(machine));
        json.insert("machine_cores".into(), json!(available));
        (parts.join(" · "), Value::Object(json))
    }
}

/// Parses `label=pid,label=pid`.
pub fn parse_named(spec: &str) -> Vec<(String, u32)> {
    spec.split(',')
        .filter_map(|item| {
            let (label, pid) = item.trim().split_once('=')?;
            Some((label.to_owned(), pid.parse().ok()?))
        })
        .collect()
}

/// Resident set size of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}
