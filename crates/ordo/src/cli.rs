//! The command line: `ordo serve`, `ordo migrate`, `ordo users create`.
//! Every flag can also come from an `ORDO_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::DatabaseConfig;

#[derive(Debug, Parser)]
#[command(
    name = "ordo",
    version,
    about = "Ordo: order management for shops and marketplaces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format: `text` for people, `json` for log collectors; `auto` picks text on a terminal.
    #[arg(long, global = true, env = "ORDO_LOG_FORMAT", default_value = "auto")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Bring the database schema up to date and exit.
    Migrate(DbArgs),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Folder for the embedded SQLite database (used when no --database-url is given).
    #[arg(long, env = "ORDO_DATA_DIR", default_value = "./ordo-data")]
    pub data_dir: PathBuf,
    /// `postgres://user@host/db` for PostgreSQL, or `sqlite:path` for a SQLite file elsewhere.
    #[arg(long, env = "ORDO_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "ORDO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Load the demo data set (if not loaded yet) and print its logins.
    #[arg(long, env = "ORDO_DEMO")]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input.
    Create(CreateUserArgs),
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub email: String,
    /// customer, vendor, support, admin or carrier.
    #[arg(long)]
    pub role: String,
    /// The vendor a vendor user belongs to.
    #[arg(long)]
    pub vendor_id: Option<uuid::Uuid>,
    /// Read the password from standard input (its first line), so it stays out of shell history.
    #[arg(long, required = true)]
    pub password_stdin: bool,
}
