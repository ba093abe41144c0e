//! heist's integration tests: the binary run as a user runs it.

mod adversarial;
mod browser;
mod diagnostics;
mod engine;
mod experiments;
mod inception;
mod language;
mod metrics;
mod mutations;
mod report;
mod run;
mod scratch;
mod support;
