//! Stage 4: the engine that does the paper's work -- data, models (burn), training, black-box
//! queries. It is being built: the data side and the Pix2Pix and CycleGAN networks exist;
//! training does not yet.

pub mod data;
pub mod models;
