//! `victim NAME = cyclegan | ugatit | srgan | external { ... }` and its defences.

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{Defense, Program, Task, Trigger, Victim, VictimData, VictimModel};
use crate::sema::values::{format_number, Cx, Fields};
use crate::syntax::ast::{Declaration, Value, ValueKind};

use super::{data_ref, declared_type, models, Content};

pub fn victim(cx: &mut Cx, d: &Declaration, program: &Program) -> Option<Victim> {
    let example = format!("victim {} = cyclegan {{ ... }}", d.name.text);
    let ty = declared_type(
        cx,
        d,
        &["cyclegan", "ugatit", "srgan", "external"],
        &example,
    )?;
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the {ty} victim `{}`", d.name.text),
    );
    let defenses = f
        .get("defenses")
        .map_or(Some(Vec::new()), |v| defenses(cx, &v));
    let victim = if ty == "external" {
        external(cx, &mut f)
    } else {
        model(cx, ty, &mut f, program)
    };
    f.finish(cx);
    let (task, scale, model) = victim?;
    Some(Victim {
        task,
        scale,
        model,
        defenses: defenses?,
    })
}

/// A victim heist trains, or loads from weights.
fn model(
    cx: &mut Cx,
    ty: &str,
    f: &mut Fields,
    program: &Program,
) -> Option<(Task, u32, VictimModel)> {
    let architecture = models::architecture(cx, ty, f)?;
    let task = architecture.task();
    let scale = architecture.scale();
    let weights = f.get("weights");
    let training_fields: &[&str] = match task {
        Task::StyleTransfer => &["source", "style", "training", "seed"],
        Task::SuperResolution => &["pairs", "training", "seed"],
    };
    if let Some(w) = weights {
        for name in training_fields {
            if let Some(span) = f.span_of(name) {
                cx.push(
                    Diagnostic::error(Code::ConflictingFields, format!("a victim loaded from `weights` is not trained, so `{name}` has no use"))
                        .at(span, "remove this")
                        .also(w.span, "weights given here")
                        .help("either load the victim (`weights`) or train it (`source`/`style` or `pairs`, `training`)"),
                );
            }
            f.get(name);
        }
        let role = "the victim's weights file".to_string();
        let path = cx.path(
            &w,
            "`weights`",
            "weights = \"victims/monet.safetensors\"",
            role,
            false,
        )?;
        return Some((task, scale, VictimModel::Weights { architecture, path }));
    }
    let data = match task {
        Task::StyleTransfer => {
            let source = f.required(cx, "source", "source = monet2photo.trainA");
            let style = f.required(cx, "style", "style = monet2photo.trainB");
            let source = source.and_then(|v| images(cx, &v, "`source`", program));
            let style = style.and_then(|v| images(cx, &v, "`style`", program));
            Some(VictimData::Unpaired {
                source: source?,
                style: style?,
            })
        }
        Task::SuperResolution => f.required(cx, "pairs", "pairs = div2k.train").and_then(|v| {
            let (pairs, content) = data_ref(cx, &v, "`pairs`", program)?;
            match content {
                Content::HighResolution { scale: data_scale } if data_scale != scale => {
                    cx.push(
                        Diagnostic::error(
                            Code::ScaleMismatch,
                            format!("`{pairs}` pairs images at {data_scale}x, but the SRGAN upscales {scale}x"),
                        )
                        .at(v.span, format!("{data_scale}x data"))
                        .help(format!("set `scale = {scale}x` on the dataset, or `scale = {data_scale}x` on the victim")),
                    );
                    None
                }
                Content::HighResolution { .. } => Some(VictimData::Paired { pairs }),
                Content::Images => {
                    cx.push(
                        Diagnostic::error(Code::MissingGroundTruth, format!("`{pairs}` has no high-resolution images to train on"))
                            .at(v.span, "plain images, no LR/HR pairs")
                            .help("train super-resolution on `layout = div2k`, `paired` or `hr` folders, or `domain = texture`"),
                    );
                    None
                }
            }
        }),
    };
    let training = models::training(cx, ty, f.get("training"));
    let seed = f
        .get("seed")
        .and_then(|v| cx.natural(&v, "`seed`", "seed = 1"))
        .unwrap_or(0);
    Some((
        task,
        scale,
        VictimModel::Trained {
            architecture,
            data: data?,
            training,
            seed,
        },
    ))
}

/// A dataset part of single images (style-transfer training data).
fn images(
    cx: &mut Cx,
    value: &Value,
    what: &str,
    program: &Program,
) -> Option<crate::sema::program::DataRef> {
    let (r, _) = data_ref(cx, value, what, program)?;
    Some(r)
}

/// `external { command = "..." | url = "http://..."; task = ...; ... }`.
fn external(cx: &mut Cx, f: &mut Fields) -> Option<(Task, u32, VictimModel)> {
    let tasks = [
        ("style_transfer", Task::StyleTransfer),
        ("super_resolution", Task::SuperResolution),
    ];
    let task = f
        .required(cx, "task", "task = style_transfer")
        .and_then(|v| cx.word(&v, "task", &tasks));
    let scale = f.get("scale").and_then(|v| cx.scale(&v, "`scale`"));
    let image_size = f
        .get("image_size")
        .and_then(|v| cx.pixels(&v, "`image_size`"))
        .unwrap_or(256);
    let timeout_s = f
        .get("timeout")
        .and_then(|v| cx.seconds(&v, "`timeout`"))
        .unwrap_or(60.0);
    let retries = f
        .get("retries")
        .and_then(|v| cx.integer(&v, "`retries`", 0, 100, "retries = 3"))
        .unwrap_or(3) as u32;
    let command = f.get("command");
    let url = f.get("url");
    let scale = match (task, scale) {
        (Some(Task::StyleTransfer), Some(_)) => {
            cx.push(
                Diagnostic::error(
                    Code::Incompatible,
                    "`scale` applies to super-resolution victims only",
                )
                .at(
                    f.span_of("scale").unwrap_or(f.anchor()),
                    "style transfer keeps the size",
                )
                .help("remove `scale`, or set `task = super_resolution`"),
            );
            1
        }
        (Some(Task::SuperResolution), s) => s.unwrap_or(4),
        _ => 1,
    };
    let model = match (command, url) {
        (Some(c), None) => {
            let command = cx.string(
                &c,
                "`command`",
                "command = \"./victim.sh {input} {output}\"",
            )?;
            VictimModel::Command {
                command,
                timeout_s,
                retries,
                image_size,
            }
        }
        (None, Some(u)) => {
            let url = cx.string(&u, "`url`", "url = \"http://127.0.0.1:8080/translate\"")?;
            if url.starts_with("https://") {
                // Found here rather than after three failed attempts in the middle of a run.
                cx.push(
                    Diagnostic::error(Code::Incompatible, format!("`{url}` needs TLS, which this heist does not speak"))
                        .at(u.span, "https is not supported")
                        .help("serve the victim over http:// (on the loopback or a trusted network), or wrap it as a `command` that calls it with curl"),
                );
            } else if !url.starts_with("http://") {
                cx.push(
                    Diagnostic::error(Code::WrongType, format!("`{url}` is not an HTTP address"))
                        .at(u.span, "expected http://")
                        .help("write url = \"http://127.0.0.1:8080/translate\""),
                );
                return None;
            }
            VictimModel::Http {
                url,
                timeout_s,
                retries,
                image_size,
            }
        }
        (Some(c), Some(u)) => {
            cx.push(
                Diagnostic::error(
                    Code::ConflictingFields,
                    "an external victim is either a `command` or a `url`, not both",
                )
                .at(u.span, "url here")
                .also(c.span, "command here")
                .help("keep one of them"),
            );
            return None;
        }
        (None, None) => {
            cx.push(
                Diagnostic::error(Code::MissingField, "an external victim needs a `command` or a `url`")
                    .at(f.anchor(), "how is it queried?")
                    .help("add `url = \"http://127.0.0.1:8080/translate\"` or `command = \"./victim {input} {output}\"`"),
            );
            return None;
        }
    };
    Some((task?, scale, model))
}

/// `defenses = [watermark { ... }, fingerprint { ... }, perturbation { ... }]`.
fn defenses(cx: &mut Cx, value: &Value) -> Option<Vec<Defense>> {
    let items = cx.list(value, "`defenses`")?;
    let mut out: Vec<Defense> = Vec::new();
    let mut ok = true;
    for item in &items {
        match defense(cx, item) {
            Some(d) => {
                if out.iter().any(|o| o.name() == d.name()) {
                    cx.push(
                        Diagnostic::error(
                            Code::DuplicateName,
                            format!("two defences are named `{}`", d.name()),
                        )
                        .at(item.span, "same name as an earlier defence")
                        .help("give one of them a `name = \"...\"`"),
                    );
                    ok = false;
                }
                out.push(d);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn defense(cx: &mut Cx, value: &Value) -> Option<Defense> {
    let kinds = [("watermark", 0), ("fingerprint", 1), ("perturbation", 2)];
    let example = "watermark { fraction = 0.5%; trigger = blur }";
    let (kind, mut f) = cx.typed(value, "defence", &kinds, example)?;
    let name = f
        .get("name")
        .and_then(|v| cx.string(&v, "`name`", "name = \"dawn-blur\""));
    let key = f
        .get("key")
        .and_then(|v| cx.string(&v, "`key`", "key = \"secret\""))
        .unwrap_or_else(|| "heist".to_string());
    let defense = match kind {
        0 => {
            let fraction = f
                .get("fraction")
                .and_then(|v| cx.fraction(&v, "the watermarked fraction"))
                .unwrap_or(0.005);
            let trigger = f
                .get("trigger")
                .map(|v| trigger(cx, &v))
                .unwrap_or(Some(Trigger::Blur));
            trigger.map(|trigger| {
                let label = match &trigger {
                    Trigger::Blur => "blur",
                    Trigger::Monochrome => "monochrome",
                    Trigger::Text { .. } => "text",
                };
                Defense::Watermark {
                    name: name.clone().unwrap_or_else(|| format!("watermark-{label}")),
                    fraction,
                    trigger,
                    key: key.clone(),
                }
            })
        }
        1 => {
            let bits = f
                .get("bits")
                .and_then(|v| cx.integer(&v, "`bits`", 1, 4096, "bits = 100"))
                .unwrap_or(100) as u32;
            Some(Defense::Fingerprint {
                name: name
                    .clone()
                    .unwrap_or_else(|| format!("fingerprint-{bits}bit")),
                bits,
                key: key.clone(),
            })
        }
        _ => {
            let epsilon = f
                .get("epsilon")
                .and_then(|v| cx.real(&v, "`epsilon`", 0.0, 1.0, "epsilon = 0.25"))
                .unwrap_or(0.25);
            let steps = f
                .get("steps")
                .and_then(|v| cx.integer(&v, "`steps`", 1, 10_000, "steps = 10"))
                .unwrap_or(10) as u32;
            let step_size = f
                .get("step_size")
                .and_then(|v| cx.real(&v, "`step_size`", 0.0, 1.0, "step_size = 0.05"))
                .unwrap_or(epsilon / 4.0);
            Some(Defense::Perturbation {
                name: name
                    .clone()
                    .unwrap_or_else(|| format!("pgd-{}", format_number(epsilon))),
                epsilon,
                steps,
                step_size,
            })
        }
    };
    f.finish(cx);
    defense
}

/// `blur`, `monochrome` or `text("(c) victim")`.
fn trigger(cx: &mut Cx, value: &Value) -> Option<Trigger> {
    let resolved = cx.resolve(value)?;
    match &resolved.kind {
        ValueKind::Call { name, args } if name.text == "text" => {
            let a = cx.arguments(name, args, &["text"])?;
            let text = match &a[0] {
                Some(v) => cx.string(v, "the trigger text", "text(\"(c) victim\")")?,
                None => "heist".to_string(),
            };
            Some(Trigger::Text { text })
        }
        _ => match cx.word(
            &resolved,
            "watermark trigger",
            &[("blur", 0), ("monochrome", 1), ("text", 2)],
        )? {
            0 => Some(Trigger::Blur),
            1 => Some(Trigger::Monochrome),
            _ => Some(Trigger::Text {
                text: "heist".to_string(),
            }),
        },
    }
}
