//! Reading two groups of ratings from a CSV file.

use std::path::{Path, PathBuf};

/// A problem with the ratings, naming the file, row or column.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("`{path}` has no column `{column}`; its columns are {found}")]
    NoColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("`{path}` row {row}: `{text}` in column `{column}` is not a number")]
    NotANumber {
        path: PathBuf,
        row: usize,
        column: String,
        text: String,
    },
    #[error("`{path}` row {row}: the value in column `{column}` is not finite")]
    NonFinite {
        path: PathBuf,
        row: usize,
        column: String,
    },
    #[error("`{path}` has {count} group(s) in column `{column}`, not two: {found}")]
    GroupCount {
        path: PathBuf,
        column: String,
        count: usize,
        found: String,
    },
    #[error("`{path}` has no group `{group}` in column `{column}`; the groups are {found}")]
    NoGroup {
        path: PathBuf,
        column: String,
        group: String,
        found: String,
    },
    #[error("group `{group}` has {n} rating(s); each group needs at least 2")]
    TooFew { group: String, n: usize },
    #[error("both groups have zero variance: every rating in `{group_a}` and in `{group_b}` is the same")]
    ZeroVariance { group_a: String, group_b: String },
}

impl StatsError {
    pub fn help(&self) -> Option<String> {
        Some(match self {
            StatsError::NoColumn { .. } => "name the columns with --value and --group".into(),
            StatsError::GroupCount { .. } => {
                "choose the two groups to compare with --groups A,B".into()
            }
            StatsError::NoGroup { .. } => "--groups names two values of the group column".into(),
            StatsError::ZeroVariance { .. } => {
                "a t-test needs some spread in at least one group".into()
            }
            _ => return None,
        })
    }
}

/// The ratings of groups A and B (A - B is the difference tested).
#[derive(Debug, Clone)]
pub struct Groups {
    pub names: [String; 2],
    pub values: [Vec<f64>; 2],
}

/// Reads `value_column` grouped by `group_column`. Without `wanted`, the file must hold exactly
/// two groups, taken in order of first appearance.
pub fn read_groups(
    path: &Path,
    value_column: &str,
    group_column: &str,
    wanted: Option<[String; 2]>,
) -> Result<Groups, StatsError> {
    let unreadable = |reason: String| StatsError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| unreadable(e.to_string()))?;
    let headers = reader
        .headers()
        .map_err(|e| unreadable(e.to_string()))?
        .clone();
    let found = || {
        headers
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| StatsError::NoColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
                found: found(),
            })
    };
    let value_at = column(value_column)?;
    let group_at = column(group_column)?;
    let mut order: Vec<String> = Vec::new();
    let mut values: Vec<Vec<f64>> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2; // 1-based, after the header line
        let record = record.map_err(|e| unreadable(e.to_string()))?;
        let group = record.get(group_at).unwrap_or("").to_string();
        let text = record.get(value_at).unwrap_or("");
        let value: f64 = text.parse().map_err(|_| StatsError::NotANumber {
            path: path.to_path_buf(),
            row,
            column: value_column.to_string(),
            text: text.to_string(),
        })?;
        if !value.is_finite() {
            return Err(StatsError::NonFinite {
                path: path.to_path_buf(),
                row,
                column: value_column.to_string(),
            });
        }
        let index = match order.iter().position(|g| *g == group) {
            Some(k) => k,
            None => {
                order.push(group);
                values.push(Vec::new());
                order.len() - 1
            }
        };
        values[index].push(value);
    }
    let listed = order
        .iter()
        .map(|g| format!("`{g}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let pick = |name: &str| -> Result<Vec<f64>, StatsError> {
        order
            .iter()
            .position(|g| g == name)
            .map(|k| values[k].clone())
            .ok_or_else(|| StatsError::NoGroup {
                path: path.to_path_buf(),
                column: group_column.to_string(),
                group: name.to_string(),
                found: listed.clone(),
            })
    };
    let groups = match wanted {
        Some([a, b]) => Groups {
            values: [pick(&a)?, pick(&b)?],
            names: [a, b],
        },
        None if order.len() == 2 => Groups {
            names: [order[0].clone(), order[1].clone()],
            values: [values[0].clone(), values[1].clone()],
        },
        None => {
            return Err(StatsError::GroupCount {
                path: path.to_path_buf(),
                column: group_column.to_string(),
                count: order.len(),
                found: if listed.is_empty() {
                    "none".into()
                } else {
                    listed
                },
            })
        }
    };
    for (name, v) in groups.names.iter().zip(&groups.values) {
        if v.len() < 2 {
            return Err(StatsError::TooFew {
                group: name.clone(),
                n: v.len(),
            });
        }
    }
    let constant = |v: &[f64]| v.iter().all(|x| *x == v[0]);
    if constant(&groups.values[0]) && constant(&groups.values[1]) {
        return Err(StatsError::ZeroVariance {
            group_a: groups.names[0].clone(),
            group_b: groups.names[1].clone(),
        });
    }
    Ok(groups)
}
