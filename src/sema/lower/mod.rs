//! Turns resolved declarations into the typed [`Program`], one kind after another, so that
//! each kind can check its references against the kinds before it.

mod attacks;
mod datasets;
mod evaluations;
mod experiment;
pub use experiment::DEFAULT_TOLERANCES;
mod models;
mod reports;
mod studies;
mod victims;

use std::collections::BTreeMap;

use crate::diagnostics::{did_you_mean, Code, Diagnostic};
use crate::syntax::ast::{Declaration, Head, Kind, Value, ValueKind};

use super::program::{DataRef, Dataset, DatasetSource, Domain, Program};
use super::values::Cx;

/// Lowers every declaration; `default_name` names the experiment when it has no declaration.
pub fn lower(cx: &mut Cx, default_name: &str) -> Program {
    let declarations: Vec<&Declaration> = cx.scope.declarations.values().collect();
    let of = |kind: Kind| declarations.iter().copied().filter(move |d| d.kind == kind);

    let experiments: Vec<Declaration> = cx.scope.experiments.clone();
    let experiment = experiment::experiment(cx, experiments.iter().collect(), default_name);
    let mut program = Program {
        experiment,
        datasets: BTreeMap::new(),
        victims: BTreeMap::new(),
        attacks: BTreeMap::new(),
        evaluations: BTreeMap::new(),
        user_studies: BTreeMap::new(),
        comparisons: BTreeMap::new(),
        reports: BTreeMap::new(),
    };
    for d in of(Kind::Dataset) {
        if let Some(x) = checked(cx, d, |cx| datasets::dataset(cx, d)) {
            program.datasets.insert(d.name.text.clone(), x);
        }
    }
    for d in of(Kind::Victim) {
        if let Some(x) = checked(cx, d, |cx| victims::victim(cx, d, &program)) {
            program.victims.insert(d.name.text.clone(), x);
        }
    }
    for d in of(Kind::Attack) {
        if let Some(x) = checked(cx, d, |cx| attacks::attack(cx, d, &program)) {
            program.attacks.insert(d.name.text.clone(), x);
        }
    }
    for d in of(Kind::Evaluation) {
        if let Some(x) = checked(cx, d, |cx| evaluations::evaluation(cx, d, &program)) {
            program.evaluations.insert(d.name.text.clone(), x);
        }
    }
    for d in of(Kind::UserStudy) {
        if let Some(x) = checked(cx, d, |cx| studies::user_study(cx, d)) {
            program.user_studies.insert(d.name.text.clone(), x);
        }
    }
    for d in of(Kind::Comparison) {
        if let Some(x) = checked(cx, d, |cx| studies::comparison(cx, d, &program)) {
            program.comparisons.insert(d.name.text.clone(), x);
        }
    }
    for d in of(Kind::Report) {
        if let Some(x) = checked(cx, d, |cx| reports::report(cx, d, &program)) {
            program.reports.insert(d.name.text.clone(), x);
        }
    }
    program
}

/// Runs one declaration's lowering. A declaration is left out only with a reason: either an
/// error of its own, or an error in a declaration it names (reported there). If neither, that
/// is a bug in heist, and it says so rather than silently dropping work.
fn checked<T>(cx: &mut Cx, d: &Declaration, lower: impl FnOnce(&mut Cx) -> Option<T>) -> Option<T> {
    let errors_before = cx.diagnostics.error_count();
    let result = lower(cx);
    if result.is_none()
        && cx.diagnostics.error_count() == errors_before
        && !cx.diagnostics.has_errors()
    {
        cx.push(
            Diagnostic::error(
                Code::Internal,
                format!("heist could not check `{}` and gave no reason", d.name.text),
            )
            .at(d.name.span, "rejected without a diagnostic")
            .help("this is a bug in heist; please report it with this file"),
        );
    }
    result
}

/// The `= TYPE` of a declaration whose kind has types (datasets, victims).
fn declared_type(
    cx: &mut Cx,
    d: &Declaration,
    types: &[&'static str],
    example: &str,
) -> Option<&'static str> {
    let list = types
        .iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match &d.head {
        Head::Typed(t) => match types.iter().find(|x| **x == t.text) {
            Some(found) => Some(found),
            None => {
                let help = match did_you_mean(&t.text, types.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`? The types are {list}"),
                    None => format!("the types of {} are {list}", d.kind.with_article()),
                };
                cx.push(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown {} type `{}`", d.kind.keyword(), t.text),
                    )
                    .at(t.span, "unknown type")
                    .help(help),
                );
                None
            }
        },
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::MissingField,
                    format!("{} `{}` needs a type", d.kind.with_article(), d.name.text),
                )
                .at(d.name.span, format!("say which type: {list}"))
                .help(format!("write `{example}`")),
            );
            None
        }
    }
}

/// Kinds without types must not have one.
fn untyped(cx: &mut Cx, d: &Declaration) {
    if let Head::Typed(t) = &d.head {
        cx.push(
            Diagnostic::error(
                Code::WrongType,
                format!("{} has no type", d.kind.with_article()),
            )
            .at(t.span, "unexpected type")
            .help(format!(
                "write `{} {} {{ ... }}`",
                d.kind.keyword(),
                d.name.text
            )),
        );
    }
}

/// What the images of a dataset (part) are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Single images of one domain.
    Images,
    /// Super-resolution pairs: LR inputs with their HR originals.
    HighResolution { scale: u32 },
}

/// Default super-resolution factor of datasets that hold HR images.
pub const DEFAULT_SCALE: u32 = 4;

impl Dataset {
    pub fn content(&self) -> Content {
        match &self.source {
            DatasetSource::Folder { layout, scale, .. } if layout.has_high_resolution() => {
                Content::HighResolution {
                    scale: scale.unwrap_or(DEFAULT_SCALE),
                }
            }
            DatasetSource::Synthetic {
                domain: Domain::Texture,
                scale,
                ..
            } => Content::HighResolution {
                scale: scale.unwrap_or(DEFAULT_SCALE),
            },
            _ => Content::Images,
        }
    }

    /// The named parts of the dataset.
    pub fn parts(&self) -> &'static [&'static str] {
        match &self.source {
            DatasetSource::Folder { layout, .. } => layout.parts(),
            DatasetSource::Synthetic { .. } => &[],
        }
    }
}

/// A reference to a dataset or one of its parts, with what its images are.
fn data_ref(
    cx: &mut Cx,
    value: &Value,
    what: &str,
    program: &Program,
) -> Option<(DataRef, Content)> {
    let resolved = cx.resolve(value)?;
    let ValueKind::Reference(path) = &resolved.kind else {
        cx.declaration(&resolved, Kind::Dataset, what)?;
        return None;
    };
    cx.check_kind(&path[0], Kind::Dataset)?;
    let dataset = program.datasets.get(&path[0].text)?;
    let parts = dataset.parts();
    let list = parts
        .iter()
        .map(|p| format!("`{}.{p}`", path[0].text))
        .collect::<Vec<_>>()
        .join(", ");
    let part = match path.get(1) {
        None if !parts.is_empty() => {
            cx.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!("`{}` has several parts; say which one", path[0].text),
                )
                .at(resolved.span, "which part?")
                .help(format!("write one of {list}")),
            );
            return None;
        }
        None => None,
        Some(part) if parts.contains(&part.text.as_str()) && path.len() == 2 => {
            Some(part.text.clone())
        }
        Some(part) => {
            let help = if parts.is_empty() {
                format!("`{}` is used whole: write `{}`", path[0].text, path[0].text)
            } else {
                match did_you_mean(&part.text, parts.iter().copied()) {
                    Some(c) => format!("did you mean `{}.{c}`?", path[0].text),
                    None => format!("the parts are {list}"),
                }
            };
            cx.push(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("`{}` has no part `{}`", path[0].text, part.text),
                )
                .at(part.span, "unknown part")
                .help(help),
            );
            return None;
        }
    };
    Some((
        DataRef {
            dataset: path[0].text.clone(),
            part,
        },
        dataset.content(),
    ))
}

/// The side of the images a dataset gives a model, where the experiment fixes it: a
/// synthetic style-transfer set's `size`, a folder's `crop_size` (else `load_size`).
/// Super-resolution sets are left out: their generators take any size.
pub(super) fn input_side(program: &Program, data: &DataRef) -> Option<u32> {
    let d = program.datasets.get(&data.dataset)?;
    match &d.source {
        DatasetSource::Synthetic {
            size, scale: None, ..
        } => Some(*size),
        DatasetSource::Folder { scale: None, .. } => d.crop_size.or(d.load_size),
        _ => None,
    }
}

/// A diagnostic when `data` (of `side` px, at `value`) cannot be given to `who`'s generator.
pub(super) fn check_side(
    cx: &mut Cx,
    data: &DataRef,
    side: u32,
    value: &Value,
    who: &str,
    architecture: &crate::sema::program::Architecture,
) {
    use crate::sema::program::Sides;
    let sides = architecture.input_sides();
    if sides.fit(side, side) {
        return;
    }
    let need = match sides {
        Sides::Exactly(s) => format!("exactly {s}px"),
        Sides::MultipleOf(m) => format!("sides that are multiples of {m}px"),
        Sides::Any => unreachable!("any side fits"),
    };
    cx.push(
        Diagnostic::error(
            Code::ImageSize,
            format!("`{data}` has {side}px images, which {who} cannot take: it needs {need}"),
        )
        .at(value.span, format!("{side}px images"))
        .help(format!(
            "give `{}` images of {}px (its `size`, or `crop_size` for a folder)",
            data.dataset,
            sides.nearest(side)
        )),
    );
}
