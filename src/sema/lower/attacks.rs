//! `attack NAME { victim = ...; queries = ...; surrogate = pix2pix { ... }; ... }` and the
//! expansion of its sweep into points.

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{
    Attack, AttackPoint, Augmentation, Axis, Program, Surrogate, Sweep, Task,
};
use crate::sema::values::Cx;
use crate::syntax::ast::{Declaration, Kind, Value, ValueKind};

use super::{data_ref, models, untyped};

pub fn attack(cx: &mut Cx, d: &Declaration, program: &Program) -> Option<Attack> {
    untyped(cx, d);
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the attack `{}`", d.name.text),
    );
    let victim_value = f.required(cx, "victim", "victim = monet_victim");
    let victim_name = victim_value
        .as_ref()
        .and_then(|v| cx.declaration(v, Kind::Victim, "`victim`"));
    let victim = victim_name.as_ref().and_then(|n| program.victims.get(n));
    let queries_value = f.required(cx, "queries", "queries = intel");
    let queries = queries_value
        .as_ref()
        .and_then(|v| data_ref(cx, v, "`queries`", program));
    let surrogate_value = f.required(
        cx,
        "surrogate",
        "surrogate = pix2pix { image_size = 256px }",
    );
    let surrogate = surrogate_value.as_ref().and_then(|v| surrogate(cx, v));

    let fractions = f
        .get("fractions")
        .map(|v| {
            unique_list(
                cx,
                &v,
                "`fractions`",
                |cx, x| cx.fraction(x, "a data fraction"),
                |a, b| a == b,
            )
        })
        .unwrap_or(Some(vec![1.0]));
    let augmentations = f
        .get("augmentations")
        .map(|v| unique_list(cx, &v, "`augmentations`", augmentation, |a, b| a == b))
        .unwrap_or(Some(vec![Augmentation::None]));
    let seeds = f
        .get("seeds")
        .map(|v| {
            unique_list(
                cx,
                &v,
                "`seeds`",
                |cx, x| cx.natural(x, "a seed", "seeds = 1..5"),
                |a, b| a == b,
            )
        })
        .unwrap_or(Some(vec![0]));
    let sweep = f
        .get("sweep")
        .map(|v| sweep(cx, &v))
        .unwrap_or(Some(Sweep::Cross));
    let price_usd_per_query = f
        .get("price_per_query")
        .and_then(|v| cx.money(&v, "`price_per_query`"))
        .unwrap_or(0.0);
    let max_queries = f
        .get("max_queries")
        .and_then(|v| cx.count(&v, "`max_queries`", "max_queries = 10000"));
    let sweep_span = f.span_of("sweep").unwrap_or(d.name.span);
    f.finish(cx);

    // A surrogate must do the victim's job at the victim's scale.
    if let (Some(victim), Some(s), Some(sv)) = (victim, &surrogate, &surrogate_value) {
        let surrogate_task = s.architecture.task();
        if surrogate_task != victim.task {
            let fitting = match victim.task {
                Task::StyleTransfer => "pix2pix",
                Task::SuperResolution => "srresnet",
            };
            cx.push(
                Diagnostic::error(
                    Code::Incompatible,
                    format!(
                        "a {} surrogate cannot copy a {} victim",
                        surrogate_task.describe(),
                        victim.task.describe()
                    ),
                )
                .at(sv.span, format!("a {} model", surrogate_task.describe()))
                .also(
                    victim_value.as_ref().map_or(d.name.span, |v| v.span),
                    format!("this victim does {}", victim.task.describe()),
                )
                .help(format!("use `surrogate = {fitting} {{ ... }}`")),
            );
        } else if s.architecture.scale() != victim.scale {
            cx.push(
                Diagnostic::error(
                    Code::ScaleMismatch,
                    format!(
                        "the surrogate upscales {}x but the victim {}x",
                        s.architecture.scale(),
                        victim.scale
                    ),
                )
                .at(sv.span, format!("{}x", s.architecture.scale()))
                .help(format!("set `scale = {}x` in the surrogate", victim.scale)),
            );
        }
    }
    if let (Some(victim), Some(augs)) = (victim, &augmentations) {
        if victim.task == Task::SuperResolution
            && augs
                .iter()
                .any(|a| matches!(a, Augmentation::Cutout { .. }))
        {
            cx.push(
                Diagnostic::warning(Code::Incompatible, "cutout on super-resolution queries")
                    .at(d.name.span, "this attack")
                    .help("the paper leaves cutout out for super-resolution: its training crops are already small"),
            );
        }
    }

    // The queries reach the victim's generator and the surrogate's training crops: a size
    // either cannot take is found here, not when the query job runs.
    if let (Some((q, _)), Some(qv)) = (&queries, &queries_value) {
        if let Some(side) = super::input_side(program, q) {
            let victim_architecture = victim.and_then(|v| v.model.architecture());
            if let Some(architecture) = victim_architecture {
                super::check_side(cx, q, side, qv, "the victim", architecture);
            }
            if let Some(s) = &surrogate {
                let crop = s.architecture.training_crop();
                if side < crop {
                    cx.push(
                        Diagnostic::error(
                            Code::ImageSize,
                            format!("`{q}` has {side}px images, smaller than the {crop}px crops the surrogate trains on"),
                        )
                        .at(qv.span, format!("{side}px images"))
                        .help(format!("give `{}` images of at least {crop}px, or a smaller surrogate `image_size`", q.dataset)),
                    );
                }
            }
        }
    }
    let (fractions, augmentations, seeds, sweep) = (fractions?, augmentations?, seeds?, sweep?);
    let points = expand(cx, &fractions, &augmentations, &seeds, &sweep, sweep_span)?;
    let (queries, _) = queries?;
    let victim_name = victim_name?;
    Some(Attack {
        task: victim?.task,
        victim: victim_name,
        queries,
        surrogate: surrogate?,
        fractions,
        augmentations,
        seeds,
        sweep,
        price_usd_per_query,
        max_queries,
        points,
    })
}

/// `pix2pix { ... }` or `srresnet { ... }` with its `training`.
fn surrogate(cx: &mut Cx, value: &Value) -> Option<Surrogate> {
    let types = [("pix2pix", "pix2pix"), ("srresnet", "srresnet")];
    let example = "surrogate = pix2pix { image_size = 256px }";
    let (ty, mut f) = cx.typed(value, "surrogate", &types, example)?;
    let architecture = models::architecture(cx, ty, &mut f);
    let training = models::training(cx, ty, f.get("training"));
    f.finish(cx);
    Some(Surrogate {
        architecture: architecture?,
        training,
    })
}

/// A list whose items must all differ.
fn unique_list<T: Clone>(
    cx: &mut Cx,
    value: &Value,
    what: &str,
    read: impl Fn(&mut Cx, &Value) -> Option<T>,
    same: impl Fn(&T, &T) -> bool,
) -> Option<Vec<T>> {
    let items = cx.list(value, what)?;
    if items.is_empty() {
        cx.push(
            Diagnostic::error(Code::OutOfRange, format!("{what} is empty"))
                .at(value.span, "nothing to sweep over")
                .help("give at least one value, or remove the field to use its default"),
        );
        return None;
    }
    let mut out: Vec<T> = Vec::new();
    let mut ok = true;
    for item in &items {
        match read(cx, item) {
            Some(x) if out.iter().any(|o| same(o, &x)) => {
                cx.push(
                    Diagnostic::error(
                        Code::DuplicateField,
                        format!("{what} lists the same value twice"),
                    )
                    .at(item.span, "repeated")
                    .help("remove the repetition; every value of a sweep is run once"),
                );
                ok = false;
            }
            Some(x) => out.push(x),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `none`, `flip`, `rotate(5deg)`, `cutout(50%)`, `contrast(+20%)`.
fn augmentation(cx: &mut Cx, value: &Value) -> Option<Augmentation> {
    let resolved = cx.resolve(value)?;
    let help =
        "the augmentations are `none`, `flip`, `rotate(5deg)`, `cutout(50%)` and `contrast(+20%)`";
    match &resolved.kind {
        ValueKind::Call { name, args } => match name.text.as_str() {
            "rotate" => {
                let a = cx.arguments(name, args, &["angle"])?;
                let degrees = match &a[0] {
                    Some(v) => cx.degrees(v, "the rotation")?,
                    None => 5.0,
                };
                Some(Augmentation::Rotate { degrees })
            }
            "cutout" => {
                let a = cx.arguments(name, args, &["size"])?;
                let size = match &a[0] {
                    Some(v) => cx.fraction(v, "the cutout size")?,
                    None => 0.5,
                };
                Some(Augmentation::Cutout { size })
            }
            "contrast" => {
                let a = cx.arguments(name, args, &["change"])?;
                let change = match &a[0] {
                    Some(v) => cx.change(v, "the contrast change")?,
                    None => 0.2,
                };
                Some(Augmentation::Contrast { change })
            }
            _ => {
                cx.push(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown augmentation `{}`", name.text),
                    )
                    .at(name.span, "not an augmentation")
                    .help(help),
                );
                None
            }
        },
        _ => {
            let words = [
                ("none", 0),
                ("flip", 1),
                ("rotate", 2),
                ("cutout", 3),
                ("contrast", 4),
            ];
            Some(match cx.word(&resolved, "augmentation", &words)? {
                0 => Augmentation::None,
                1 => Augmentation::Flip,
                2 => Augmentation::Rotate { degrees: 5.0 },
                3 => Augmentation::Cutout { size: 0.5 },
                _ => Augmentation::Contrast { change: 0.2 },
            })
        }
    }
}

/// `cross`, `zip`, or `zip(fractions, augmentations)`.
fn sweep(cx: &mut Cx, value: &Value) -> Option<Sweep> {
    let resolved = cx.resolve(value)?;
    match &resolved.kind {
        ValueKind::Call { name, args } if name.text == "zip" => {
            let mut axes = Vec::new();
            for arg in args {
                let axis = cx.word(&arg.value, "sweep axis", &Axis::ALL)?;
                if axes.contains(&axis) {
                    cx.push(
                        Diagnostic::error(Code::DuplicateField, "an axis is zipped twice")
                            .at(arg.value.span, "repeated")
                            .help("name each axis once"),
                    );
                    return None;
                }
                axes.push(axis);
            }
            if axes.len() < 2 {
                cx.push(
                    Diagnostic::error(Code::SweepShape, "`zip(...)` needs at least two axes")
                        .at(resolved.span, "nothing to zip with")
                        .help("write zip(fractions, augmentations), or `cross`"),
                );
                return None;
            }
            Some(Sweep::Zip { axes })
        }
        _ => match cx.word(&resolved, "sweep", &[("cross", 0), ("zip", 1)])? {
            0 => Some(Sweep::Cross),
            _ => Some(Sweep::Zip {
                axes: Axis::ALL.iter().map(|(_, a)| *a).collect(),
            }),
        },
    }
}

/// The sweep's points, in a fixed order: fractions, then augmentations, then seeds.
fn expand(
    cx: &mut Cx,
    fractions: &[f64],
    augmentations: &[Augmentation],
    seeds: &[u64],
    sweep: &Sweep,
    span: crate::source::Span,
) -> Option<Vec<AttackPoint>> {
    let zipped: &[Axis] = match sweep {
        Sweep::Cross => &[],
        Sweep::Zip { axes } => axes,
    };
    let len = |axis: Axis| match axis {
        Axis::Fractions => fractions.len(),
        Axis::Augmentations => augmentations.len(),
        Axis::Seeds => seeds.len(),
    };
    if let Some(first) = zipped.first() {
        if zipped.iter().any(|a| len(*a) != len(*first)) {
            let lengths = zipped
                .iter()
                .map(|a| {
                    format!(
                        "{} has {}",
                        Axis::ALL
                            .iter()
                            .find(|(_, x)| x == a)
                            .map_or("", |(n, _)| n),
                        len(*a)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            cx.push(
                Diagnostic::error(Code::SweepShape, "zipped lists must have the same length")
                    .at(span, lengths)
                    .help("give each zipped list one value per run, or use `sweep = cross` for every combination"),
            );
            return None;
        }
    }
    // Each axis is either its own dimension or shares the zipped dimension.
    let zip_len = zipped.first().map(|a| len(*a));
    let mut dims: Vec<usize> = Vec::new();
    if let Some(n) = zip_len {
        dims.push(n);
    }
    for (_, axis) in Axis::ALL {
        if !zipped.contains(&axis) {
            dims.push(len(axis));
        }
    }
    let total: usize = dims.iter().product();
    if total > 100_000 {
        cx.push(
            Diagnostic::error(Code::SweepShape, format!("the sweep has {total} points"))
                .at(span, "too many surrogates to train")
                .help("at most 100000 points; narrow the lists"),
        );
        return None;
    }
    let mut points = Vec::with_capacity(total);
    for index in 0..total {
        let mut rest = index;
        let mut coordinate = vec![0usize; dims.len()];
        for (i, d) in dims.iter().enumerate().rev() {
            coordinate[i] = rest % d;
            rest /= d;
        }
        let mut next = coordinate.iter().copied();
        let zip_index = zip_len.map(|_| next.next().unwrap_or(0));
        let mut pick = |axis: Axis| {
            if zipped.contains(&axis) {
                zip_index.unwrap_or(0)
            } else {
                next.next().unwrap_or(0)
            }
        };
        let fi = pick(Axis::Fractions);
        let ai = pick(Axis::Augmentations);
        let si = pick(Axis::Seeds);
        points.push(AttackPoint {
            fraction: fractions[fi],
            augmentation: augmentations[ai].clone(),
            seed: seeds[si],
        });
    }
    Some(points)
}
