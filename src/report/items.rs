//! Each report item (`cells_table(...)`, `fraction_plot(...)`, ...) becomes sections of the
//! document, from the run's results grouped over seeds. An item whose data the run lacks is an
//! error that names the item and what is missing.

use std::collections::BTreeSet;

use super::document::{Content, Entry, Header, Section, Table};
use super::figures::{self, Series};
use super::seeds::OverSeeds;
use super::{describe, ReportError};
use crate::plan::{data_name, test_sets};
use crate::run::read::RunRecord;
use crate::run::results::{Measure, Role, Row, RowCell};
use crate::sema::program::{
    Augmentation, Cell, DataRef, Evaluation, GroundTruth, Program, ReportItem, UserStudy,
};
use crate::stats;

pub struct Cx<'a> {
    pub run: &'a RunRecord,
    pub program: &'a Program,
    pub groups: &'a [OverSeeds],
}

/// The items of a report when the experiment declares none: for every evaluation, a cells
/// table per metric, a fraction plot per metric when it sweeps fractions, an augmentation
/// table when it sweeps augmentations, samples; a defence table for evaluations of defended
/// victims; a cost table; every user study.
pub fn default_items(program: &Program, rows: &[Row]) -> Vec<ReportItem> {
    let mut items = vec![];
    for (name, e) in &program.evaluations {
        let fractions: BTreeSet<u64> = rows
            .iter()
            .filter(|r| &r.evaluation == name && r.model == Role::Surrogate)
            .filter_map(|r| r.fraction.map(f64::to_bits))
            .collect();
        let augmented = e
            .attacks
            .iter()
            .any(|a| program.attacks[a].augmentations.len() > 1);
        for m in &e.metrics {
            let metric = m.name().to_string();
            items.push(ReportItem::CellsTable {
                evaluation: name.clone(),
                metric: metric.clone(),
                fraction: None,
            });
            let cells: Vec<Cell> = e
                .cells
                .iter()
                .copied()
                .filter(|c| matches!(c, Cell::B | Cell::C))
                .collect();
            if fractions.len() > 1 && !cells.is_empty() {
                items.push(ReportItem::FractionPlot {
                    evaluation: name.clone(),
                    metric: metric.clone(),
                    cells,
                });
            }
            if augmented && e.cells.contains(&Cell::C) {
                if let Some(&smallest) = fractions.iter().next() {
                    items.push(ReportItem::AugmentationTable {
                        evaluation: name.clone(),
                        metric,
                        fraction: f64::from_bits(smallest),
                        cell: Cell::C,
                    });
                }
            }
        }
    }
    for (name, e) in &program.evaluations {
        let defended = e.attacks.iter().any(|a| {
            !program.victims[&program.attacks[a].victim]
                .defenses
                .is_empty()
        });
        if defended {
            items.push(ReportItem::DefenseTable {
                evaluation: name.clone(),
            });
        }
    }
    if !program.attacks.is_empty() {
        items.push(ReportItem::CostTable {
            attacks: program.attacks.keys().cloned().collect(),
        });
    }
    for name in program.user_studies.keys() {
        items.push(ReportItem::LikertHistogram {
            user_study: name.clone(),
        });
    }
    for name in program.evaluations.keys() {
        items.push(ReportItem::Samples {
            evaluation: name.clone(),
        });
    }
    items
}

pub fn build(cx: &Cx, item: &ReportItem) -> Result<Vec<Section>, ReportError> {
    let missing = |missing: String, help: &str| ReportError::Missing {
        item: describe(item),
        missing,
        help: help.to_string(),
    };
    let evaluation = |name: &str| {
        cx.program.evaluations.get(name).ok_or_else(|| {
            missing(
                format!("the run's experiment has no evaluation `{name}`"),
                "report a run of the experiment that declares it",
            )
        })
    };
    match item {
        ReportItem::CellsTable {
            evaluation: name,
            metric,
            fraction,
        } => cells_table(cx, item, name, evaluation(name)?, metric, *fraction).map(|s| vec![s]),
        ReportItem::AugmentationTable {
            evaluation: name,
            metric,
            fraction,
            cell,
        } => augmentation_table(cx, item, name, evaluation(name)?, metric, *fraction, *cell)
            .map(|s| vec![s]),
        ReportItem::FractionPlot {
            evaluation: name,
            metric,
            cells,
        } => fraction_plot(cx, item, name, evaluation(name)?, metric, cells).map(|s| vec![s]),
        ReportItem::CostTable { attacks } => cost_table(cx, item, attacks).map(|s| vec![s]),
        ReportItem::Samples { evaluation: name } => samples(cx, item, name, evaluation(name)?),
        ReportItem::LikertHistogram { user_study } => {
            let study = cx.program.user_studies.get(user_study).ok_or_else(|| {
                missing(
                    format!("the run's experiment has no user study `{user_study}`"),
                    "report a run of the experiment that declares it",
                )
            })?;
            likert(cx, item, user_study, study).map(|s| vec![s])
        }
        ReportItem::DefenseTable { evaluation: name } => {
            evaluation(name)?;
            defense_table(cx, item, name).map(|s| vec![s])
        }
        ReportItem::ComparisonTable { comparison } => Err(missing(
            format!("the run has no results of the dataless comparison `{comparison}`"),
            "dataless comparisons are not run by this heist yet; leave the item out of the report",
        )),
    }
}

fn missing(item: &ReportItem, what: String, help: impl Into<String>) -> ReportError {
    ReportError::Missing {
        item: describe(item),
        missing: what,
        help: help.into(),
    }
}

/// How a table names a data set: its label, with the part (`.test`) if any.
fn label(program: &Program, data: &DataRef) -> String {
    let base = program
        .datasets
        .get(&data.dataset)
        .map_or(data.dataset.clone(), |d| d.label.clone());
    match &data.part {
        Some(p) => format!("{base} ({p})"),
        None => base,
    }
}

/// Decimal places for a table's values: three significant digits of its smallest number,
/// at least two places.
fn digits(values: impl Iterator<Item = f64>) -> usize {
    let smallest = values
        .map(f64::abs)
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return 2;
    }
    (2 - smallest.log10().floor() as i64).clamp(2, 6) as usize
}

fn percent(f: f64) -> String {
    format!("{}%", (f * 1000.0).round() / 10.0)
}

fn value(g: &OverSeeds, label: Option<&str>, digits: usize) -> Entry {
    Entry::Value {
        label: label.map(str::to_string),
        mean: g.mean,
        sd: (g.n() > 1).then_some(g.sd),
        digits,
        change: None,
    }
}

/// An item's metric name (checked by `heist check`) as the rows' measure.
fn measure_of(item: &ReportItem, metric: &str) -> Result<Measure, ReportError> {
    Measure::parse(metric).ok_or_else(|| {
        missing(
            item,
            format!("`{metric}` is not a metric heist measures"),
            "name one of the evaluation's metrics (fid, kid, ssim, psnr)",
        )
    })
}

/// `FD-random_conv (lower is better)`, `PSNR (Y channel, crop 4), dB (higher is better)`.
fn metric_phrase(convention: &str, metric: Measure) -> String {
    let mut s = convention.to_string();
    if let Some(u) = metric.unit() {
        s.push_str(&format!(", {u}"));
    }
    if let Some(b) = metric.better() {
        s.push_str(&format!(" ({})", b.phrase()));
    }
    s
}

fn seeds_phrase(groups: &[&OverSeeds]) -> String {
    let seeds: BTreeSet<u64> = groups
        .iter()
        .flat_map(|g| g.values.iter().filter_map(|v| v.0))
        .collect();
    let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
    match list.len() {
        0 => "one run".into(),
        1 => format!("one seed ({})", list[0]),
        n => format!("mean ± sd over {n} seeds ({})", list.join(", ")),
    }
}

/// The fraction a cells table shows: asked, or the largest measured.
fn surrogate_setting(
    metric_groups: &[&OverSeeds],
    fraction: Option<f64>,
) -> Option<(f64, Augmentation)> {
    let surrogates: Vec<&&OverSeeds> = metric_groups
        .iter()
        .filter(|g| g.row.model == Role::Surrogate)
        .collect();
    let fraction = fraction.or_else(|| {
        surrogates
            .iter()
            .filter_map(|g| g.row.fraction)
            .fold(None, |m: Option<f64>, f| Some(m.map_or(f, |m| m.max(f))))
    })?;
    let at: Vec<&&&OverSeeds> = surrogates
        .iter()
        .filter(|g| g.row.fraction == Some(fraction))
        .collect();
    let augmentation = if at
        .iter()
        .any(|g| g.row.augmentation == Some(Augmentation::None))
    {
        Augmentation::None
    } else {
        at.first()?.row.augmentation.clone()?
    };
    Some((fraction, augmentation))
}

/// Tables 3-5: output distribution x test set against the compared distribution.
fn cells_table(
    cx: &Cx,
    item: &ReportItem,
    name: &str,
    e: &Evaluation,
    metric: &str,
    fraction: Option<f64>,
) -> Result<Section, ReportError> {
    let measure = measure_of(item, metric)?;
    let of_metric: Vec<&OverSeeds> = cx
        .groups
        .iter()
        .filter(|g| g.row.evaluation == name && g.row.metric == measure)
        .filter(|g| g.row.cell.is_table_cell())
        .collect();
    if of_metric.is_empty() {
        return Err(missing(
            item,
            format!("the run has no `{metric}` results for the evaluation `{name}`"),
            "rerun the experiment until its evaluation jobs finish (`heist run` resumes from the cache)",
        ));
    }
    let convention = of_metric[0].row.convention.clone();
    let (fraction, augmentation) = match surrogate_setting(&of_metric, fraction) {
        Some(s) => s,
        None if e.attacks.is_empty() => (1.0, Augmentation::None),
        None => {
            return Err(missing(
                item,
                format!("the run has no surrogate results for `{name}`"),
                "rerun the experiment until its surrogates are evaluated",
            ))
        }
    };
    let tests = test_sets(e);
    let ground_truth = match &e.ground_truth {
        GroundTruth::StyleSet { data } => Some(label(cx.program, data)),
        GroundTruth::HighResolution => Some("High-resolution originals".to_string()),
        GroundTruth::None => None,
    };
    let find = |model: Role, attack: &str, cell: RowCell, test: &DataRef| -> Option<&OverSeeds> {
        of_metric.iter().copied().find(|g| {
            g.row.attack == attack
                && g.row.cell == cell
                && g.row.test_set == data_name(test)
                && (model == Role::Victim
                    || (g.row.fraction == Some(fraction)
                        && g.row.augmentation.as_ref() == Some(&augmentation)))
                && g.row.model == model
        })
    };
    let shown: Vec<&OverSeeds> = {
        let mut v = vec![];
        for t in &tests {
            v.extend(find(Role::Victim, "", RowCell::A, t));
            for a in &e.attacks {
                v.extend(find(Role::Surrogate, a, RowCell::B, t));
                v.extend(find(Role::Surrogate, a, RowCell::C, t));
            }
        }
        v
    };
    let digits = digits(shown.iter().map(|g| g.mean));
    // A declared cell must be in the run; an undeclared one is the paper's N/A.
    let entry = |g: Option<&OverSeeds>,
                 cell: Cell,
                 first: bool,
                 what: &str|
     -> Result<Entry, ReportError> {
        if !e.cells.contains(&cell) {
            return Ok(Entry::NotApplicable);
        }
        let label = first.then(|| RowCell::from(cell).name());
        g.map(|g| value(g, label, digits)).ok_or_else(|| {
            missing(
                item,
                format!("the run has no result for cell ({}) of {what}", RowCell::from(cell).name()),
                "rerun the experiment until its evaluation jobs finish (`heist run` resumes from the cache)",
            )
        })
    };
    let mut rows = vec![];
    for (i, t) in tests.iter().enumerate() {
        let mut row = vec![
            Entry::Text("V output".into()),
            Entry::Text(label(cx.program, t)),
        ];
        row.push(Entry::NotApplicable);
        if ground_truth.is_some() {
            row.push(entry(
                find(Role::Victim, "", RowCell::A, t),
                Cell::A,
                i == 0,
                &format!("the victim on `{}`", data_name(t)),
            )?);
        }
        rows.push(row);
    }
    for a in &e.attacks {
        let who = if e.attacks.len() > 1 {
            format!("A output ({a})")
        } else {
            "A output".to_string()
        };
        for (i, t) in tests.iter().enumerate() {
            let what = format!(
                "`{a}` at {} ({augmentation}) on `{}`",
                percent(fraction),
                data_name(t)
            );
            let mut row = vec![Entry::Text(who.clone()), Entry::Text(label(cx.program, t))];
            row.push(entry(
                find(Role::Surrogate, a, RowCell::B, t),
                Cell::B,
                i == 0,
                &what,
            )?);
            if ground_truth.is_some() {
                row.push(entry(
                    find(Role::Surrogate, a, RowCell::C, t),
                    Cell::C,
                    i == 0,
                    &what,
                )?);
            }
            rows.push(row);
        }
    }
    let mut compared = vec![Header::one("V output")];
    compared.extend(ground_truth.iter().map(Header::one));
    let mut header = vec![vec![
        Header::one("Output distribution"),
        Header::one("Test set"),
        Header {
            text: "Compared distribution".into(),
            span: compared.len(),
        },
    ]];
    let mut second = vec![Header::one(""), Header::one("")];
    second.extend(compared);
    header.push(second);
    let surrogate_groups: Vec<&OverSeeds> = shown
        .iter()
        .copied()
        .filter(|g| g.row.model == Role::Surrogate)
        .collect();
    let aug = if augmentation == Augmentation::None {
        "no augmentation".to_string()
    } else {
        format!("augmentation {augmentation}")
    };
    Ok(Section {
        id: format!("cells-{name}-{metric}"),
        title: format!("{}: {convention}", e.setting),
        caption: format!(
            "{} of F_V and F_A for {}. Surrogates trained on {} of the attack data, {aug}; {}.",
            metric_phrase(&convention, measure),
            e.setting,
            percent(fraction),
            seeds_phrase(&surrogate_groups)
        ),
        content: Content::Table(Table {
            header,
            rows,
            label_columns: 2,
        }),
        notes: vec![
            "(A) victim output vs ground truth; (B) surrogate output vs victim output; (C) surrogate output vs ground truth. N/A: no such comparison. Victim rows are one trained victim.".into(),
        ],
    })
}

/// Table 6: augmentation x test set at one fraction, relative change to no augmentation.
fn augmentation_table(
    cx: &Cx,
    item: &ReportItem,
    name: &str,
    e: &Evaluation,
    metric: &str,
    fraction: f64,
    cell: Cell,
) -> Result<Section, ReportError> {
    let measure = measure_of(item, metric)?;
    let cell = RowCell::from(cell);
    let at: Vec<&OverSeeds> = cx
        .groups
        .iter()
        .filter(|g| {
            g.row.evaluation == name
                && g.row.metric == measure
                && g.row.cell == cell
                && g.row.model == Role::Surrogate
                && g.row.fraction == Some(fraction)
        })
        .collect();
    if at.is_empty() {
        return Err(missing(
            item,
            format!(
                "the run has no `{metric}` results of cell ({}) at {} for `{name}`",
                cell.name(),
                percent(fraction)
            ),
            "report a fraction the attack sweeps, or rerun the experiment until its evaluations finish",
        ));
    }
    let convention = at[0].row.convention.clone();
    let mut augmentations: Vec<&Augmentation> = vec![];
    for a in &e.attacks {
        for aug in &cx.program.attacks[a].augmentations {
            if *aug != Augmentation::None && !augmentations.contains(&aug) {
                augmentations.push(aug);
            }
        }
    }
    let digits = digits(at.iter().map(|g| g.mean));
    let mut rows = vec![];
    for a in &e.attacks {
        for t in test_sets(e) {
            let find = |aug: &Augmentation| {
                at.iter().copied().find(|g| {
                    g.row.attack == *a
                        && g.row.test_set == data_name(&t)
                        && g.row.augmentation.as_ref() == Some(aug)
                })
            };
            let baseline = find(&Augmentation::None).ok_or_else(|| {
                missing(
                    item,
                    format!(
                        "the run has no baseline (no augmentation) for `{a}` on `{}`",
                        data_name(&t)
                    ),
                    "the attack must sweep `none` among its augmentations for a relative change",
                )
            })?;
            let task = if e.attacks.len() > 1 {
                format!("{} ({a})", e.setting)
            } else {
                e.setting.clone()
            };
            let mut row = vec![
                Entry::Text(task),
                Entry::Text(label(cx.program, &t)),
                value(baseline, None, digits),
            ];
            for aug in &augmentations {
                row.push(match find(aug) {
                    Some(g) => {
                        let mut v = value(g, None, digits);
                        if let Entry::Value { change, .. } = &mut v {
                            *change = (baseline.mean != 0.0)
                                .then(|| (g.mean - baseline.mean) / baseline.mean.abs());
                        }
                        v
                    }
                    None => Entry::Dash,
                });
            }
            rows.push(row);
        }
    }
    let mut header = vec![vec![
        Header::one("Task"),
        Header::one("Test set"),
        Header::one("Baseline"),
        Header {
            text: "Augmentation".into(),
            span: augmentations.len(),
        },
    ]];
    let mut second = vec![Header::one(""), Header::one(""), Header::one("none")];
    second.extend(augmentations.iter().map(|a| Header::one(a.to_string())));
    header.push(second);
    Ok(Section {
        id: format!("augmentations-{name}-{metric}"),
        title: format!("{}: data augmentation at {}", e.setting, percent(fraction)),
        caption: format!(
            "Impact of data augmentation on F_A trained with {} of the attack data: {} for cell ({}); {}; in brackets the relative change to the baseline.",
            percent(fraction),
            metric_phrase(&convention, measure),
            cell.name(),
            seeds_phrase(&at)
        ),
        content: Content::Table(Table {
            header,
            rows,
            label_columns: 2,
        }),
        notes: vec!["–: not measured in this run.".into()],
    })
}

/// Figure 7: the metric against the fraction of attack data for the chosen cells.
fn fraction_plot(
    cx: &Cx,
    item: &ReportItem,
    name: &str,
    e: &Evaluation,
    metric: &str,
    cells: &[Cell],
) -> Result<Section, ReportError> {
    let measure = measure_of(item, metric)?;
    let mut series = vec![];
    let mut used: Vec<&OverSeeds> = vec![];
    let mut convention = String::new();
    for a in &e.attacks {
        for &cell in cells {
            for t in test_sets(e) {
                let mut points: Vec<&OverSeeds> = cx
                    .groups
                    .iter()
                    .filter(|g| {
                        g.row.evaluation == name
                            && g.row.metric == measure
                            && g.row.attack == *a
                            && g.row.cell == RowCell::from(cell)
                            && g.row.test_set == data_name(&t)
                            && g.row.augmentation == Some(Augmentation::None)
                            && g.row.fraction.is_some()
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                // Fractions come from the experiment; total_cmp orders even a hand-edited NaN.
                points.sort_by(|x, y| {
                    let f = |g: &OverSeeds| g.row.fraction.unwrap_or(0.0);
                    f(x).total_cmp(&f(y))
                });
                convention = points[0].row.convention.clone();
                let compared = if cell == Cell::B {
                    "vs V output"
                } else {
                    "vs ground truth"
                };
                let attack = if e.attacks.len() > 1 {
                    format!(", {a}")
                } else {
                    String::new()
                };
                series.push(Series {
                    label: format!(
                        "({}) {compared}, {}{attack}",
                        RowCell::from(cell).name(),
                        label(cx.program, &t)
                    ),
                    points: points
                        .iter()
                        .map(|g| (g.row.fraction.unwrap_or(0.0) * 100.0, g.mean, g.sd))
                        .collect(),
                });
                used.extend(points);
            }
        }
    }
    if series.is_empty() {
        let cells: Vec<&str> = cells.iter().map(|c| RowCell::from(*c).name()).collect();
        return Err(missing(
            item,
            format!(
                "the run has no unaugmented surrogate results of `{metric}` for cells {} of `{name}`",
                cells.join(", ")
            ),
            "rerun the experiment until its evaluations finish, or plot a metric it measures",
        ));
    }
    if !series
        .iter()
        .flat_map(|s| &s.points)
        .any(|p| p.1.is_finite())
    {
        return Err(missing(
            item,
            format!("every `{metric}` value of `{name}` to plot is NaN or infinite"),
            "a model diverged (see the training warnings in logs/run.log) or results.csv was edited; rerun the experiment",
        ));
    }
    let y_label = metric_phrase(&convention, measure);
    let figure = figures::fraction_plot(&e.setting, &y_label, &series).map_err(|reason| {
        ReportError::Figure {
            item: describe(item),
            reason,
        }
    })?;
    Ok(Section {
        id: format!("fractions-{name}-{metric}"),
        title: format!("{}: {convention} against the amount of attack data", e.setting),
        caption: format!(
            "Impact of the amount of data on the attack ({}): {y_label} of F_A against the fraction of the attack data, no augmentation; {}, the band is ±1 sd.",
            e.setting,
            seeds_phrase(&used)
        ),
        content: Content::Figure(figure),
        notes: vec![],
    })
}

/// Section 8: queries sent to each victim and their price.
fn cost_table(cx: &Cx, item: &ReportItem, attacks: &[String]) -> Result<Section, ReportError> {
    let mut rows = vec![];
    for a in attacks {
        let Some(attack) = cx.program.attacks.get(a) else {
            return Err(missing(
                item,
                format!("the run's experiment has no attack `{a}`"),
                "report a run of the experiment that declares it",
            ));
        };
        let cost: Vec<&Row> = cx
            .run
            .rows
            .iter()
            .filter(|r| r.cell == RowCell::Cost && r.attack == *a)
            .collect();
        if cost.is_empty() {
            return Err(missing(
                item,
                format!("the run has no query accounting for `{a}`"),
                "rerun the experiment until the attack's query jobs finish",
            ));
        }
        let mut fractions: Vec<f64> = cost.iter().filter_map(|r| r.fraction).collect();
        fractions.sort_by(f64::total_cmp);
        fractions.dedup();
        let sum = |metric: Measure, f: Option<f64>| -> (f64, usize) {
            let picked: Vec<f64> = cost
                .iter()
                .filter(|r| r.metric == metric && (f.is_none() || r.fraction == f))
                .map(|r| r.value)
                .collect();
            (picked.iter().sum(), picked.len())
        };
        for f in &fractions {
            let (queries, n) = sum(Measure::Queries, Some(*f));
            let (usd, _) = sum(Measure::CostUsd, Some(*f));
            rows.push(vec![
                Entry::Text(a.clone()),
                Entry::Text(attack.victim.clone()),
                Entry::Text(percent(*f)),
                Entry::Text(n.to_string()),
                Entry::Text(format!("{:.0}", queries / n.max(1) as f64)),
                Entry::Text(format!("${:.2}", usd / n.max(1) as f64)),
                Entry::Text(format!("{queries:.0}")),
                Entry::Text(format!("${usd:.2}")),
            ]);
        }
        let (queries, n) = sum(Measure::Queries, None);
        let (usd, _) = sum(Measure::CostUsd, None);
        rows.push(vec![
            Entry::Text(a.clone()),
            Entry::Text(attack.victim.clone()),
            Entry::Text("all".into()),
            Entry::Text(n.to_string()),
            Entry::Text(String::new()),
            Entry::Text(String::new()),
            Entry::Text(format!("{queries:.0}")),
            Entry::Text(format!("${usd:.2}")),
        ]);
    }
    let price: Vec<String> = attacks
        .iter()
        .map(|a| format!("{a} ${}", cx.program.attacks[a].price_usd_per_query))
        .collect();
    Ok(Section {
        id: "cost".into(),
        title: "Query cost".into(),
        caption: format!(
            "Queries sent to the victims and their price per attack (Section 8), at the declared price per query: {}.",
            price.join(", ")
        ),
        content: Content::Table(Table {
            header: vec![[
                "Attack",
                "Victim",
                "Data",
                "Surrogates",
                "Queries per surrogate",
                "USD per surrogate",
                "Queries",
                "USD",
            ]
            .map(Header::one)
            .to_vec()],
            rows,
            label_columns: 3,
        }),
        notes: vec!["One query set per surrogate (fraction, augmentation, seed); `all` sums every surrogate of the attack.".into()],
    })
}

/// Section 7: the results of defended victims and of the watermark/fingerprint cells.
fn defense_table(cx: &Cx, item: &ReportItem, name: &str) -> Result<Section, ReportError> {
    let defended: Vec<&OverSeeds> = cx
        .groups
        .iter()
        .filter(|g| g.row.evaluation == name && g.row.cell != RowCell::Cost)
        .filter(|g| !g.row.defense.is_none() || g.row.cell.is_defense())
        .collect();
    if defended.is_empty() {
        return Err(missing(
            item,
            format!("the run has no results of defended victims or watermark/fingerprint cells for `{name}`"),
            "declare `defenses = [...]` on the victim and the `watermark` / `fingerprint` cells in the evaluation, and rerun",
        ));
    }
    let digits = digits(defended.iter().map(|g| g.mean));
    let rows = defended
        .iter()
        .map(|g| {
            vec![
                Entry::Text(g.row.defense.to_string()),
                Entry::Text(g.row.cell.name().into()),
                Entry::Text(g.row.model.name().into()),
                Entry::Text(g.row.test_set.clone()),
                Entry::Text(g.row.convention.clone()),
                value(g, None, digits),
            ]
        })
        .collect();
    Ok(Section {
        id: format!("defenses-{name}"),
        title: format!("{}: defences", cx.program.evaluations[name].setting),
        caption: format!(
            "Defences of the victim (Section 7): the attack's cells against the defended victim, and whether its marks transfer to the surrogate (watermark: share of watermarked queries the surrogate answers like the trigger; fingerprint: share of the key's bits read back, 0.5 is chance); {}.",
            seeds_phrase(&defended)
        ),
        content: Content::Table(Table {
            header: vec![["Defence", "Cell", "Model", "Test set", "Metric", "Value"]
                .map(Header::one)
                .to_vec()],
            rows,
            label_columns: 4,
        }),
        notes: vec![],
    })
}

/// Input | victim | surrogate grids of the run's `samples/`.
fn samples(
    cx: &Cx,
    item: &ReportItem,
    name: &str,
    e: &Evaluation,
) -> Result<Vec<Section>, ReportError> {
    let mut sections = vec![];
    for a in &e.attacks {
        let relative = format!("samples/{name}-{a}.png");
        if !cx.run.manifest.samples.contains(&relative) {
            continue;
        }
        let path = cx.run.dir.join(&relative);
        let png = std::fs::read(&path).map_err(|err| {
            missing(
                item,
                format!("cannot read {}: {err}", path.display()),
                "the run directory is incomplete; rerun the experiment (cached jobs are reused) to write it again",
            )
        })?;
        sections.push(Section {
            id: format!("samples-{name}-{a}"),
            title: format!("{}: samples of {a}", e.setting),
            caption: format!(
                "Left to right: input, victim output (F_V), surrogate output (F_A) on {}; the surrogate of the largest fraction, no augmentation, first seed.",
                label(cx.program, &e.victim_test)
            ),
            content: Content::Image {
                png,
                alt: format!("{}: input, victim and surrogate outputs", e.setting),
            },
            notes: vec![],
        });
    }
    if sections.is_empty() {
        return Err(missing(
            item,
            format!("the run has no sample grids of `{name}`"),
            "rerun the experiment until its output jobs finish",
        ));
    }
    Ok(sections)
}

/// Figure 6: rating histograms and the Welch/TOST statistics, from the ratings the run copied.
fn likert(
    cx: &Cx,
    item: &ReportItem,
    name: &str,
    study: &UserStudy,
) -> Result<Section, ReportError> {
    let path = cx.run.dir.join("ratings").join(format!("{name}.csv"));
    if !path.exists() {
        return Err(missing(
            item,
            format!("the run has no ratings of `{name}` ({} is missing)", path.display()),
            "rerun the experiment with this heist: runs copy each user study's ratings into ratings/",
        ));
    }
    let groups = stats::read_groups(
        &path,
        &study.value_column,
        &study.group_column,
        study.groups.clone(),
    )
    .map_err(|e| {
        missing(
            item,
            e.to_string(),
            "the run directory's ratings were changed; rerun the experiment",
        )
    })?;
    let a = stats::GroupSummary::of(&groups.names[0], &groups.values[0]);
    let b = stats::GroupSummary::of(&groups.names[1], &groups.values[1]);
    let figure = figures::likert_histogram(
        &study.setting,
        study.scale,
        [
            (groups.names[0].as_str(), groups.values[0].as_slice()),
            (groups.names[1].as_str(), groups.values[1].as_slice()),
        ],
    )
    .map_err(|reason| ReportError::Figure {
        item: describe(item),
        reason,
    })?;
    let mut notes = vec![format!(
        "{}: n = {}, mean = {:.2}, sd = {:.2}. {}: n = {}, mean = {:.2}, sd = {:.2}.",
        a.name, a.n, a.mean, a.sd, b.name, b.n, b.mean, b.sd
    )];
    for test in &study.tests {
        notes.push(statistics_line(*test, study, &a, &b));
    }
    Ok(Section {
        id: format!("likert-{name}"),
        title: format!("{}: user study", study.setting),
        caption: format!(
            "Scores assigned by the participants ({}): {} vs {}; dashed vertical lines at the means; differences are {} - {}.",
            study.setting, a.name, b.name, a.name, b.name
        ),
        content: Content::Figure(figure),
        notes,
    })
}

/// `Welch's t-test: t = 2.01, df = 241.3, p = 0.045; Cohen's d = 0.18.`
pub fn statistics_line(
    test: crate::sema::program::StatTest,
    study: &UserStudy,
    a: &stats::GroupSummary,
    b: &stats::GroupSummary,
) -> String {
    use crate::sema::program::StatTest;
    match test {
        StatTest::Welch => {
            let w = stats::welch(a, b);
            let verdict = if w.p < study.alpha {
                format!("the difference is significant at alpha = {}", study.alpha)
            } else {
                format!("no significant difference at alpha = {}", study.alpha)
            };
            format!(
                "Welch's t-test: t = {:.3}, df = {:.1}, p = {:.4}; Cohen's d = {:.3}; {verdict}.",
                w.t, w.df, w.p, w.cohen_d
            )
        }
        StatTest::Tost => {
            let t = stats::tost(a, b, study.bound.to_stats(), study.alpha);
            let verdict = if t.equivalent {
                "equivalent within the bounds"
            } else {
                "equivalence not shown"
            };
            format!(
                "TOST: bounds ±{:.3} in Cohen's d = [{:.3}, {:.3}] in rating points; p = {:.4} (lower {:.4}, upper {:.4}) at alpha = {}: {verdict}.",
                t.bound_d, t.low_raw, t.high_raw, t.p, t.p_lower, t.p_upper, t.alpha
            )
        }
    }
}
