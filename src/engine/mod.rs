//! Stage 4: the engine that does the paper's work -- data, models (burn), training, black-box
//! queries -- as a library the runner calls job by job.

pub mod activation;
pub mod backend;
pub mod conv;
pub mod data;
pub mod defense;
pub mod flex_kernels;
pub mod jobs;
pub mod models;
pub mod norm;
pub mod padding;
pub mod query;
pub mod tensors;
#[cfg(feature = "tch")]
pub mod torch;
pub mod train;
