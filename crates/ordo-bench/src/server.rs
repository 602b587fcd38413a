//! The Ordo under test: one the bench starts itself (the `ordo` binary beside the bench's own,
//! on a fresh data folder or database), or one already running at `--url`.
//!
//! A server the bench started is measured too: its peak resident memory (`VmHWM`) is read from
//! `/proc` at the end of the run.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct TargetArgs {
    /// Drive an Ordo that is already running here instead of starting one (it must have the
    /// demo admin: `ordo serve --demo`).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// The backend of the Ordo the bench starts.
    #[arg(long, global = true, value_enum, default_value = "sqlite")]
    pub backend: Backend,
    /// Data folder for the Ordo the bench starts (default: a fresh temporary folder). Point it
    /// at a folder filled by `ordo-bench load` to benchmark reads over many orders.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL server for `--backend postgres`: the bench creates a fresh database on it.
    #[arg(
        long,
        global = true,
        env = "ORDO_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Use this PostgreSQL database as it is (e.g. one filled by `ordo-bench load`).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// The `ordo` binary to start (default: the one beside this bench).
    #[arg(long, global = true)]
    pub ordo_bin: Option<PathBuf>,
    /// One more argument for the `ordo serve` the bench starts (repeatable), e.g.
    /// `--serve-arg=--no-relay` to measure without the event relay.
    #[arg(long = "serve-arg", global = true, allow_hyphen_values = true)]
    pub serve_args: Vec<String>,
    /// Ordo's log filter while measured (`ORDO_LOG`); per-request info lines cost CPU.
    #[arg(long, global = true, default_value = "warn")]
    pub log: String,
}

/// A running Ordo.
pub struct Server {
    pub url: String,
    pub backend: Backend,
    child: Option<Child>,
    /// Kept so the temporary folder lives as long as the server.
    _data: Option<tempfile::TempDir>,
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database the bench created, dropped at the end.
    created_db: Option<(String, String)>,
}

impl Server {
    pub async fn start(args: &TargetArgs) -> anyhow::Result<Self> {
        if let Some(url) = &args.url {
            return Ok(Self {
                url: url.trim_end_matches('/').to_owned(),
                backend: args.backend,
                child: None,
                _data: None,
                data_dir: None,
                created_db: None,
            });
        }
        let (temp, data_dir) = match &args.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::Builder::new().prefix("ordo-bench-").tempdir()?;
                let dir = temp.path().to_owned();
                (Some(temp), dir)
            }
        };
        let mut created_db = None;
        let database_url = match (args.backend, &args.database_url) {
            (Backend::Sqlite, _) => None,
            (Backend::Postgres, Some(url)) => Some(url.clone()),
            (Backend::Postgres, None) => {
                // A second server in one run (the `events` scenario's) gets its own database.
                static STARTED: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let name = match n {
                    0 => format!("ordo_bench_{}", std::process::id()),
                    n => format!("ordo_bench_{}_{n}", std::process::id()),
                };
                let url = create_database(&args.postgres_url, &name).await?;
                created_db = Some((args.postgres_url.clone(), name));
                Some(url)
            }
        };
        let bin = match &args.ordo_bin {
            Some(bin) => bin.clone(),
            None => std::env::current_exe()?
                .parent()
                .context("the bench's folder")?
                .join("ordo"),
        };
        let mut command = Command::new(&bin);
        command
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .env("ORDO_LOG", &args.log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = &database_url {
            command.args(["--database-url", url]);
        }
        command.args(&args.serve_args);
        let mut child = command.spawn().with_context(|| {
            format!(
                "Failed to start {} (build it: cargo build --release)",
                bin.display()
            )
        })?;
        let stdout = child.stdout.take().context("ordo's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let Some(line) = lines.next_line().await? else {
                bail!("ordo exited before it listened");
            };
            if let Some(rest) = line.strip_prefix("Ordo is listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .context("the listening address")?
                    .to_owned();
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            url,
            backend: args.backend,
            child: Some(child),
            _data: temp,
            data_dir: Some(data_dir),
            created_db,
        })
    }

    /// Peak resident memory of the server the bench started, in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmHWM:")
    }

    /// Resident memory of the server the bench started now, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmRSS:")
    }

    fn memory_mib(&self, field: &str) -> Option<f64> {
        let pid = self.child.as_ref()?.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    /// Stops the server (SIGKILL: its state is not what is measured) and drops a database the
    /// bench created.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
        if let Some((admin, name)) = self.created_db.take() {
            drop_database(&admin, &name).await?;
        }
        Ok(())
    }
}

/// A fresh database for this run (dropping a leftover of the same name first).
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    ordo_store_postgres::admin::drop_database(admin_url, name).await?;
    ordo_store_postgres::admin::create_database(admin_url, name).await
}

pub use ordo_store_postgres::admin::drop_database;

/// CPU seconds used so far by the process or thread whose `/proc/.../stat` this is (user +
/// system; the kernel counts in ticks of 1/100 s on Linux).
fn cpu_seconds(stat: &str) -> Option<f64> {
    let text = std::fs::read_to_string(stat).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU used so far by the server, by its SQLite writer thread, and by the bench itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSample {
    pub server: f64,
    pub writer: f64,
    pub bench: f64,
}

impl Server {
    pub fn cpu(&self) -> CpuSample {
        let bench = cpu_seconds("/proc/self/stat").unwrap_or(0.0);
        let Some(pid) = self.child.as_ref().and_then(Child::id) else {
            return CpuSample {
                bench,
                ..CpuSample::default()
            };
        };
        let writer = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .find(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("ordo-sqlite-wri"))
            })
            .and_then(|task| cpu_seconds(&task.path().join("stat").to_string_lossy()));
        CpuSample {
            server: cpu_seconds(&format!("/proc/{pid}/stat")).unwrap_or(0.0),
            writer: writer.unwrap_or(0.0),
            bench,
        }
    }
}
