//! A real SMTP server for the e-mail tests: aiosmtpd from PyPI (pinned in
//! `.ci/requirements.txt`, installed into `.venv/` by `.ci/run`) on 127.0.0.1, keeping every
//! message in a Maildir the tests read. Without it the tests are skipped, unless
//! `ORDO_TEST_REQUIRE_SMTP=1` (as `.ci/run` sets), which makes that a failure.

#![allow(dead_code, reason = "each test file uses the helpers it needs")]

use std::path::PathBuf;
use std::time::Duration;

/// A real SMTP server on 127.0.0.1 that keeps every message in a Maildir.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

fn python() -> Option<PathBuf> {
    let python = ordo_store::testing::venv_bin("python");
    let has_aiosmtpd = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if has_aiosmtpd {
        return Some(python);
    }
    ordo_store::testing::missing(
        "SMTP",
        &format!(
            "{} has no aiosmtpd (run .ci/run, or pip install -r .ci/requirements.txt into .venv)",
            python.display()
        ),
    );
    None
}

impl SmtpSink {
    pub async fn start() -> Option<Self> {
        python()?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut sink = SmtpSink {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        sink.up().await;
        Some(sink)
    }

    /// Starts the server (again) on its port and waits until it answers.
    pub async fn up(&mut self) {
        let child = std::process::Command::new(python().unwrap())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.dir.path().join("mail"))
            .spawn()
            .expect("start aiosmtpd");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "aiosmtpd never listened"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received: (to, subject, plain text, html).
    pub fn messages(&self) -> Vec<Mail> {
        let dir = self.dir.path().join("mail/new");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .map(|e| {
                let raw = std::fs::read(e.unwrap().path()).unwrap();
                let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
                Mail {
                    to: m
                        .to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .unwrap()
                        .to_owned(),
                    subject: m.subject().unwrap_or_default().to_owned(),
                    text: m.body_text(0).unwrap_or_default().into_owned(),
                    html: m.body_html(0).unwrap_or_default().into_owned(),
                }
            })
            .collect()
    }

    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to == address)
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}
