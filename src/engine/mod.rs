//! Stage 4: the engine that does the paper's work -- data, models (burn), training, black-box
//! queries. It is being built; today it holds the built-in synthetic data.

pub mod data;
