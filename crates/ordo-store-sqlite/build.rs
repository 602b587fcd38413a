//! The migrations are embedded at compile time (`sqlx::migrate!`): a new or changed file in
//! `migrations/` must rebuild this crate, which cargo knows only if it is told.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
