//! `evaluation NAME { attacks = ...; victim_test = ...; cells = [A, B, C]; metrics = ... }`.

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{
    Cell, DataRef, Defense, Evaluation, Extractor, GroundTruth, Metric, Program, Task,
};
use crate::sema::values::Cx;
use crate::syntax::ast::{Declaration, Kind, Value, ValueKind};

use super::{check_side, data_ref, input_side, untyped, Content};

pub fn evaluation(cx: &mut Cx, d: &Declaration, program: &Program) -> Option<Evaluation> {
    untyped(cx, d);
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the evaluation `{}`", d.name.text),
    );
    let setting = f
        .get("setting")
        .and_then(|v| cx.string(&v, "`setting`", "setting = \"Monet-to-Photo\""))
        .unwrap_or_else(|| d.name.text.clone());
    let attacks_value = f.required(cx, "attacks", "attacks = [steal_monet]");
    let attacks: Option<Vec<(String, Value)>> = attacks_value.as_ref().and_then(|v| {
        let items = cx.list(v, "`attacks`")?;
        let names: Vec<Option<(String, Value)>> = items
            .iter()
            .map(|i| {
                cx.declaration(i, Kind::Attack, "`attacks`")
                    .map(|n| (n, i.clone()))
            })
            .collect();
        names.into_iter().collect()
    });
    let victim_test = f
        .required(cx, "victim_test", "victim_test = monet2photo.testA")
        .and_then(|v| data_ref(cx, &v, "`victim_test`", program).map(|r| (r, v)));
    let benchmarks: Option<Vec<((DataRef, Content), Value)>> = match f.get("benchmarks") {
        Some(v) => cx.list(&v, "`benchmarks`").and_then(|items| {
            let refs: Vec<Option<((DataRef, Content), Value)>> = items
                .iter()
                .map(|i| data_ref(cx, i, "`benchmarks`", program).map(|r| (r, i.clone())))
                .collect();
            refs.into_iter().collect()
        }),
        None => Some(Vec::new()),
    };
    let ground_truth_value = f.get("ground_truth");
    let ground_truth_ref = ground_truth_value
        .as_ref()
        .and_then(|v| data_ref(cx, v, "`ground_truth`", program).map(|(r, _)| r));
    let cells_value = f.get("cells");
    let cells: Option<Vec<(Cell, Value)>> = match &cells_value {
        Some(v) => cx.list(v, "`cells`").and_then(|items| {
            let cells: Vec<Option<(Cell, Value)>> = items
                .iter()
                .map(|i| cx.word(i, "cell", &Cell::ALL).map(|c| (c, i.clone())))
                .collect();
            cells.into_iter().collect()
        }),
        None => None,
    };
    let metrics_value = f.required(cx, "metrics", "metrics = [fid, kid]");
    let metrics: Option<Vec<(Metric, Value)>> = metrics_value.as_ref().and_then(|v| {
        let items = cx.list(v, "`metrics`")?;
        let metrics: Vec<Option<(Metric, Value)>> = items
            .iter()
            .map(|i| metric(cx, i).map(|m| (m, i.clone())))
            .collect();
        metrics.into_iter().collect()
    });
    let samples = f
        .get("samples")
        .and_then(|v| cx.integer(&v, "`samples`", 0, 1000, "samples = 8"))
        .unwrap_or(8) as u32;
    f.finish(cx);

    let attacks = attacks?;
    let known: Vec<&crate::sema::program::Attack> = attacks
        .iter()
        .filter_map(|(n, _)| program.attacks.get(n))
        .collect();
    if known.len() < attacks.len() {
        return None; // An attack failed to check; its errors are already reported.
    }
    let task = known.first().map(|a| a.task)?;
    let scale = known
        .first()
        .and_then(|a| program.victims.get(&a.victim))
        .map_or(1, |v| v.scale);
    for ((name, value), attack) in attacks.iter().zip(&known) {
        let attack_scale = program.victims.get(&attack.victim).map_or(1, |v| v.scale);
        if attack.task != task || attack_scale != scale {
            cx.push(
                Diagnostic::error(Code::Incompatible, format!("the attack `{name}` does another task than the first attack"))
                    .at(value.span, format!("{} at {attack_scale}x", attack.task.describe()))
                    .help("an evaluation compares attacks on one task; split it into one evaluation per setting"),
            );
            return None;
        }
    }

    let cells = cells.unwrap_or_else(|| {
        let default = match (task, &ground_truth_ref) {
            (Task::StyleTransfer, None) => vec![Cell::B],
            _ => vec![Cell::A, Cell::B, Cell::C],
        };
        // Default cells point at the block: that is where a fix (a `cells` line) goes.
        let here = Value {
            kind: ValueKind::Bool(true),
            span: d.name.span,
        };
        default.into_iter().map(|c| (c, here.clone())).collect()
    });
    let metrics = metrics?;
    let (victim_test, victim_test_value) = victim_test?;
    let benchmarks = benchmarks?;
    // Every test set reaches the victims and the surrogates: a size their generators cannot
    // take is found here, not in the middle of a run.
    let sets = std::iter::once((&victim_test, &victim_test_value))
        .chain(benchmarks.iter().map(|(r, v)| (r, v)));
    for ((r, _), value) in sets {
        let Some(side) = input_side(program, r) else {
            continue;
        };
        for (attack, (name, _)) in known.iter().zip(&attacks) {
            let mut models = vec![(
                format!("the surrogate of `{name}`"),
                &attack.surrogate.architecture,
            )];
            if let Some(architecture) = program
                .victims
                .get(&attack.victim)
                .and_then(|v| v.model.architecture())
            {
                models.push((format!("the victim `{}`", attack.victim), architecture));
            }
            for (who, architecture) in models {
                check_side(cx, r, side, value, &who, architecture);
            }
        }
    }
    let needs_truth: Vec<&(Cell, Value)> = cells
        .iter()
        .filter(|(c, _)| c.needs_ground_truth())
        .collect();

    let ground_truth = match task {
        Task::StyleTransfer => match (&ground_truth_ref, needs_truth.first()) {
            (Some(r), _) => GroundTruth::StyleSet { data: r.clone() },
            (None, Some((cell, value))) => {
                cx.push(
                    Diagnostic::error(
                        Code::MissingGroundTruth,
                        format!("cell ({cell:?}) compares with the ground-truth style, but the evaluation names none"),
                    )
                    .at(value.span, "needs a ground truth")
                    .help("add `ground_truth = monet2photo.testB` (the style set), or measure only cell B"),
                );
                return None;
            }
            (None, None) => GroundTruth::None,
        },
        Task::SuperResolution => {
            if let Some(v) = &ground_truth_value {
                cx.push(
                    Diagnostic::error(
                        Code::ConflictingFields,
                        "super-resolution compares with each test image's own high-resolution original",
                    )
                    .at(v.span, "not used")
                    .help("remove `ground_truth`; the test sets' HR images are the ground truth"),
                );
            }
            if let Some((cell, _)) = needs_truth.first() {
                let sets = std::iter::once((&victim_test, &victim_test_value))
                    .chain(benchmarks.iter().map(|(r, v)| (r, v)));
                for ((r, content), value) in sets {
                    if *content == Content::Images {
                        cx.push(
                            Diagnostic::error(
                                Code::MissingGroundTruth,
                                format!("cell ({cell:?}) needs high-resolution originals, but `{r}` has none"),
                            )
                            .at(value.span, "low-resolution images only")
                            .help("use a dataset with `layout = div2k`, `paired` or `hr` (or `domain = texture`), or measure only cell B"),
                        );
                    }
                }
            }
            GroundTruth::HighResolution
        }
    };

    // SSIM and PSNR pair images one to one; a style set has no partner for each output.
    for (metric, value) in &metrics {
        if task == Task::StyleTransfer && metric.is_paired() {
            if let Some((cell, _)) = needs_truth.first() {
                cx.push(
                    Diagnostic::error(
                        Code::Incompatible,
                        format!(
                            "{} compares images pairwise, but cell ({cell:?}) compares with the style set, which has no pairs",
                            metric.name().to_uppercase()
                        ),
                    )
                    .at(value.span, "a paired metric")
                    .help("use fid or kid for style transfer, or measure only cell B (surrogate vs victim, same inputs)"),
                );
            }
        }
    }
    for (i, (metric, value)) in metrics.iter().enumerate() {
        if metrics[..i].iter().any(|(m, _)| m.name() == metric.name()) {
            cx.push(
                Diagnostic::error(Code::DuplicateField, format!("`{}` is measured twice", metric.name()))
                    .at(value.span, "again")
                    .help("measure each metric once per evaluation; use a second evaluation for another convention"),
            );
        }
    }

    // Defence cells need a victim with that defence.
    for (cell, value) in &cells {
        let wanted = match cell {
            Cell::Watermark => "watermark",
            Cell::Fingerprint => "fingerprint",
            _ => continue,
        };
        let has = known.iter().any(|a| {
            program.victims.get(&a.victim).is_some_and(|v| {
                v.defenses.iter().any(|d| match d {
                    Defense::Watermark { .. } => wanted == "watermark",
                    Defense::Fingerprint { .. } => wanted == "fingerprint",
                    Defense::Perturbation { .. } => false,
                })
            })
        });
        if !has {
            cx.push(
                Diagnostic::error(
                    Code::Incompatible,
                    format!("no attacked victim has a {wanted} to check"),
                )
                .at(
                    value.span,
                    format!("needs a victim with a `{wanted}` defence"),
                )
                .help(format!(
                    "add `defenses = [{wanted} {{ ... }}]` to the victim, or remove this cell"
                )),
            );
        }
    }

    Some(Evaluation {
        setting,
        attacks: attacks.into_iter().map(|(n, _)| n).collect(),
        victim_test: victim_test.0,
        benchmarks: benchmarks.into_iter().map(|((r, _), _)| r).collect(),
        ground_truth,
        cells: cells.into_iter().map(|(c, _)| c).collect(),
        metrics: metrics.into_iter().map(|(m, _)| m).collect(),
        samples,
    })
}

/// `fid`, `kid`, `ssim`, `psnr`, or a block with options: `ssim { y_channel = true; crop_border = 4 }`.
pub fn metric(cx: &mut Cx, value: &Value) -> Option<Metric> {
    let names = [("fid", 0), ("kid", 1), ("ssim", 2), ("psnr", 3)];
    let example = "ssim { y_channel = true; crop_border = 4px }";
    let (which, mut f) = cx.typed(value, "metric", &names, example)?;
    let anchor = f.anchor();
    let metric = if which < 2 {
        let extractors = [("inception_v3", 0), ("random_conv", 1)];
        let kind = f
            .get("extractor")
            .and_then(|v| cx.word(&v, "feature extractor", &extractors))
            .unwrap_or(0);
        let weights = f.get("weights").and_then(|v| {
            let role = "the Inception v3 weights file".to_string();
            cx.path(
                &v,
                "`weights`",
                "weights = \"pt_inception-2015-12-05.pth\"",
                role,
                false,
            )
        });
        let seed = f
            .get("seed")
            .and_then(|v| cx.natural(&v, "`seed`", "seed = 0"));
        if kind == 1 && weights.is_some() {
            cx.push(
                Diagnostic::error(Code::ConflictingFields, "the random-convolution extractor has no weights file")
                    .at(f.span_of("weights").unwrap_or(anchor), "not used")
                    .help("its weights come from `seed`; remove `weights` or use `extractor = inception_v3`"),
            );
        }
        if kind == 0 && seed.is_some() {
            cx.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    "Inception v3 has trained weights, not a seed",
                )
                .at(f.span_of("seed").unwrap_or(anchor), "not used")
                .help("remove `seed`, or use `extractor = random_conv`"),
            );
        }
        let extractor = if kind == 0 {
            Extractor::InceptionV3 { weights }
        } else {
            Extractor::RandomConv {
                seed: seed.unwrap_or(0),
            }
        };
        if which == 0 {
            Metric::Fid { extractor }
        } else {
            Metric::Kid { extractor }
        }
    } else {
        let y_channel = f
            .get("y_channel")
            .and_then(|v| cx.boolean(&v, "`y_channel`"))
            .unwrap_or(false);
        let crop_border = f
            .get("crop_border")
            .and_then(|v| cx.pixels_or_zero(&v, "`crop_border`"))
            .unwrap_or(0);
        if which == 2 {
            Metric::Ssim {
                y_channel,
                crop_border,
            }
        } else {
            Metric::Psnr {
                y_channel,
                crop_border,
            }
        }
    };
    f.finish(cx);
    Some(metric)
}
