//! User studies in a run (Section 5.4): each study's ratings are read once, copied into the
//! run directory (`ratings/<study>.csv`, so that a report needs nothing outside it), and their
//! statistics become rows of the results table (cell `user_study`).

use std::path::Path;

use super::results::{ComparedTo, Defenses, Measure, Role, Row, RowCell};
use crate::sema::program::{Program, StatTest};
use crate::stats::{self, GroupSummary, StatsError};

/// A user study's copy of its ratings and its result rows.
pub struct StudyResult {
    pub name: String,
    /// `group,value` CSV with the study's own column names.
    pub csv: Vec<u8>,
    pub rows: Vec<Row>,
}

/// Reads and tests every user study; the first problem is returned with its study's name.
pub fn user_studies(
    program: &Program,
    base: &Path,
) -> Result<Vec<StudyResult>, (String, StatsError)> {
    let mut out = vec![];
    for (name, study) in &program.user_studies {
        let path = base.join(&study.ratings);
        let groups = stats::read_groups(
            &path,
            &study.value_column,
            &study.group_column,
            study.groups.clone(),
        )
        .map_err(|e| (name.clone(), e))?;
        for (g, values) in groups.names.iter().zip(&groups.values) {
            if values.len() < 2 {
                return Err((
                    name.clone(),
                    StatsError::TooFew {
                        group: g.clone(),
                        n: values.len(),
                    },
                ));
            }
        }
        let mut w = csv::Writer::from_writer(vec![]);
        w.write_record([&study.group_column, &study.value_column])
            .expect("writing to memory");
        for (g, values) in groups.names.iter().zip(&groups.values) {
            for v in values {
                w.write_record([g.clone(), format!("{v}")])
                    .expect("writing to memory");
            }
        }
        let a = GroupSummary::of(&groups.names[0], &groups.values[0]);
        let b = GroupSummary::of(&groups.names[1], &groups.values[1]);
        let row = |model: Role, metric: Measure, convention: String, value: f64| Row {
            experiment: program.experiment.name.clone(),
            setting: study.setting.clone(),
            evaluation: name.clone(),
            attack: String::new(),
            cell: RowCell::UserStudy,
            model,
            test_set: String::new(),
            compared_to: ComparedTo::Nothing,
            metric,
            convention,
            fraction: None,
            augmentation: None,
            defense: Defenses::default(),
            seed: None,
            value,
        };
        let scale = format!("{}..{} ratings", study.scale[0], study.scale[1]);
        let mut rows = vec![];
        for s in [&a, &b] {
            let group = || Role::Group(s.name.clone());
            rows.push(row(group(), Measure::Ratings, scale.clone(), s.n as f64));
            rows.push(row(group(), Measure::RatingMean, scale.clone(), s.mean));
            rows.push(row(
                group(),
                Measure::RatingSd,
                format!("{scale}, sample sd"),
                s.sd,
            ));
        }
        let versus = format!("{} - {}", a.name, b.name);
        for test in &study.tests {
            match test {
                StatTest::Welch => {
                    let w = stats::welch(&a, &b);
                    rows.push(row(
                        Role::Groups,
                        Measure::WelchT,
                        format!("Welch, {versus}"),
                        w.t,
                    ));
                    rows.push(row(
                        Role::Groups,
                        Measure::WelchDf,
                        format!("Welch, {versus}"),
                        w.df,
                    ));
                    rows.push(row(
                        Role::Groups,
                        Measure::WelchP,
                        format!("Welch, {versus}"),
                        w.p,
                    ));
                    rows.push(row(
                        Role::Groups,
                        Measure::CohenD,
                        format!("pooled sd, {versus}"),
                        w.cohen_d,
                    ));
                }
                StatTest::Tost => {
                    let t = stats::tost(&a, &b, study.bound.to_stats(), study.alpha);
                    let convention = format!("TOST ±{:.3} d, {versus}", t.bound_d);
                    rows.push(row(Role::Groups, Measure::TostP, convention.clone(), t.p));
                    rows.push(row(
                        Role::Groups,
                        Measure::TostBoundRaw,
                        convention,
                        t.high_raw,
                    ));
                }
            }
        }
        out.push(StudyResult {
            name: name.clone(),
            csv: w.into_inner().expect("writing to memory"),
            rows,
        });
    }
    Ok(out)
}
