//! Training progress on the terminal: a bar with steps/s and the latest losses; nothing when
//! `--quiet` or when stderr is not a terminal (logs and CI).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::train::Observer;

pub struct Bar {
    bar: Option<ProgressBar>,
    shown: bool,
}

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        Bar {
            bar: None,
            shown: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl Observer for Bar {
    fn start(&mut self, label: &str, total_steps: u64) {
        let bar = ProgressBar::with_draw_target(
            Some(total_steps),
            if self.shown {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>10} [{bar:30}] {pos}/{len} steps, {per_sec}, {eta} left  {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn step(&mut self, step: u64, losses: &[(&'static str, f64)]) {
        if let Some(bar) = &self.bar {
            bar.set_position(step);
            if step.is_multiple_of(5) || step == bar.length().unwrap_or(0) {
                let text: Vec<String> = losses.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
                bar.set_message(text.join("  "));
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
