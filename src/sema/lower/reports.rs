//! `report NAME { formats = [...]; contents = [cells_table(...), fraction_plot(...), ...] }`.

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{Augmentation, Cell, Evaluation, Format, Program, Report, ReportItem};
use crate::sema::values::{format_number, Cx};
use crate::syntax::ast::{Declaration, Ident, Kind, Value, ValueKind};

use super::untyped;

const ITEMS: &str = "`cells_table`, `augmentation_table`, `fraction_plot`, `likert_histogram`, `defense_table`, `cost_table`, `samples`, `comparison_table`";

pub fn report(cx: &mut Cx, d: &Declaration, program: &Program) -> Option<Report> {
    untyped(cx, d);
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the report `{}`", d.name.text),
    );
    let formats = f
        .get("formats")
        .and_then(|v| {
            let items = cx.list(&v, "`formats`")?;
            let formats: Vec<Option<Format>> = items
                .iter()
                .map(|i| {
                    cx.word(
                        i,
                        "format",
                        &[
                            ("md", Format::Md),
                            ("html", Format::Html),
                            ("tex", Format::Tex),
                        ],
                    )
                })
                .collect();
            formats.into_iter().collect()
        })
        .unwrap_or_else(|| vec![Format::Md, Format::Html]);
    let contents = f.required(cx, "contents", "contents = [cells_table(monet_cells)]");
    let items = contents.and_then(|v| {
        let items = cx.list(&v, "`contents`")?;
        let lowered: Vec<Option<ReportItem>> = items.iter().map(|i| item(cx, i, program)).collect();
        lowered.into_iter().collect()
    });
    f.finish(cx);
    Some(Report {
        formats,
        items: items?,
    })
}

fn item(cx: &mut Cx, value: &Value, program: &Program) -> Option<ReportItem> {
    let resolved = cx.resolve(value)?;
    let (name, args) = match &resolved.kind {
        ValueKind::Call { name, args } => (name.clone(), args.clone()),
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "a report item is a call such as `cells_table(NAME)`, found {}",
                        resolved.describe()
                    ),
                )
                .at(resolved.span, "not a report item")
                .help(format!("the items are {ITEMS}")),
            );
            return None;
        }
    };
    match name.text.as_str() {
        "cells_table" => {
            let a = cx.arguments(&name, &args, &["evaluation", "metric", "fraction"])?;
            let (evaluation, e) = evaluation_arg(cx, &name, &a[0], program)?;
            let metric = metric_arg(cx, &a[1], e, &resolved)?;
            let fraction = match &a[2] {
                Some(v) => Some(fraction_arg(cx, v, e, program)?),
                None => None,
            };
            Some(ReportItem::CellsTable {
                evaluation,
                metric,
                fraction,
            })
        }
        "augmentation_table" => {
            let a = cx.arguments(&name, &args, &["evaluation", "fraction", "metric", "cell"])?;
            let (evaluation, e) = evaluation_arg(cx, &name, &a[0], program)?;
            let metric = metric_arg(cx, &a[2], e, &resolved)?;
            let fraction = match &a[1] {
                Some(v) => fraction_arg(cx, v, e, program)?,
                None => {
                    missing(
                        cx,
                        &name,
                        &resolved,
                        "fraction",
                        "augmentation_table(monet_eval, fraction = 50%)",
                    );
                    return None;
                }
            };
            let cell = cell_arg(cx, &a[3], e, Cell::C)?;
            let augmentations: Vec<&Augmentation> = e
                .attacks
                .iter()
                .filter_map(|n| program.attacks.get(n))
                .flat_map(|a| a.augmentations.iter())
                .collect();
            if !augmentations.contains(&&Augmentation::None) || augmentations.len() < 2 {
                cx.push(
                    Diagnostic::error(
                        Code::Incompatible,
                        "an augmentation table needs a baseline and at least one augmentation",
                    )
                    .at(resolved.span, "nothing to compare")
                    .help("give the evaluated attack `augmentations = [none, flip, rotate(5deg)]`"),
                );
                return None;
            }
            Some(ReportItem::AugmentationTable {
                evaluation,
                metric,
                fraction,
                cell,
            })
        }
        "fraction_plot" => {
            let a = cx.arguments(&name, &args, &["evaluation", "metric", "cells"])?;
            let (evaluation, e) = evaluation_arg(cx, &name, &a[0], program)?;
            let metric = metric_arg(cx, &a[1], e, &resolved)?;
            let cells = match &a[2] {
                Some(v) => {
                    let items = cx.list(v, "`cells`")?;
                    let cells: Vec<Option<Cell>> = items
                        .iter()
                        .map(|i| cell_arg(cx, &Some(i.clone()), e, Cell::B))
                        .collect();
                    cells.into_iter().collect::<Option<Vec<Cell>>>()?
                }
                None => e
                    .cells
                    .iter()
                    .copied()
                    .filter(|c| matches!(c, Cell::B | Cell::C))
                    .collect(),
            };
            let fractions: usize = e
                .attacks
                .iter()
                .filter_map(|n| program.attacks.get(n))
                .map(|a| a.fractions.len())
                .max()
                .unwrap_or(0);
            if fractions < 2 {
                cx.push(
                    Diagnostic::error(
                        Code::Incompatible,
                        "a data-fraction plot needs at least two fractions",
                    )
                    .at(resolved.span, "one fraction only")
                    .help("give the evaluated attack `fractions = [25%, 50%, 75%, 100%]`"),
                );
                return None;
            }
            Some(ReportItem::FractionPlot {
                evaluation,
                metric,
                cells,
            })
        }
        "likert_histogram" => {
            let a = cx.arguments(&name, &args, &["user_study"])?;
            let user_study = declaration_arg(cx, &name, &a[0], Kind::UserStudy, &resolved)?;
            Some(ReportItem::LikertHistogram { user_study })
        }
        "defense_table" => {
            let a = cx.arguments(&name, &args, &["evaluation"])?;
            let (evaluation, e) = evaluation_arg(cx, &name, &a[0], program)?;
            let defended = e
                .attacks
                .iter()
                .filter_map(|n| program.attacks.get(n))
                .any(|a| {
                    program
                        .victims
                        .get(&a.victim)
                        .is_some_and(|v| !v.defenses.is_empty())
                });
            if !defended {
                cx.push(
                    Diagnostic::error(
                        Code::Incompatible,
                        format!("no victim of `{evaluation}` has a defence"),
                    )
                    .at(resolved.span, "nothing to tabulate")
                    .help("evaluate attacks on victims with `defenses = [...]`"),
                );
                return None;
            }
            Some(ReportItem::DefenseTable { evaluation })
        }
        "cost_table" => {
            let a = cx.arguments(&name, &args, &["attacks"])?;
            let Some(v) = &a[0] else {
                missing(
                    cx,
                    &name,
                    &resolved,
                    "attacks",
                    "cost_table([steal_monet, steal_selfie])",
                );
                return None;
            };
            let items = cx.list(v, "`attacks`")?;
            let attacks: Vec<Option<String>> = items
                .iter()
                .map(|i| cx.declaration(i, Kind::Attack, "an attack"))
                .collect();
            Some(ReportItem::CostTable {
                attacks: attacks.into_iter().collect::<Option<Vec<_>>>()?,
            })
        }
        "samples" => {
            let a = cx.arguments(&name, &args, &["evaluation"])?;
            let (evaluation, _) = evaluation_arg(cx, &name, &a[0], program)?;
            Some(ReportItem::Samples { evaluation })
        }
        "comparison_table" => {
            let a = cx.arguments(&name, &args, &["comparison"])?;
            let comparison = declaration_arg(cx, &name, &a[0], Kind::Comparison, &resolved)?;
            Some(ReportItem::ComparisonTable { comparison })
        }
        _ => {
            let names = [
                "cells_table",
                "augmentation_table",
                "fraction_plot",
                "likert_histogram",
                "defense_table",
                "cost_table",
                "samples",
                "comparison_table",
            ];
            let help = match crate::diagnostics::did_you_mean(&name.text, names) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("the items are {ITEMS}"),
            };
            cx.push(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("unknown report item `{}`", name.text),
                )
                .at(name.span, "not a report item")
                .help(help),
            );
            None
        }
    }
}

fn missing(cx: &mut Cx, name: &Ident, at: &Value, param: &str, example: &str) {
    cx.push(
        Diagnostic::error(
            Code::MissingField,
            format!("`{}` needs `{param}`", name.text),
        )
        .at(at.span, format!("`{param}` is missing"))
        .help(format!("write {example}")),
    );
}

fn declaration_arg(
    cx: &mut Cx,
    name: &Ident,
    arg: &Option<Value>,
    kind: Kind,
    at: &Value,
) -> Option<String> {
    let Some(v) = arg else {
        missing(
            cx,
            name,
            at,
            kind.keyword(),
            &format!("{}(NAME)", name.text),
        );
        return None;
    };
    cx.declaration(v, kind, &format!("the argument of `{}`", name.text))
}

fn evaluation_arg<'p>(
    cx: &mut Cx,
    name: &Ident,
    arg: &Option<Value>,
    program: &'p Program,
) -> Option<(String, &'p Evaluation)> {
    let at = Value {
        kind: ValueKind::Bool(true),
        span: name.span,
    };
    let evaluation = declaration_arg(cx, name, arg, Kind::Evaluation, &at)?;
    let e = program.evaluations.get(&evaluation)?;
    Some((evaluation, e))
}

/// The metric to show: given, or the evaluation's first.
fn metric_arg(cx: &mut Cx, arg: &Option<Value>, e: &Evaluation, at: &Value) -> Option<String> {
    let measured: Vec<&str> = e.metrics.iter().map(|m| m.name()).collect();
    let Some(v) = arg else {
        return measured.first().map(|m| m.to_string()).or_else(|| {
            cx.push(
                Diagnostic::error(Code::Incompatible, "the evaluation measures nothing")
                    .at(at.span, "no metric"),
            );
            None
        });
    };
    let choices: Vec<(&'static str, &'static str)> = ["fid", "kid", "ssim", "psnr"]
        .iter()
        .map(|m| (*m, *m))
        .collect();
    let metric = cx.word(v, "metric", &choices)?;
    if !measured.contains(&metric) {
        cx.push(
            Diagnostic::error(
                Code::Incompatible,
                format!("the evaluation does not measure `{metric}`"),
            )
            .at(v.span, "not measured")
            .help(format!(
                "it measures {}; add `{metric}` to its `metrics`",
                measured.join(", ")
            )),
        );
        return None;
    }
    Some(metric.to_string())
}

fn cell_arg(cx: &mut Cx, arg: &Option<Value>, e: &Evaluation, default: Cell) -> Option<Cell> {
    let Some(v) = arg else {
        return Some(default);
    };
    let cell = cx.word(v, "cell", &Cell::ALL)?;
    if !e.cells.contains(&cell) {
        cx.push(
            Diagnostic::error(
                Code::Incompatible,
                format!("the evaluation does not measure cell ({cell:?})"),
            )
            .at(v.span, "not measured")
            .help("add it to the evaluation's `cells`"),
        );
        return None;
    }
    Some(cell)
}

/// A fraction that the evaluated attacks actually train with.
fn fraction_arg(cx: &mut Cx, v: &Value, e: &Evaluation, program: &Program) -> Option<f64> {
    let fraction = cx.fraction(v, "the fraction")?;
    let available: Vec<f64> = e
        .attacks
        .iter()
        .filter_map(|n| program.attacks.get(n))
        .flat_map(|a| a.fractions.iter().copied())
        .collect();
    if !available.iter().any(|f| (f - fraction).abs() < 1e-9) {
        let list = available
            .iter()
            .map(|f| format!("{}%", format_number(f * 100.0)))
            .collect::<Vec<_>>()
            .join(", ");
        cx.push(
            Diagnostic::error(
                Code::Incompatible,
                format!(
                    "no evaluated attack trains with {}% of its data",
                    format_number(fraction * 100.0)
                ),
            )
            .at(v.span, "not a fraction of the attack")
            .help(format!("the attacks' fractions are {list}")),
        );
        return None;
    }
    Some(fraction)
}
