//! Ctrl-C and SIGTERM as a request to stop cleanly: the signal handler only sets a flag, and
//! long work polls it at safe points (training after each step, where it writes a checkpoint
//! first; the runner before it starts a job). A second signal ends the process at once, for
//! when a step takes too long to wait for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status after an interruption (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A shared "please stop" flag. Clones see the same flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    /// Set by the first one to notice, so the request is announced once.
    noticed: Arc<AtomicBool>,
}

impl Interrupt {
    /// A flag nothing sets but [`Interrupt::request`] (tests, library callers).
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// A flag that Ctrl-C (SIGINT) and SIGTERM set. The second such signal exits with
    /// [`EXIT_INTERRUPTED`] without waiting. Where handlers cannot be installed, the flag is
    /// never set and the signals keep their default action (the process dies; the cache and the
    /// last periodic checkpoint still let a rerun continue).
    pub fn on_signals() -> Interrupt {
        let interrupt = Interrupt::new();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The shutdown is registered first, so it only fires once the flag is already set.
            let _ = signal_hook::flag::register_conditional_shutdown(
                signal,
                EXIT_INTERRUPTED as i32,
                Arc::clone(&interrupt.requested),
            );
            let _ = signal_hook::flag::register(signal, Arc::clone(&interrupt.requested));
        }
        interrupt
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// True once: for the first caller after a request (who announces it).
    pub fn first_notice(&self) -> bool {
        self.requested() && !self.noticed.swap(true, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_seen_by_every_clone_and_announced_once() {
        let interrupt = Interrupt::new();
        let seen_by_a_worker = interrupt.clone();
        assert!(!seen_by_a_worker.requested());
        assert!(!interrupt.first_notice());
        interrupt.request();
        assert!(seen_by_a_worker.requested());
        assert!(seen_by_a_worker.first_notice());
        assert!(!interrupt.first_notice());
    }
}
