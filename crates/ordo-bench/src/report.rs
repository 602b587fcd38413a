//! What a run found: latency histograms (HDR, microsecond resolution), figures with their
//! targets, the machine and commit they were measured on; printed as a table, written as JSON,
//! and drawn as an SVG chart of latency over time.

use std::path::Path;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};

/// Latencies in microseconds, 1 µs to 10 minutes, three significant figures.
#[derive(Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(us);
    }

    pub fn add(&mut self, other: &Latency) {
        let _ = self.0.add(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The `q` quantile (0..=1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.0.max() as f64 / 1000.0
    }

    pub fn summary(&self) -> Value {
        json!({
            "count": self.count(),
            "p50_ms": self.ms(0.50),
            "p95_ms": self.ms(0.95),
            "p99_ms": self.ms(0.99),
            "max_ms": self.max_ms(),
            "mean_ms": self.0.mean() / 1000.0,
        })
    }
}

/// A target a figure is held to.
#[derive(Debug, Clone, Copy, Serialize)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    Exactly(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Target::AtLeast(t) => value >= t,
            Target::AtMost(t) => value <= t,
            Target::Exactly(t) => (value - t).abs() < f64::EPSILON,
        }
    }

    fn show(self) -> String {
        match self {
            Target::AtLeast(t) => format!(">= {}", num(t)),
            Target::AtMost(t) => format!("<= {}", num(t)),
            Target::Exactly(t) => format!("= {}", num(t)),
        }
    }
}

fn num(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e15) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// Everything one run of one scenario found.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    pub date: String,
    pub commit: String,
    pub machine: Value,
    pub backend: String,
    pub settings: Value,
    pub figures: Vec<Figure>,
    /// Histograms, error counts, timelines: the detail behind the figures.
    pub detail: Value,
}

impl Report {
    pub fn new(scenario: &str, backend: &str, settings: Value) -> Self {
        Self {
            scenario: scenario.to_owned(),
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            commit: commit(),
            machine: machine(),
            backend: backend.to_owned(),
            settings,
            figures: Vec::new(),
            detail: json!({}),
        }
    }

    pub fn figure(&mut self, name: &str, value: f64, unit: &'static str, target: Option<Target>) {
        self.figures.push(Figure {
            name: name.to_owned(),
            value,
            unit,
            target,
            met: target.map(|t| t.met(value)),
        });
    }

    pub fn detail(&mut self, key: &str, value: Value) {
        self.detail[key] = value;
    }

    pub fn print(&self) {
        println!();
        println!(
            "{} on {} — commit {}, {} cores, {} — {}",
            self.scenario,
            self.backend,
            self.commit,
            self.machine["cores"],
            self.machine["memory"].as_str().unwrap_or("?"),
            self.date
        );
        println!(
            "{:<44} {:>14} {:<8} {:>12}",
            "figure", "value", "unit", "target"
        );
        println!("{}", "-".repeat(82));
        for f in &self.figures {
            let target = match (f.target, f.met) {
                (Some(t), Some(true)) => format!("{} ok", t.show()),
                (Some(t), _) => format!("{} MISSED", t.show()),
                (None, _) => String::new(),
            };
            println!(
                "{:<44} {:>14} {:<8} {:>12}",
                f.name,
                num(f.value),
                f.unit,
                target
            );
        }
        if let Some(errors) = self.detail.get("errors").and_then(Value::as_object)
            && !errors.is_empty()
        {
            println!("answers by kind: {}", Value::Object(errors.clone()));
        }
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        println!("figures written to {}", path.display());
        Ok(())
    }
}

fn commit() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(id) => match run(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if !changes.is_empty() => format!("{id}+changes"),
            _ => id,
        },
        None => "unknown".into(),
    }
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let mem_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory": format!("{:.1} GiB", mem_kib / 1024.0 / 1024.0),
        "cpu": cpu,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "load_average": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

/// Latency over time (p50, p99, max per second; one histogram a second) as an SVG line chart,
/// with the answers per second beneath.
pub fn chart(path: &Path, title: &str, seconds: &[Latency]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let series = |f: &dyn Fn(&Latency) -> f64| -> Vec<(f64, f64)> {
        seconds
            .iter()
            .enumerate()
            .filter(|(_, s)| s.count() > 0)
            .map(|(i, s)| (i as f64 + 1.0, f(s)))
            .collect()
    };
    let p50 = series(&|l| l.ms(0.5));
    let p99 = series(&|l| l.ms(0.99));
    let max = series(&|l| l.max_ms());
    let throughput = series(&|l| l.count() as f64);
    let top = max.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (960, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let (upper, lower) = root.split_vertically(420);
    let x_end = seconds.len() as f64 + 1.0;
    let mut chart = ChartBuilder::on(&upper)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_end, 0f64..top)?;
    chart
        .configure_mesh()
        .y_desc("latency (ms)")
        .x_desc("second of the run")
        .draw()?;
    for (data, color, label) in [
        (&max, RED, "max"),
        (&p99, BLUE, "p99"),
        (&p50, GREEN, "p50"),
    ] {
        chart
            .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    let peak = throughput.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut rate = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..x_end, 0f64..peak)?;
    rate.configure_mesh()
        .y_desc("answers / s")
        .x_desc("second of the run")
        .draw()?;
    rate.draw_series(LineSeries::new(
        throughput.iter().copied(),
        BLACK.stroke_width(2),
    ))?;
    root.present()?;
    println!("chart written to {}", path.display());
    Ok(())
}
