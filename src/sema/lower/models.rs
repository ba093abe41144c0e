//! Architectures and training recipes, shared by victims and surrogates. Defaults are the
//! reference implementations' (junyanz CycleGAN/Pix2Pix, U-GAT-IT, Ledig et al.'s SRGAN).

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{
    Architecture, ContentLoss, CycleGan, Length, Pix2Pix, Schedule, SrResNet, Srgan, Training,
    Ugatit, Vgg19Layer,
};
use crate::sema::values::{Cx, Fields};
use crate::syntax::ast::{Value, ValueKind};

/// Reads an architecture's hyperparameters from the fields of its block.
pub fn architecture(cx: &mut Cx, ty: &str, f: &mut Fields) -> Option<Architecture> {
    match ty {
        "cyclegan" => {
            let image_size = image_size(cx, f, 256);
            let (filters, residual_blocks) = generator(cx, f, ty, 64, 9);
            let (discriminator_filters, discriminator_layers) = patch_discriminator(cx, f);
            check_divisible(
                cx,
                f,
                image_size,
                4,
                "the ResNet generator down-samples twice",
            );
            check_patchgan(cx, f, image_size, discriminator_layers);
            Some(Architecture::Cyclegan(CycleGan {
                image_size,
                generator_filters: filters,
                residual_blocks,
                discriminator_filters,
                discriminator_layers,
            }))
        }
        "ugatit" => {
            let image_size = image_size(cx, f, 256);
            let (filters, residual_blocks) = generator(cx, f, ty, 64, 4);
            let light = f
                .get("light")
                .and_then(|v| cx.boolean(&v, "`light`"))
                .unwrap_or(false);
            check_divisible(
                cx,
                f,
                image_size,
                4,
                "the U-GAT-IT generator down-samples twice",
            );
            let (mut discriminator_filters, mut global_layers, mut local_layers) = (64, 7, 5);
            let example = "discriminator { filters = 64; global_layers = 7; local_layers = 5 }";
            f.nested(
                cx,
                "discriminator",
                "the ugatit `discriminator`",
                example,
                |cx, d| {
                    read_u32(cx, d, "filters", 1, 4096, &mut discriminator_filters);
                    read_u32(cx, d, "global_layers", 3, 9, &mut global_layers);
                    read_u32(cx, d, "local_layers", 3, 9, &mut local_layers);
                },
            );
            for (which, layers) in [("global", global_layers), ("local", local_layers)] {
                // Reflection-padded 4x4 convolutions: `layers - 2` halvings, then two that take 1 px each.
                if (image_size >> (layers - 2)) < 3 {
                    let min = 3u32 << (layers - 2);
                    cx.push(
                        Diagnostic::error(
                            Code::ImageSize,
                            format!("the {which} discriminator with {layers} layers needs images of at least {min}px, not {image_size}px"),
                        )
                        .at(f.span_of("image_size").unwrap_or(f.anchor()), "too small for the discriminator")
                        .help(format!(
                            "use image_size = {}px or fewer layers: discriminator {{ {which}_layers = {} }}",
                            min.next_multiple_of(4),
                            layers.saturating_sub(1).max(3)
                        )),
                    );
                }
            }
            Some(Architecture::Ugatit(Ugatit {
                image_size,
                filters,
                residual_blocks,
                light,
                discriminator_filters,
                global_layers,
                local_layers,
            }))
        }
        "pix2pix" => {
            let image_size = image_size(cx, f, 256);
            let (mut filters, mut depth, mut dropout) =
                (64, image_size.trailing_zeros().clamp(5, 8), true);
            let example = "generator { filters = 64; depth = 8 }";
            f.nested(
                cx,
                "generator",
                "the pix2pix `generator`",
                example,
                |cx, g| {
                    read_u32(cx, g, "filters", 1, 4096, &mut filters);
                    read_u32(cx, g, "depth", 5, 10, &mut depth);
                    if let Some(x) = g.get("dropout").and_then(|v| cx.boolean(&v, "`dropout`")) {
                        dropout = x;
                    }
                },
            );
            let (discriminator_filters, discriminator_layers) = patch_discriminator(cx, f);
            let why = format!("a U-Net with depth {depth} halves the image {depth} times");
            check_divisible(cx, f, image_size, 1 << depth, &why);
            check_patchgan(cx, f, image_size, discriminator_layers);
            Some(Architecture::Pix2pix(Pix2Pix {
                image_size,
                generator_filters: filters,
                unet_depth: depth,
                discriminator_filters,
                discriminator_layers,
                dropout,
            }))
        }
        "srgan" | "srresnet" => {
            let scale = f
                .get("scale")
                .and_then(|v| cx.scale(&v, "`scale`"))
                .unwrap_or(4);
            let (filters, residual_blocks) = generator(cx, f, ty, 64, 16);
            let hr_crop = f
                .get("hr_crop")
                .and_then(|v| cx.pixels(&v, "`hr_crop`"))
                .unwrap_or(96);
            if !hr_crop.is_multiple_of(scale) || hr_crop < 16 {
                cx.push(
                    Diagnostic::error(
                        Code::ImageSize,
                        format!("`hr_crop` of {hr_crop}px must be at least 16px and a multiple of the scale {scale}x"),
                    )
                    .at(f.span_of("hr_crop").unwrap_or(f.anchor()), "cannot be downscaled evenly")
                    .help(format!("use hr_crop = {}px", (hr_crop.max(16) / scale).max(1) * scale)),
                );
            }
            if ty == "srresnet" {
                return Some(Architecture::Srresnet(SrResNet {
                    scale,
                    filters,
                    residual_blocks,
                    hr_crop,
                }));
            }
            let mut discriminator_filters = 64;
            let example = "discriminator { filters = 64 }";
            f.nested(
                cx,
                "discriminator",
                "the srgan `discriminator`",
                example,
                |cx, d| {
                    read_u32(cx, d, "filters", 1, 4096, &mut discriminator_filters);
                },
            );
            Some(Architecture::Srgan(Srgan {
                scale,
                filters,
                residual_blocks,
                discriminator_filters,
                hr_crop,
            }))
        }
        _ => None,
    }
}

/// Overwrites `slot` with the integer field `name` when it is set and in `[min, max]`.
fn read_u32(cx: &mut Cx, f: &mut Fields, name: &'static str, min: i64, max: i64, slot: &mut u32) {
    let example = format!("{name} = {slot}");
    if let Some(x) = f
        .get(name)
        .and_then(|v| cx.integer(&v, &format!("`{name}`"), min, max, &example))
    {
        *slot = x as u32;
    }
}

fn image_size(cx: &mut Cx, f: &mut Fields, default: u32) -> u32 {
    f.get("image_size")
        .and_then(|v| cx.pixels(&v, "`image_size`"))
        .unwrap_or(default)
}

/// `generator { filters = N; residual_blocks = N }`.
fn generator(cx: &mut Cx, f: &mut Fields, ty: &str, filters: u32, blocks: u32) -> (u32, u32) {
    let (mut filters, mut blocks) = (filters, blocks);
    let example = "generator { filters = 64; residual_blocks = 9 }";
    f.nested(
        cx,
        "generator",
        &format!("the {ty} `generator`"),
        example,
        |cx, g| {
            read_u32(cx, g, "filters", 1, 4096, &mut filters);
            read_u32(cx, g, "residual_blocks", 1, 64, &mut blocks);
        },
    );
    (filters, blocks)
}

/// `discriminator { filters = 64; layers = 3 }` of a PatchGAN (70x70 with 3 layers).
fn patch_discriminator(cx: &mut Cx, f: &mut Fields) -> (u32, u32) {
    let (mut filters, mut layers) = (64, 3);
    let example = "discriminator { filters = 64; layers = 3 }";
    f.nested(
        cx,
        "discriminator",
        "the PatchGAN `discriminator`",
        example,
        |cx, d| {
            read_u32(cx, d, "filters", 1, 4096, &mut filters);
            read_u32(cx, d, "layers", 1, 8, &mut layers);
        },
    );
    (filters, layers)
}

fn check_divisible(cx: &mut Cx, f: &Fields, size: u32, by: u32, why: &str) {
    if !size.is_multiple_of(by) {
        let lower = (size / by).max(1) * by;
        cx.push(
            Diagnostic::error(
                Code::ImageSize,
                format!("an image size of {size}px does not fit this generator"),
            )
            .at(
                f.span_of("image_size").unwrap_or(f.anchor()),
                format!("must be a multiple of {by}"),
            )
            .help(format!(
                "{why}; use image_size = {lower}px or {}px",
                lower + by
            )),
        );
    }
}

/// A PatchGAN with `layers` stride-2 convolutions and two 4x4 stride-1 convolutions needs at
/// least 2^(layers+2) pixels.
fn check_patchgan(cx: &mut Cx, f: &Fields, size: u32, layers: u32) {
    let min = 1u32 << (layers + 2);
    if size < min {
        cx.push(
            Diagnostic::error(
                Code::ImageSize,
                format!("a PatchGAN discriminator with {layers} layers needs images of at least {min}px, not {size}px"),
            )
            .at(f.span_of("image_size").unwrap_or(f.anchor()), "too small for the discriminator")
            .help(format!("use image_size = {min}px or fewer discriminator layers")),
        );
    }
}

/// Loss weights per architecture, with the reference values.
fn default_losses(ty: &str) -> &'static [(&'static str, f64)] {
    match ty {
        "cyclegan" => &[("adversarial", 1.0), ("cycle", 10.0), ("identity", 0.5)],
        "ugatit" => &[
            ("adversarial", 1.0),
            ("cycle", 10.0),
            ("identity", 10.0),
            ("cam", 1000.0),
        ],
        "pix2pix" => &[("adversarial", 1.0), ("l1", 100.0)],
        "srgan" => &[("content", 1.0), ("adversarial", 0.001)],
        _ => &[("mse", 1.0)],
    }
}

/// The reference recipe of each architecture.
fn default_training(ty: &str) -> Training {
    let losses: BTreeMap<String, f64> = default_losses(ty)
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let base = Training {
        length: Length::Epochs(200),
        batch_size: 1,
        learning_rate: 2e-4,
        discriminator_learning_rate: 2e-4,
        betas: [0.5, 0.999],
        weight_decay: 0.0,
        schedule: Schedule::LinearDecay { start: 0.5 },
        losses,
        pool_size: None,
        content_loss: None,
        pretrain: None,
    };
    match ty {
        "cyclegan" => Training {
            pool_size: Some(50),
            ..base
        },
        "ugatit" => Training {
            length: Length::Steps(1_000_000),
            learning_rate: 1e-4,
            discriminator_learning_rate: 1e-4,
            weight_decay: 1e-4,
            ..base
        },
        "srgan" => Training {
            length: Length::Steps(200_000),
            batch_size: 16,
            learning_rate: 1e-4,
            discriminator_learning_rate: 1e-4,
            betas: [0.9, 0.999],
            schedule: Schedule::StepDecay {
                at: 0.5,
                factor: 0.1,
            },
            content_loss: Some(ContentLoss::Pixel),
            pretrain: Some(Length::Steps(1_000_000)),
            ..base
        },
        "srresnet" => Training {
            length: Length::Steps(1_000_000),
            batch_size: 16,
            learning_rate: 1e-4,
            discriminator_learning_rate: 1e-4,
            betas: [0.9, 0.999],
            schedule: Schedule::Constant,
            ..base
        },
        _ => base,
    }
}

/// `training { ... }` for an architecture, defaults filled in.
pub fn training(cx: &mut Cx, ty: &str, value: Option<Value>) -> Training {
    let mut t = default_training(ty);
    let Some(value) = value else {
        return t;
    };
    let Some((_, block)) = cx.object(
        &value,
        "`training`",
        "training { epochs = 200; batch_size = 1 }",
    ) else {
        return t;
    };
    let mut f = cx.fields(&block, value.span, &format!("the {ty} `training`"));
    let epochs = f
        .get("epochs")
        .and_then(|v| cx.count(&v, "`epochs`", "epochs = 200"));
    let steps = f
        .get("steps")
        .and_then(|v| cx.count(&v, "`steps`", "steps = 1000"));
    match (epochs, steps) {
        (Some(_), Some(_)) => cx.push(
            Diagnostic::error(
                Code::ConflictingFields,
                "training length is given twice: `epochs` and `steps`",
            )
            .at(f.span_of("steps").unwrap_or(value.span), "also given here")
            .also(f.span_of("epochs").unwrap_or(value.span), "given here")
            .help("keep either `epochs` or `steps`"),
        ),
        (Some(e), None) => t.length = Length::Epochs(e),
        (None, Some(s)) => t.length = Length::Steps(s),
        (None, None) => {}
    }
    if let Some(x) = f
        .get("batch_size")
        .and_then(|v| cx.integer(&v, "`batch_size`", 1, 4096, "batch_size = 1"))
    {
        t.batch_size = x as u32;
    }
    if let Some(x) = f
        .get("learning_rate")
        .and_then(|v| cx.real(&v, "`learning_rate`", 0.0, 10.0, "learning_rate = 2e-4"))
    {
        t.discriminator_learning_rate = x;
        t.learning_rate = x;
    }
    if let Some(x) = f.get("discriminator_learning_rate").and_then(|v| {
        cx.real(
            &v,
            "`discriminator_learning_rate`",
            0.0,
            10.0,
            "discriminator_learning_rate = 2e-4",
        )
    }) {
        t.discriminator_learning_rate = x;
    }
    if let Some(v) = f.get("betas") {
        if let Some(items) = cx.list(&v, "`betas`") {
            let betas: Vec<Option<f64>> = items
                .iter()
                .map(|b| cx.real(b, "an Adam beta", 0.0, 0.999999, "betas = [0.5, 0.999]"))
                .collect();
            match betas.as_slice() {
                [Some(a), Some(b)] => t.betas = [*a, *b],
                [_, _] => {}
                _ => cx.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!("`betas` needs two values, found {}", items.len()),
                    )
                    .at(v.span, "Adam has two betas")
                    .help("write betas = [0.5, 0.999]"),
                ),
            }
        }
    }
    if let Some(x) = f
        .get("weight_decay")
        .and_then(|v| cx.real(&v, "`weight_decay`", 0.0, 1.0, "weight_decay = 1e-4"))
    {
        t.weight_decay = x;
    }
    if let Some(v) = f.get("schedule") {
        if let Some(s) = schedule(cx, &v) {
            t.schedule = s;
        }
    }
    losses(cx, ty, &mut f, &mut t.losses);
    if ty == "cyclegan" {
        if let Some(x) = f
            .get("pool_size")
            .and_then(|v| cx.integer(&v, "`pool_size`", 0, 10_000, "pool_size = 50"))
        {
            t.pool_size = Some(x as u32);
        }
    }
    if ty == "srgan" {
        if let Some(v) = f.get("content_loss") {
            if let Some(c) = content_loss(cx, &v) {
                t.content_loss = Some(c);
            }
        }
        if let Some(x) = f
            .get("pretrain_steps")
            .and_then(|v| cx.natural(&v, "`pretrain_steps`", "pretrain_steps = 1000"))
        {
            t.pretrain = Some(Length::Steps(x));
        }
    }
    f.finish(cx);
    t
}

/// `constant`, `linear_decay(start = 50%)` or `step_decay(at = 50%, factor = 0.1)`.
fn schedule(cx: &mut Cx, value: &Value) -> Option<Schedule> {
    let resolved = cx.resolve(value)?;
    let example = "schedule = linear_decay(start = 50%)";
    match &resolved.kind {
        ValueKind::Reference(p) if p.len() == 1 && p[0].text == "constant" => {
            Some(Schedule::Constant)
        }
        ValueKind::Call { name, args } if name.text == "linear_decay" => {
            let a = cx.arguments(name, args, &["start"])?;
            let start = match &a[0] {
                Some(v) => cx.fraction(v, "the decay start")?,
                None => 0.5,
            };
            Some(Schedule::LinearDecay { start })
        }
        ValueKind::Call { name, args } if name.text == "step_decay" => {
            let a = cx.arguments(name, args, &["at", "factor"])?;
            let at = match &a[0] {
                Some(v) => cx.fraction(v, "the decay step")?,
                None => 0.5,
            };
            let factor = match &a[1] {
                Some(v) => cx.real(
                    v,
                    "the decay factor",
                    0.0,
                    1.0,
                    "step_decay(at = 50%, factor = 0.1)",
                )?,
                None => 0.1,
            };
            Some(Schedule::StepDecay { at, factor })
        }
        _ => {
            cx.push(
                Diagnostic::error(Code::WrongType, format!("unknown learning-rate schedule {}", resolved.describe()))
                    .at(resolved.span, "not a schedule")
                    .help(format!(
                        "the schedules are `constant`, `linear_decay(start = 50%)` and `step_decay(at = 50%, factor = 0.1)`; e.g. {example}"
                    )),
            );
            None
        }
    }
}

/// `losses { cycle = 10; identity = 0.5 }`: only the architecture's own losses.
fn losses(cx: &mut Cx, ty: &str, f: &mut Fields, into: &mut BTreeMap<String, f64>) {
    f.nested(
        cx,
        "losses",
        &format!("the {ty} `losses`"),
        "losses { cycle = 10 }",
        |cx, l| {
            for (name, _) in default_losses(ty) {
                let what = format!("the `{name}` loss weight");
                if let Some(w) = l
                    .get(name)
                    .and_then(|v| cx.real(&v, &what, 0.0, 1e6, "cycle = 10"))
                {
                    into.insert(name.to_string(), w);
                }
            }
        },
    );
}

/// `pixel` or `vgg19(weights = "vgg19.pth", layer = "relu5_4")`.
fn content_loss(cx: &mut Cx, value: &Value) -> Option<ContentLoss> {
    let resolved = cx.resolve(value)?;
    match &resolved.kind {
        ValueKind::Reference(p) if p.len() == 1 && p[0].text == "pixel" => Some(ContentLoss::Pixel),
        ValueKind::Call { name, args } if name.text == "vgg19" => {
            let a = cx.arguments(name, args, &["weights", "layer"])?;
            let Some(weights) = &a[0] else {
                cx.push(
                    Diagnostic::error(
                        Code::MissingField,
                        "the VGG19 content loss needs its weights file",
                    )
                    .at(resolved.span, "`weights` is missing")
                    .help("write vgg19(weights = \"vgg19.pth\"); heist downloads nothing"),
                );
                return None;
            };
            let role = "the VGG19 weights file".to_string();
            let weights = cx.path(
                weights,
                "the VGG19 weights",
                "\"weights/vgg19.pth\"",
                role,
                false,
            )?;
            let layer = match &a[1] {
                Some(v) => {
                    let layer = cx.string(v, "the VGG19 layer", "\"relu5_4\"")?;
                    if let Err(why) = Vgg19Layer::parse(&layer) {
                        cx.push(
                            Diagnostic::error(Code::OutOfRange, why)
                                .at(v.span, "not a layer of VGG19")
                                .help("SRGAN's VGG54 loss is layer = \"relu5_4\""),
                        );
                        return None;
                    }
                    layer
                }
                None => "relu5_4".to_string(),
            };
            Some(ContentLoss::Vgg19 { weights, layer })
        }
        _ => {
            cx.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!("unknown content loss {}", resolved.describe()),
                )
                .at(resolved.span, "not a content loss")
                .help("write `pixel` or `vgg19(weights = \"vgg19.pth\")`"),
            );
            None
        }
    }
}
