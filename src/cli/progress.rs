//! Training progress on the terminal: a bar with steps/s and the latest losses; nothing when
//! `--quiet` or when stderr is not a terminal (logs and CI).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::interrupt::Interrupt;
use crate::run::Observer;

pub struct Bar {
    bar: Option<ProgressBar>,
    shown: bool,
    /// Where the bar goes when several are drawn at once (`heist run`).
    multi: Option<MultiProgress>,
    /// Shown instead of the model's name.
    prefix: Option<String>,
    quiet: bool,
    /// Stops training after the current step once set (`heist train --checkpoint`).
    interrupt: Option<Interrupt>,
}

impl Bar {
    pub fn new(quiet: bool) -> Bar {
        Bar {
            bar: None,
            shown: shown(quiet),
            multi: None,
            prefix: None,
            quiet,
            interrupt: None,
        }
    }

    /// Training stops cleanly, after its current step, once `interrupt` is requested.
    pub fn interruptible(self, interrupt: Interrupt) -> Bar {
        Bar {
            interrupt: Some(interrupt),
            ..self
        }
    }

    /// A job's bar among others, labelled with the job.
    pub fn in_group(multi: &MultiProgress, prefix: &str, quiet: bool) -> Bar {
        Bar {
            bar: None,
            shown: shown(quiet),
            multi: Some(multi.clone()),
            prefix: Some(prefix.to_string()),
            quiet,
            interrupt: None,
        }
    }
}

impl Bar {
    /// A line above the bar on a terminal, else on stderr.
    fn warn_or_note(&self, line: String) {
        match &self.bar {
            Some(bar) if self.shown => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }
}

/// Bars are drawn on a terminal only.
pub fn shown(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
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
        bar.set_prefix(self.prefix.clone().unwrap_or_else(|| label.to_string()));
        let bar = match &self.multi {
            Some(m) if self.shown => m.add(bar),
            _ => bar,
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn resumed(&mut self, step: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(step);
            bar.reset_eta();
        }
        if !self.quiet {
            self.warn_or_note(format!("resumed from the checkpoint at step {step}"));
        }
    }

    fn warn(&mut self, message: &str) {
        self.warn_or_note(format!("warning: {message}"));
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

    fn interrupted(&self) -> bool {
        let Some(interrupt) = &self.interrupt else {
            return false;
        };
        if interrupt.first_notice() {
            self.warn_or_note(
                "interrupted: stopping after this step to write a checkpoint (press Ctrl-C again to stop at once)".into(),
            );
        }
        interrupt.requested()
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
