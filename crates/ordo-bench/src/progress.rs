//! Progress bars and spinners for the long steps of a benchmark (loading, placing, checking).
//! A leaf: the API client, the loader and the scenarios all show progress the same way.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(what.to_owned());
    bar.set_style(
        ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len} {elapsed}")
            .expect("a template")
            .progress_chars("=> "),
    );
    bar
}

pub fn spinner(what: &str) -> ProgressBar {
    let spin = ProgressBar::new_spinner().with_message(what.to_owned());
    spin.enable_steady_tick(Duration::from_millis(120));
    spin
}
