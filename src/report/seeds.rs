//! Rows grouped over seeds: each measured quantity ([`key_columns`]) with
//! its per-seed values, mean and sample standard deviation. Grouped with polars; shared by the
//! report's tables and figures and by `heist diff`'s Welch tests.

use polars::prelude::*;

use crate::run::results::{Row, COLUMNS};

/// The columns that name a quantity measured once per seed: all but `seed` and `value`.
pub fn key_columns() -> impl Iterator<Item = &'static str> {
    COLUMNS
        .into_iter()
        .filter(|c| !matches!(*c, "seed" | "value"))
}

/// One quantity over seeds.
#[derive(Debug, Clone)]
pub struct OverSeeds {
    /// The group's first row (its `seed` and `value` are those of that row).
    pub row: Row,
    /// (seed, value) in row order.
    pub values: Vec<(Option<u64>, f64)>,
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one value.
    pub sd: f64,
}

impl OverSeeds {
    pub fn n(&self) -> usize {
        self.values.len()
    }

    pub fn plain_values(&self) -> Vec<f64> {
        self.values.iter().map(|v| v.1).collect()
    }
}

/// `fraction` as grouped: shortest round-trip text, empty when absent.
fn fraction_text(r: &Row) -> String {
    r.fraction.map_or(String::new(), |f| format!("{f}"))
}

/// Groups `rows` by [`key_columns`], in order of each group's first row.
pub fn over_seeds(rows: &[Row]) -> PolarsResult<Vec<OverSeeds>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let keys: Vec<&str> = key_columns().collect();
    let mut columns: Vec<Column> = keys
        .iter()
        .map(|&c| {
            let name: PlSmallStr = c.into();
            if c == "fraction" {
                Column::new(
                    name,
                    rows.iter().map(fraction_text).collect::<Vec<String>>(),
                )
            } else {
                Column::new(
                    name,
                    rows.iter().map(|r| r.text(c)).collect::<Vec<String>>(),
                )
            }
        })
        .collect();
    columns.push(Column::new(
        "value".into(),
        rows.iter().map(|r| r.value).collect::<Vec<f64>>(),
    ));
    let frame = DataFrame::new_infer_height(columns)?;
    let grouped = frame.group_by_stable(keys)?;
    let mut out = vec![];
    for group in grouped.get_groups().iter() {
        let members: Vec<usize> = match group {
            GroupsIndicator::Idx((_, idx)) => idx.iter().map(|&i| i as usize).collect(),
            GroupsIndicator::Slice([first, len]) => {
                (first as usize..(first + len) as usize).collect()
            }
        };
        let values: Vec<(Option<u64>, f64)> = members
            .iter()
            .map(|&i| (rows[i].seed, rows[i].value))
            .collect();
        let plain: Vec<f64> = values.iter().map(|v| v.1).collect();
        let (mean, sd) = crate::stats::mean_and_sd(&plain);
        out.push(OverSeeds {
            row: rows[members[0]].clone(),
            values,
            mean,
            sd,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::run::results::{ComparedTo, Defenses, Measure, Role, RowCell};
    use crate::sema::program::Augmentation;

    fn row(cell: RowCell, seed: u64, value: f64) -> Row {
        Row {
            experiment: "e".into(),
            setting: "S".into(),
            evaluation: "ev".into(),
            attack: "a".into(),
            cell,
            model: Role::Surrogate,
            test_set: "t".into(),
            compared_to: ComparedTo::Victim,
            metric: Measure::Fid,
            convention: "FID".into(),
            fraction: Some(0.5),
            augmentation: Some(Augmentation::None),
            defense: Defenses::default(),
            seed: Some(seed),
            value,
        }
    }

    #[test]
    fn seeds_of_one_cell_are_one_group_with_mean_and_sample_sd() {
        let rows = vec![
            row(RowCell::B, 1, 1.0),
            row(RowCell::C, 1, 10.0),
            row(RowCell::B, 2, 3.0),
            row(RowCell::C, 2, 10.0),
        ];
        let groups = over_seeds(&rows).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].row.cell, RowCell::B);
        assert_eq!(groups[0].values, vec![(Some(1), 1.0), (Some(2), 3.0)]);
        assert_eq!(groups[0].mean, 2.0);
        assert!((groups[0].sd - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!((groups[1].mean, groups[1].sd), (10.0, 0.0));
    }
}
