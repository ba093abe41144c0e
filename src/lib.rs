//! heist: a declarative experiment language and reproducibility tool for model-extraction
//! attacks on image-translation models.
//!
//! The pipeline, one module per stage: [`source`] (files, spans) -> [`syntax`] (pest grammar,
//! AST) -> [`sema`] (names, types, units, ranges: the checked [`sema::Program`]). Problems of
//! every stage are [`diagnostics::Diagnostic`] values, rendered once by [`cli`].
//!
//! Then [`plan`] (the program as a graph of content-addressed jobs), [`engine`] (data, burn
//! models, training, the black-box boundary) and [`run`] (the jobs executed against the
//! cache, the tidy results table, the manifest), [`report`] (the paper's tables and figures
//! from a run directory) and [`diff`] (two runs' results compared, for CI).
//!
//! Leaf libraries: [`metrics`] (PSNR, SSIM, FID, KID), [`stats`] (Welch, TOST) and [`images`]
//! (sample grids, PNG). [`bench`] times the engine's training steps.

pub mod bench;
pub mod cli;
pub mod diagnostics;
pub mod diff;
pub mod engine;
pub mod font;
pub mod fsutil;
pub mod images;
pub mod interrupt;
pub mod metrics;
pub mod nn;
pub mod plan;
pub mod report;
pub mod rng;
pub mod run;
pub mod sema;
pub mod source;
pub mod stats;
pub mod syntax;
