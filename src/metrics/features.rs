//! Feature matrices (N samples x D features): read from `.npy` (float32 or float64, C order)
//! and validated (finite, at least two samples).

use std::path::{Path, PathBuf};

use super::MetricError;

/// N x D features, row-major, in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
    /// Where the features came from, for messages.
    pub source: PathBuf,
}

impl FeatureMatrix {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Refuses matrices that cannot give a covariance: fewer than two rows, non-finite values.
    pub fn validate(&self) -> Result<(), MetricError> {
        if self.rows < 2 {
            return Err(MetricError::TooFewSamples {
                path: self.source.clone(),
                n: self.rows,
            });
        }
        if let Some(i) = self.data.iter().position(|v| !v.is_finite()) {
            return Err(MetricError::NonFinite {
                path: self.source.clone(),
                row: i / self.cols,
                column: i % self.cols,
                value: self.data[i],
            });
        }
        Ok(())
    }
}

/// Reads a 2-D `.npy` array of float32 or float64.
pub fn read_npy(path: &Path) -> Result<FeatureMatrix, MetricError> {
    let bad = |reason: &str| MetricError::BadFeatures {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let bytes = std::fs::read(path).map_err(|e| MetricError::Unreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no NUMPY magic)"));
    }
    let major = bytes[6];
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unsupported .npy version")),
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated .npy header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))?;
        let rest = header[at + key.len() + 2..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or_else(|| bad("no dtype in the .npy header"))?;
    let element = if descr.starts_with("'<f8'") {
        8
    } else if descr.starts_with("'<f4'") {
        4
    } else {
        return Err(bad(&format!(
            "dtype {} is not float32 or float64",
            descr.split(',').next().unwrap_or(descr)
        )));
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray",
        ));
    }
    let shape_text = field("shape").ok_or_else(|| bad("no shape in the .npy header"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("malformed shape"))?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("malformed shape"))?;
    let [rows, cols] = dims[..] else {
        return Err(bad(&format!(
            "expected a 2-D matrix (N x D), found shape {dims:?}"
        )));
    };
    let body = &bytes[start + header_len..];
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(element))
        .ok_or_else(|| bad("shape too large"))?;
    if body.len() < expected {
        return Err(bad(&format!(
            "truncated: {} bytes of data, {expected} expected",
            body.len()
        )));
    }
    let data: Vec<f64> = if element == 8 {
        body[..expected]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect()
    } else {
        body[..expected]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
            .collect()
    };
    Ok(FeatureMatrix {
        rows,
        cols,
        data,
        source: path.to_path_buf(),
    })
}

/// Writes a float64 `.npy` (used by tests and to save extracted features).
pub fn write_npy(path: &Path, m: &FeatureMatrix) -> std::io::Result<()> {
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}",
        m.rows, m.cols
    );
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in &m.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)
}
