//! What can go wrong when measuring, with enough detail to fix it.

use std::path::PathBuf;

/// A problem with the inputs of a metric. Each names the file (and row, column or size) at fault.
#[derive(Debug, thiserror::Error)]
pub enum MetricError {
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("`{path}` holds no images")]
    Empty { path: PathBuf },
    #[error("the folders do not pair up by file name: {}", describe_unpaired(.only_ref, .only_test))]
    Unpaired {
        only_ref: Vec<String>,
        only_test: Vec<String>,
    },
    #[error("`{name}` is {ref_w}x{ref_h} in the reference but {test_w}x{test_h} in the test set")]
    SizeMismatch {
        name: String,
        ref_w: u32,
        ref_h: u32,
        test_w: u32,
        test_h: u32,
    },
    #[error("`{name}` is {ref_channels} in the reference but {test_channels} in the test set")]
    ChannelMismatch {
        name: String,
        ref_channels: &'static str,
        test_channels: &'static str,
    },
    #[error("`{name}` is {width}x{height} after cropping, smaller than the 11x11 SSIM window")]
    TooSmall {
        name: String,
        width: usize,
        height: usize,
    },
    #[error("`{path}`: {reason}")]
    BadFeatures { path: PathBuf, reason: String },
    #[error("the feature matrices have different dimensions: {dim_a} in `{path_a}`, {dim_b} in `{path_b}`")]
    DimensionMismatch {
        path_a: PathBuf,
        dim_a: usize,
        path_b: PathBuf,
        dim_b: usize,
    },
    #[error("`{path}` has {n} sample(s); at least 2 are needed for a covariance")]
    TooFewSamples { path: PathBuf, n: usize },
    #[error("`{path}` holds a non-finite value ({value}) at row {row}, column {column}")]
    NonFinite {
        path: PathBuf,
        row: usize,
        column: usize,
        value: f64,
    },
    #[error(
        "the two inputs must both be image folders, both image files or both .npy feature files"
    )]
    MixedInputs,
    #[error("{0}")]
    Numerical(String),
}

impl MetricError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            MetricError::Unpaired { .. } => {
                "images are paired by identical file names; rename or remove the unpaired files".into()
            }
            MetricError::SizeMismatch { .. } => {
                "paired images must have the same size; resize the test image or compare the right files".into()
            }
            MetricError::ChannelMismatch { .. } => "convert both images to RGB (or both to grayscale)".into(),
            MetricError::TooSmall { .. } => "use larger images or a smaller --crop-border".into(),
            MetricError::Empty { .. } => "heist reads .png, .jpg and .jpeg files".into(),
            MetricError::TooFewSamples { .. } => "compute features for more images".into(),
            MetricError::NonFinite { .. } => "recompute the features; they must all be finite numbers".into(),
            MetricError::MixedInputs => "give two folders, two images or two .npy files".into(),
            _ => return None,
        })
    }
}

fn describe_unpaired(only_ref: &[String], only_test: &[String]) -> String {
    let list = |names: &[String]| {
        let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
        let more = names.len().saturating_sub(5);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut parts = Vec::new();
    if !only_ref.is_empty() {
        parts.push(format!("only in the reference: {}", list(only_ref)));
    }
    if !only_test.is_empty() {
        parts.push(format!("only in the test set: {}", list(only_test)));
    }
    parts.join("; ")
}
