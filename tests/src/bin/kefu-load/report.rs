//! Tables: each mode prints its table as it finishes and appends it as one JSON line to the
//! record file; `kefu-load report <file>` prints every mode's rows from every server (the
//! current tree, a baseline revision, the Socket.IO relay) in one table per mode, with the
//! verdict against the product brief's floors and goals.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

/// One mode's results for one server.
pub struct Table {
    pub mode: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
    pub summary: Value,
}

/// The modes in report order, with their titles.
const MODES: &[(&str, &str)] = &[
    ("closed", "Durable messages/s at saturation (closed loop)"),
    ("rate", "Visitor → agent across nodes, fixed rate"),
    ("fanout", "Fan-out in rooms, persisted (Kefu) and the Socket.IO relay baseline"),
    ("upgrades", "WebSocket upgrades/s (token check and tenant lookup)"),
    ("idle", "Idle authenticated visitor sockets on one node"),
    ("resume", "Resume: an agent reconnects and re-follows many conversations"),
    ("noisy", "Noisy neighbour: a quiet workspace while another goes at ten times its limits"),
];

/// `12345.6` → `12,346`.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 { format!("-{out}") } else { out }
}

fn markdown(columns: &[String], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", columns.join(" | "));
    for (i, _) in columns.iter().enumerate() {
        out.push_str(if i < 1 || columns[i] == "CPU cores" || columns[i] == "strategy" || columns[i] == "kind" {
            "---|"
        } else {
            "---:|"
        });
    }
    out.push('\n');
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

fn title(mode: &str) -> &'static str {
    MODES.iter().find(|(m, _)| *m == mode).map_or("", |(_, t)| t)
}

impl Table {
    /// Prints the table and appends it to the record file.
    pub fn emit(&self, label: &str, record: Option<&Path>) {
        let columns: Vec<String> = self.columns.iter().map(|c| (*c).to_owned()).collect();
        println!("### {} — {label}\n", title(self.mode));
        println!("{}", markdown(&columns, &self.rows));
        for note in &self.notes {
            println!("{note}");
        }
        println!();
        if let Some(path) = record {
            let line = json!({
                "mode": self.mode, "label": label, "columns": columns, "rows": self.rows,
                "notes": self.notes, "summary": self.summary,
            });
            let mut file =
                std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open the record file");
            writeln!(file, "{line}").expect("write the record file");
        }
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn mark(ok: bool) -> &'static str {
    if ok { "met" } else { "not met" }
}

/// Prints the combined report of a record file.
pub fn print(path: &Path) {
    let text = std::fs::read_to_string(path).expect("read the record file");
    let records: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for (mode, title) in MODES {
        let mine: Vec<&Value> = records.iter().filter(|r| r["mode"] == *mode).collect();
        let Some(first) = mine.first() else { continue };
        let columns: Vec<String> = first["columns"]
            .as_array()
            .map(|c| c.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let rows: Vec<Vec<String>> = mine
            .iter()
            .flat_map(|r| r["rows"].as_array().cloned().unwrap_or_default())
            .map(|row| {
                row.as_array()
                    .map(|c| c.iter().map(|s| s.as_str().unwrap_or("").to_owned()).collect())
                    .unwrap_or_default()
            })
            .collect();
        println!("### {title}\n");
        println!("{}", markdown(&columns, &rows));
        let mut notes: Vec<&str> = Vec::new();
        for record in &mine {
            for note in record["notes"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
        for note in notes {
            println!("{note}");
        }
        println!();
        for line in verdicts(mode, &mine) {
            // Verdict tables and their notes come ready to print.
            if line.is_empty() || line.starts_with('|') || line.starts_with("- ") {
                println!("{line}");
            } else {
                println!("- {line}");
            }
        }
        println!();
    }
}

fn verdicts(mode: &str, records: &[&Value]) -> Vec<String> {
    let mut out = Vec::new();
    match mode {
        "closed" => {
            for r in records {
                let best = f(&r["summary"]["best_acked_per_s"]);
                out.push(format!(
                    "{}: {} acked msg/s at best — floor 5,000/s {}, goal 15,000/s {}",
                    r["label"].as_str().unwrap_or(""),
                    thousands(best),
                    mark(best >= 5000.0),
                    mark(best >= 15000.0)
                ));
            }
        }
        "rate" => {
            for r in records {
                let steps = r["summary"]["steps"].as_array().cloned().unwrap_or_default();
                let best = |delivery: f64, ack: f64| {
                    steps
                        .iter()
                        .filter(|s| {
                            f(&s["delivery_ms"]["p99"]) <= delivery
                                && f(&s["ack_ms"]["p99"]) <= ack
                                && f(&s["complete"]) >= 0.99
                        })
                        .map(|s| s["rate"].as_u64().unwrap_or(0))
                        .max()
                };
                let top = steps.iter().filter_map(|s| s["rate"].as_u64()).max();
                let show = |b: Option<u64>| match b {
                    None => "none of the rates tried".to_owned(),
                    Some(b) if Some(b) == top => format!("≥ {} msg/s (the highest rate tried)", thousands(b as f64)),
                    Some(b) => format!("{} msg/s", thousands(b as f64)),
                };
                let floor = best(15.0, 10.0);
                let goal = best(8.0, 5.0);
                out.push(format!(
                    "{}: highest rate with delivery p99 ≤ 15 ms and ack p99 ≤ 10 ms: {} (floor: 2,000 msg/s, {}); with ≤ 8 ms / ≤ 5 ms: {} (goal: 2,000 msg/s, {})",
                    r["label"].as_str().unwrap_or(""),
                    show(floor),
                    mark(floor.is_some_and(|b| b >= 2000)),
                    show(goal),
                    mark(goal.is_some_and(|b| b >= 2000)),
                ));
            }
        }
        "fanout" => {
            // The highest deliveries/s of a passing step, and whether every step passed (then
            // the figure is only a lower bound: the sweep never reached saturation).
            let best_of = |r: &Value| -> (f64, bool) {
                let steps = r["summary"]["steps"].as_array().cloned().unwrap_or_default();
                let pass = |s: &Value| f(&s["delivery_ms"]["p99"]) <= 50.0 && f(&s["complete"]) >= 0.99;
                let best = steps.iter().filter(|s| pass(s)).map(|s| f(&s["delivered_per_s"])).fold(0.0, f64::max);
                (best, steps.iter().all(pass))
            };
            let at_least = |all: bool| if all { "≥ " } else { "" };
            // When no rate passed, what the lowest one gave.
            let lowest = |r: &Value| -> String {
                let steps = r["summary"]["steps"].as_array().cloned().unwrap_or_default();
                steps.first().map_or(String::new(), |s| {
                    format!(
                        "no rate tried passed; the lowest, {} msg/s, gave {} deliveries/s at p99 {} ms",
                        thousands(f(&s["rate"])),
                        thousands(f(&s["delivered_per_s"])),
                        crate::hist::ms(f(&s["delivery_ms"]["p99"]))
                    )
                })
            };
            let relay = records.iter().find(|r| r["summary"]["proto"] == "socketio").map(|r| best_of(r));
            // A summary table: the best figure per server and Kefu's ratio to the relay.
            out.push("| server | deliveries/s at p99 ≤ 50 ms | floor 50,000/s | goal 150,000/s | ratio to the Socket.IO relay |".into());
            out.push("|---|---:|---|---|---:|".into());
            let mut notes = Vec::new();
            for r in records {
                let (best, all) = best_of(r);
                let label = r["label"].as_str().unwrap_or("");
                if best == 0.0 {
                    notes.push(format!("{label}: {}", lowest(r)));
                } else if all {
                    notes.push(format!(
                        "{label}: every rate tried passed, so its ceiling is higher than shown (raise FANOUT_RATES)"
                    ));
                }
                let figure = format!("{}{}", at_least(all), thousands(best));
                if r["summary"]["proto"] == "socketio" {
                    out.push(format!("| {label} (no persistence) | {figure} | | | 1 |"));
                    continue;
                }
                let ratio = relay.filter(|(relay, _)| *relay > 0.0 && best > 0.0).map_or(
                    "–".to_owned(),
                    |(relay, relay_all)| {
                        let bound = match (all, relay_all) {
                            (false, false) => "",
                            (true, false) => "≥ ",
                            (false, true) => "≤ ",
                            (true, true) => "~ ",
                        };
                        format!("{bound}{:.2}×", best / relay)
                    },
                );
                out.push(format!(
                    "| {label} | {figure} | {} | {} | {ratio} |",
                    mark(best >= 50_000.0),
                    mark(best >= 150_000.0)
                ));
            }
            out.push(String::new());
            out.extend(notes.into_iter().map(|n| format!("- {n}")));
        }
        "upgrades" => {
            for r in records {
                for row in r["summary"]["kinds"].as_array().into_iter().flatten() {
                    let per_s = f(&row["per_s"]);
                    out.push(format!(
                        "{}: {}: {}/s — floor 1,000/s {}, goal 3,000/s {}",
                        r["label"].as_str().unwrap_or(""),
                        row["kind"].as_str().unwrap_or(""),
                        thousands(per_s),
                        mark(per_s >= 1000.0),
                        mark(per_s >= 3000.0)
                    ));
                }
            }
        }
        "idle" => {
            for r in records {
                let per = f(&r["summary"]["kib_per_socket"]);
                let base = f(&r["summary"]["base_mib"]);
                let at50 = base + per * 50_000.0 / 1024.0;
                let at100 = base + per * 100_000.0 / 1024.0;
                out.push(format!(
                    "{}: {:.1} KiB per idle socket (≤ 8 KiB {}, ≤ 4 KiB {}); extrapolated: 50,000 sockets ≈ {} MiB (< 1 GiB {}), 100,000 ≈ {} MiB (< 1 GiB {})",
                    r["label"].as_str().unwrap_or(""),
                    per,
                    mark(per <= 8.0),
                    mark(per <= 4.0),
                    thousands(at50),
                    mark(at50 < 1024.0),
                    thousands(at100),
                    mark(at100 < 1024.0)
                ));
            }
        }
        "resume" => {
            for r in records {
                for row in r["summary"]["strategies"].as_array().into_iter().flatten() {
                    out.push(format!(
                        "{}: {}: {} conversations re-followed in {:.2} s",
                        r["label"].as_str().unwrap_or(""),
                        row["strategy"].as_str().unwrap_or(""),
                        row["conversations"],
                        f(&row["all_replayed_s"])
                    ));
                }
            }
        }
        "noisy" => {
            for r in records {
                let phases: Vec<&Value> = r["summary"]["phases"].as_array().into_iter().flatten().collect();
                let Some(quiet) = phases.first() else { continue };
                let base = f(&quiet["quiet_ack_ms"]["p99"]);
                for phase in phases.iter().skip(1) {
                    let p99 = f(&phase["quiet_ack_ms"]["p99"]);
                    out.push(format!(
                        "{}: {}: the quiet workspace's ack p99 {:.1} ms against {:.1} ms idle — within 20 % {}; the noisy one refused {}/s",
                        r["label"].as_str().unwrap_or(""),
                        phase["phase"].as_str().unwrap_or(""),
                        p99,
                        base,
                        mark(base > 0.0 && p99 <= base * 1.2),
                        thousands(f(&phase["noisy_refused_per_s"]))
                    ));
                }
            }
        }
        _ => {}
    }
    out
}
