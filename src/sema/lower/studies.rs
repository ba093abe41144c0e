//! `user_study NAME { ... }` (Welch's t-test and TOST on ratings) and
//! `comparison NAME { ... }` (dataless black-box model comparison).

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{
    Comparison, Distance, EquivalenceBound, ModelRef, Probes, Program, StatTest, Task, UserStudy,
};
use crate::sema::values::Cx;
use crate::syntax::ast::{Declaration, Kind, Value, ValueKind};

use super::{data_ref, untyped};

pub fn user_study(cx: &mut Cx, d: &Declaration) -> Option<UserStudy> {
    untyped(cx, d);
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the user study `{}`", d.name.text),
    );
    let setting = f
        .get("setting")
        .and_then(|v| cx.string(&v, "`setting`", "setting = \"Monet-to-Photo\""))
        .unwrap_or_else(|| d.name.text.clone());
    let ratings = f
        .required(cx, "ratings", "ratings = \"studies/monet.csv\"")
        .and_then(|v| {
            let role = "the ratings file".to_string();
            cx.path(
                &v,
                "`ratings`",
                "ratings = \"studies/monet.csv\"",
                role,
                false,
            )
        });
    let value_column = f
        .get("value")
        .and_then(|v| cx.string(&v, "`value` (the rating column)", "value = \"score\""))
        .unwrap_or_else(|| "score".into());
    let group_column = f
        .get("group")
        .and_then(|v| cx.string(&v, "`group` (the model column)", "group = \"model\""))
        .unwrap_or_else(|| "model".into());
    let groups = f.get("groups").and_then(|v| {
        let items = cx.list(&v, "`groups`")?;
        let names: Vec<Option<String>> = items
            .iter()
            .map(|i| cx.string(i, "a group name", "groups = [\"victim\", \"surrogate\"]"))
            .collect();
        match names.as_slice() {
            [Some(a), Some(b)] if a != b => Some([a.clone(), b.clone()]),
            [Some(_), Some(_)] => {
                cx.push(
                    Diagnostic::error(Code::DuplicateField, "the two groups are the same")
                        .at(v.span, "compare two different groups")
                        .help("write groups = [\"victim\", \"surrogate\"]"),
                );
                None
            }
            [_, _] => None,
            _ => {
                cx.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!("`groups` names two groups, found {}", items.len()),
                    )
                    .at(v.span, "A and B")
                    .help("write groups = [\"victim\", \"surrogate\"]; differences are A - B"),
                );
                None
            }
        }
    });
    let scale = f
        .get("scale")
        .and_then(|v| likert_scale(cx, &v))
        .unwrap_or([1, 5]);
    let tests = f
        .get("tests")
        .and_then(|v| {
            let items = cx.list(&v, "`tests`")?;
            let tests: Vec<Option<StatTest>> = items
                .iter()
                .map(|i| {
                    cx.word(
                        i,
                        "statistical test",
                        &[("welch", StatTest::Welch), ("tost", StatTest::Tost)],
                    )
                })
                .collect();
            tests.into_iter().collect()
        })
        .unwrap_or_else(|| vec![StatTest::Welch, StatTest::Tost]);
    let bound = f
        .get("bound")
        .and_then(|v| bound(cx, &v))
        .unwrap_or(EquivalenceBound::CohenD { d: 0.3 });
    let alpha = f
        .get("alpha")
        .and_then(|v| cx.real(&v, "`alpha`", 1e-9, 0.5, "alpha = 0.05"))
        .unwrap_or(0.05);
    f.finish(cx);
    Some(UserStudy {
        setting,
        ratings: ratings?,
        value_column,
        group_column,
        groups,
        scale,
        tests,
        bound,
        alpha,
    })
}

/// `1..5`: the lowest and highest rating.
fn likert_scale(cx: &mut Cx, value: &Value) -> Option<[i64; 2]> {
    let resolved = cx.resolve(value)?;
    let ValueKind::Range {
        start,
        end,
        step: None,
    } = &resolved.kind
    else {
        cx.push(
            Diagnostic::error(
                Code::WrongType,
                format!(
                    "`scale` is a range of ratings, found {}",
                    resolved.describe()
                ),
            )
            .at(resolved.span, "expected `low..high`")
            .help("write scale = 1..5 for a five-point Likert scale"),
        );
        return None;
    };
    let low = cx.integer(start, "the lowest rating", -1000, 1000, "scale = 1..5")?;
    let high = cx.integer(end, "the highest rating", -1000, 1000, "scale = 1..5")?;
    if high <= low {
        cx.push(
            Diagnostic::error(
                Code::OutOfRange,
                "the rating scale must go from low to high",
            )
            .at(resolved.span, "empty scale")
            .help("write scale = 1..5"),
        );
        return None;
    }
    Some([low, high])
}

/// `cohen_d(0.3)` or `raw(0.5)`.
fn bound(cx: &mut Cx, value: &Value) -> Option<EquivalenceBound> {
    let resolved = cx.resolve(value)?;
    let help = "write bound = cohen_d(0.3) (the paper's) or bound = raw(0.5) (in rating units)";
    match &resolved.kind {
        ValueKind::Call { name, args } if name.text == "cohen_d" || name.text == "raw" => {
            let a = cx.arguments(name, args, &["value"])?;
            let Some(v) = &a[0] else {
                cx.push(
                    Diagnostic::error(
                        Code::MissingField,
                        format!("`{}` needs the bound", name.text),
                    )
                    .at(resolved.span, "no value")
                    .help(help),
                );
                return None;
            };
            let x = cx.positive(v, "an equivalence bound", "cohen_d(0.3)")?;
            Some(if name.text == "cohen_d" {
                EquivalenceBound::CohenD { d: x }
            } else {
                EquivalenceBound::Raw { value: x }
            })
        }
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!(
                        "an equivalence bound needs its unit, found {}",
                        resolved.describe()
                    ),
                )
                .at(resolved.span, "in Cohen's d or raw units?")
                .help(help),
            );
            None
        }
    }
}

pub fn comparison(cx: &mut Cx, d: &Declaration, program: &Program) -> Option<Comparison> {
    untyped(cx, d);
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the comparison `{}`", d.name.text),
    );
    let models_value = f.required(
        cx,
        "models",
        "models = [monet_victim, steal_monet, independent_monet]",
    );
    let models: Option<Vec<(ModelRef, Value)>> = models_value.as_ref().and_then(|v| {
        let items = cx.list(v, "`models`")?;
        let refs: Vec<Option<(ModelRef, Value)>> = items
            .iter()
            .map(|i| model_ref(cx, i).map(|m| (m, i.clone())))
            .collect();
        refs.into_iter().collect()
    });
    let reference = f
        .get("reference")
        .and_then(|v| model_ref(cx, &v).map(|m| (m, v)));
    let probes = f
        .required(
            cx,
            "probes",
            "probes = uniform_noise { count = 256; size = 64px }",
        )
        .and_then(|v| probes(cx, &v, program));
    let distance = f
        .get("distance")
        .and_then(|v| {
            cx.word(
                &v,
                "distance",
                &[
                    ("l1", Distance::L1),
                    ("l2", Distance::L2),
                    ("ssim", Distance::Ssim),
                    ("psnr", Distance::Psnr),
                ],
            )
        })
        .unwrap_or(Distance::L2);
    let repeats = f
        .get("repeats")
        .and_then(|v| cx.integer(&v, "`repeats`", 1, 1000, "repeats = 5"))
        .unwrap_or(5) as u32;
    let seed = f
        .get("seed")
        .and_then(|v| cx.natural(&v, "`seed`", "seed = 0"))
        .unwrap_or(0);
    f.finish(cx);

    let models = models?;
    if models.len() < 2 {
        cx.push(
            Diagnostic::error(Code::OutOfRange, "a comparison needs at least two models")
                .at(
                    models_value.as_ref().map_or(d.name.span, |v| v.span),
                    "one model",
                )
                .help("list the suspected original and the models to compare with it"),
        );
        return None;
    }
    // Models are comparable only when they answer the same kind of query.
    let task_of = |m: &ModelRef| match m {
        ModelRef::Victim(n) => program.victims.get(n).map(|v| (v.task, v.scale)),
        ModelRef::Attack(n) => program.attacks.get(n).map(|a| {
            (
                a.task,
                program.victims.get(&a.victim).map_or(1, |v| v.scale),
            )
        }),
    };
    let first: Option<(Task, u32)> = task_of(&models[0].0);
    for (m, v) in &models[1..] {
        if let (Some(a), Some(b)) = (first, task_of(m)) {
            if a != b {
                cx.push(
                    Diagnostic::error(Code::Incompatible, "these models do different tasks and cannot be compared")
                        .at(v.span, format!("{} at {}x", b.0.describe(), b.1))
                        .also(models[0].1.span, format!("{} at {}x", a.0.describe(), a.1))
                        .help("compare models of one task: style transfer with style transfer, super-resolution at one scale"),
                );
                return None;
            }
        }
    }
    let reference = match reference {
        Some((r, v)) => {
            if !models.iter().any(|(m, _)| *m == r) {
                cx.push(
                    Diagnostic::error(
                        Code::Incompatible,
                        "the reference model is not among `models`",
                    )
                    .at(v.span, "not compared")
                    .help("add it to `models`"),
                );
                return None;
            }
            r
        }
        None => models[0].0.clone(),
    };
    Some(Comparison {
        models: models.into_iter().map(|(m, _)| m).collect(),
        reference,
        probes: probes?,
        distance,
        repeats,
        seed,
    })
}

/// A victim, or an attack standing for its surrogates.
fn model_ref(cx: &mut Cx, value: &Value) -> Option<ModelRef> {
    let resolved = cx.resolve(value)?;
    if let ValueKind::Reference(path) = &resolved.kind {
        match cx.scope.kind_of(&path[0].text) {
            Some(Kind::Victim) => {
                return Some(ModelRef::Victim(cx.declaration(
                    &resolved,
                    Kind::Victim,
                    "a model",
                )?))
            }
            Some(Kind::Attack) => {
                return Some(ModelRef::Attack(cx.declaration(
                    &resolved,
                    Kind::Attack,
                    "a model",
                )?))
            }
            _ => {}
        }
    }
    let name = match &resolved.kind {
        ValueKind::Reference(path) => format!("`{}`", path[0].text),
        _ => resolved.describe(),
    };
    cx.push(
        Diagnostic::error(Code::WrongKind, format!("{name} is not a model"))
            .at(resolved.span, "expected a victim or an attack")
            .help("list victims and attacks (an attack stands for the surrogates it trains)"),
    );
    None
}

/// `uniform_noise { ... }`, `gaussian_noise { ... }` or `images { data = ...; count = ... }`.
fn probes(cx: &mut Cx, value: &Value, program: &Program) -> Option<Probes> {
    let kinds = [("uniform_noise", 0), ("gaussian_noise", 1), ("images", 2)];
    let example = "probes = uniform_noise { count = 256; size = 64px }";
    let (kind, mut f) = cx.typed(value, "probe distribution", &kinds, example)?;
    let count = f
        .get("count")
        .and_then(|v| cx.count(&v, "`count`", "count = 256"))
        .unwrap_or(256);
    let probes = match kind {
        0 | 1 => {
            let size = f
                .get("size")
                .and_then(|v| cx.pixels(&v, "`size`"))
                .unwrap_or(64);
            if kind == 0 {
                Some(Probes::UniformNoise { count, size })
            } else {
                let mean = f
                    .get("mean")
                    .and_then(|v| cx.real(&v, "`mean`", 0.0, 1.0, "mean = 0.5"))
                    .unwrap_or(0.5);
                let std = f
                    .get("std")
                    .and_then(|v| cx.positive(&v, "`std`", "std = 0.25"))
                    .unwrap_or(0.25);
                Some(Probes::GaussianNoise {
                    count,
                    size,
                    mean,
                    std,
                })
            }
        }
        _ => f
            .required(cx, "data", "data = noise_photos")
            .and_then(|v| data_ref(cx, &v, "`data`", program))
            .map(|(data, _)| Probes::Dataset { data, count }),
    };
    f.finish(cx);
    probes
}
