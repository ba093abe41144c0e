//! `heist train` and `heist query`: the engine's jobs one at a time, outside the cache, for
//! debugging an experiment's models before running all of it. Each returns the lines it has to
//! say, or a typed error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use image::RgbImage;

use crate::diagnostics::Code;
use crate::engine::backend::Backend;
use crate::engine::jobs::{self, Context, Generator, JobError, Scratch};
use crate::engine::train::checkpoint::Checkpointing;
use crate::engine::train::{architecture_name, Observer, TrainError};
use crate::images::{grid, write_png};
use crate::metrics::image::Image;
use crate::metrics::pixel::{prepare, psnr, ssim, PixelOptions};
use crate::sema::program::{DataRef, Program, Task, VictimModel};

/// What every single-model command is given.
pub struct Common<'a> {
    pub file: &'a Path,
    pub program: &'a Program,
    pub backend: Backend,
    /// The display of a training run's steps; `true`: one that Ctrl-C stops after the current
    /// step (training with a checkpoint).
    pub observer: &'a dyn Fn(bool) -> Box<dyn Observer>,
}

/// Why a single-model command failed.
#[derive(Debug, thiserror::Error)]
pub enum SingleError {
    #[error("{what}: {source}")]
    Job { what: String, source: JobError },
    #[error("{message}")]
    Usage {
        code: Code,
        message: String,
        help: String,
    },
}

impl SingleError {
    /// Stopped by Ctrl-C with a checkpoint to continue from.
    pub fn interrupted(&self) -> bool {
        matches!(
            self,
            SingleError::Job {
                source: JobError::Train(TrainError::Interrupted { .. }),
                ..
            }
        )
    }

    fn code(&self) -> Code {
        match self {
            SingleError::Job { source, .. } => match source {
                JobError::Data(_) => Code::DataInput,
                JobError::Train(TrainError::Interrupted { .. }) => Code::Interrupted,
                JobError::Train(_) => Code::Training,
                JobError::Query(_) => Code::Query,
                JobError::Weights(_) => Code::Weights,
                JobError::Unsupported(_) => Code::Incompatible,
                JobError::WrongAnswerSize { .. } => Code::Query,
                JobError::ImageSize { .. } => Code::ImageSize,
            },
            SingleError::Usage { code, .. } => *code,
        }
    }
}

impl miette::Diagnostic for SingleError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(SingleError::code(self).as_str()))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            SingleError::Job { source, .. } => Some(Box::new(source.help())),
            SingleError::Usage { help, .. } => Some(Box::new(help.as_str())),
        }
    }
}

type Outcome = Result<String, SingleError>;

fn fail(code: Code, message: impl Into<String>, help: &str) -> SingleError {
    SingleError::Usage {
        code,
        message: message.into(),
        help: help.to_string(),
    }
}

fn job_error(what: &str, e: JobError) -> SingleError {
    SingleError::Job {
        what: what.to_string(),
        source: e,
    }
}

fn context<'a>(c: &Common<'a>) -> Result<Context<'a>, SingleError> {
    let device = c.backend.device().map_err(|e| {
        let help = miette::Diagnostic::help(&e).map_or_else(String::new, |h| h.to_string());
        fail(Code::Backend, e.to_string(), &help)
    })?;
    Ok(Context {
        program: c.program,
        base: crate::source::base_of(c.file),
        device,
        scratch: Scratch(std::env::temp_dir().join(format!("heist-{}", std::process::id()))),
    })
}

fn find_victim(program: &Program, name: &str) -> Result<(), SingleError> {
    if program.victims.contains_key(name) {
        return Ok(());
    }
    let known: Vec<&str> = program.victims.keys().map(String::as_str).collect();
    Err(fail(
        Code::UnknownName,
        format!("the experiment declares no victim `{name}`"),
        &format!("victims: {}", known.join(", ")),
    ))
}

/// The victim's generator: from `--victim-weights`, else trained now.
fn victim_generator(
    c: &Common,
    cx: &Context,
    name: &str,
    weights: Option<&Path>,
    checkpoint: Option<&Checkpointing>,
    log: &mut String,
) -> Result<Option<Generator>, SingleError> {
    let VictimModel::Trained { architecture, .. } = &c.program.victims[name].model else {
        return Ok(None);
    };
    if let Some(path) = weights {
        let g = jobs::load_generator(cx, architecture, path)
            .map_err(|e| job_error(&format!("victim `{name}`"), e))?;
        let _ = writeln!(log, "victim `{name}`: loaded {}", path.display());
        return Ok(Some(g));
    }
    let start = Instant::now();
    let g = jobs::train_victim(cx, name, checkpoint, &mut *bar(c, checkpoint))
        .map_err(|e| job_error(&format!("training victim `{name}`"), e))?;
    let _ = writeln!(
        log,
        "victim `{name}`: {} with {} parameters trained in {:.1} s on {}",
        architecture_name(architecture),
        g.parameters(),
        start.elapsed().as_secs_f64(),
        c.backend.describe()
    );
    Ok(Some(g))
}

fn save(g: &Generator, out: &Path, log: &mut String) -> Result<(), SingleError> {
    g.save(out)
        .map_err(|e| fail(Code::Io, e.to_string(), "choose a writable --out path"))?;
    let _ = writeln!(log, "weights: {}", out.display());
    Ok(())
}

/// `heist train FILE --victim NAME [--out PATH] [--checkpoint PATH]`
pub fn train_victim(
    c: &Common,
    name: &str,
    out: &Path,
    checkpoint: Option<&Checkpointing>,
) -> Outcome {
    find_victim(c.program, name)?;
    if !matches!(c.program.victims[name].model, VictimModel::Trained { .. }) {
        return Err(fail(
            Code::Incompatible,
            format!("victim `{name}` is not trained by heist"),
            "only victims declared with their training data can be trained; query the others with `heist query`",
        ));
    }
    let cx = context(c)?;
    let mut log = String::new();
    let g = victim_generator(c, &cx, name, None, checkpoint, &mut log)?.expect("trained victim");
    save(&g, out, &mut log)?;
    remove_checkpoint(checkpoint);
    Ok(log)
}

/// What `heist train --attack` is asked.
pub struct AttackRequest<'a> {
    pub attack: &'a str,
    pub point: usize,
    pub victim_weights: Option<&'a Path>,
    pub out: &'a Path,
    pub grid: Option<&'a Path>,
    pub compare: Option<&'a str>,
    /// The surrogate's training checkpoint.
    pub checkpoint: Option<&'a Checkpointing>,
}

/// The training bar; with a checkpoint, Ctrl-C stops after the current step and writes it.
fn bar(c: &Common, checkpoint: Option<&Checkpointing>) -> Box<dyn Observer> {
    (c.observer)(checkpoint.is_some())
}

/// Training finished and its weights are saved: the checkpoint has done its work.
fn remove_checkpoint(checkpoint: Option<&Checkpointing>) {
    if let Some(c) = checkpoint {
        let _ = std::fs::remove_file(&c.path);
    }
}

/// `heist train FILE --attack NAME`: victim (trained or loaded), queries, surrogate, and a
/// comparison of victim and surrogate on held-out images.
pub fn train_attack(c: &Common, r: &AttackRequest) -> Outcome {
    let Some(attack) = c.program.attacks.get(r.attack) else {
        let known: Vec<&str> = c.program.attacks.keys().map(String::as_str).collect();
        return Err(fail(
            Code::UnknownName,
            format!("the experiment declares no attack `{}`", r.attack),
            &format!("attacks: {}", known.join(", ")),
        ));
    };
    let Some(point) = attack.points.get(r.point) else {
        return Err(fail(
            Code::OutOfRange,
            format!(
                "attack `{}` has {} points; --point {} is not one",
                r.attack,
                attack.points.len(),
                r.point
            ),
            "`heist show` lists an attack's points in order, from 0",
        ));
    };
    let cx = context(c)?;
    let mut log = String::new();
    let victim_g = victim_generator(c, &cx, &attack.victim, r.victim_weights, None, &mut log)?;
    let mut victim = jobs::open_victim(
        &cx,
        &attack.victim,
        victim_g,
        attack.price_usd_per_query,
        attack.max_queries,
    )
    .map_err(|e| job_error(&format!("victim `{}`", attack.victim), e))?;
    let inputs = jobs::query_inputs(&cx, attack, point)
        .map_err(|e| job_error(&format!("attack `{}`", r.attack), e))?;
    let answers = victim
        .query(&inputs)
        .map_err(|e| job_error(&format!("querying {}", victim.describe()), e.into()))?;
    let _ = writeln!(
        log,
        "attack `{}` point {} (fraction {}%, augmentation {}, seed {}): {} queries, ${:.2}",
        r.attack,
        r.point,
        point.fraction * 100.0,
        point.augmentation,
        point.seed,
        victim.queries(),
        victim.cost_usd()
    );
    let start = Instant::now();
    let surrogate = jobs::train_surrogate(
        &cx,
        attack,
        point,
        inputs,
        answers,
        r.checkpoint,
        &mut *bar(c, r.checkpoint),
    )
    .map_err(|e| job_error(&format!("training the surrogate of `{}`", r.attack), e))?;
    let _ = writeln!(
        log,
        "surrogate: {} with {} parameters trained in {:.1} s",
        architecture_name(&attack.surrogate.architecture),
        surrogate.parameters(),
        start.elapsed().as_secs_f64()
    );
    save(&surrogate, r.out, &mut log)?;
    remove_checkpoint(r.checkpoint);

    // Victim and surrogate on held-out images.
    let held_out = DataRef {
        dataset: r
            .compare
            .map(str::to_string)
            .unwrap_or_else(|| default_compare(c.program, r.attack)),
        part: None,
    };
    if !c.program.datasets.contains_key(&held_out.dataset) {
        return Err(fail(
            Code::UnknownName,
            format!("no dataset `{}` to compare on", held_out.dataset),
            "name a dataset of the experiment with --compare",
        ));
    }
    let images: Vec<RgbImage> = cx
        .samples(&held_out)
        .map_err(|e| job_error(&format!("dataset `{}`", held_out.dataset), e.into()))?
        .into_iter()
        .map(|s| s.image)
        .collect();
    let victim_out = victim
        .query(&images)
        .map_err(|e| job_error(&format!("querying {}", victim.describe()), e.into()))?;
    let surrogate_out = jobs::translate(&cx, &surrogate, &images);
    let options = PixelOptions {
        y_channel: attack.task == Task::SuperResolution,
        crop_border: if attack.task == Task::SuperResolution {
            attack.surrogate.architecture.scale() as usize
        } else {
            0
        },
    };
    let (mut p, mut s) = (0.0, 0.0);
    for (v, o) in victim_out.iter().zip(&surrogate_out) {
        let (v, o) = (
            prepare(&Image::from_rgb(v), options),
            prepare(&Image::from_rgb(o), options),
        );
        p += psnr(&v, &o).min(100.0);
        s += ssim(&v, &o);
    }
    let n = images.len().max(1) as f64;
    let _ = writeln!(
        log,
        "surrogate vs victim on `{}` ({} images{}): PSNR {:.2} dB, SSIM {:.4}",
        held_out.dataset,
        images.len(),
        if options.y_channel { ", Y channel" } else { "" },
        p / n,
        s / n
    );
    if let Some(path) = r.grid {
        let rows: Vec<Vec<&RgbImage>> = (0..images.len().min(8))
            .map(|i| vec![&images[i], &victim_out[i], &surrogate_out[i]])
            .collect();
        write_png(path, &grid(&rows)).map_err(|e| {
            fail(
                Code::Io,
                format!("cannot write {}: {e}", path.display()),
                "choose a writable --grid path",
            )
        })?;
        let _ = writeln!(log, "grid (input | victim | surrogate): {}", path.display());
    }
    Ok(log)
}

/// The victim test set of the first evaluation of `attack`, else its own query data.
fn default_compare(program: &Program, attack: &str) -> String {
    program
        .evaluations
        .values()
        .find(|e| e.attacks.iter().any(|a| a == attack))
        .map(|e| e.victim_test.dataset.clone())
        .unwrap_or_else(|| program.attacks[attack].queries.dataset.clone())
}

/// `heist query FILE --victim NAME --data DATASET --out DIR`
pub fn query(c: &Common, name: &str, weights: Option<&Path>, data: &str, out: &Path) -> Outcome {
    find_victim(c.program, name)?;
    if !c.program.datasets.contains_key(data) {
        return Err(fail(
            Code::UnknownName,
            format!("the experiment declares no dataset `{data}`"),
            "name one of its datasets with --data",
        ));
    }
    let cx = context(c)?;
    let mut log = String::new();
    let g = victim_generator(c, &cx, name, weights, None, &mut log)?;
    let mut victim = jobs::open_victim(&cx, name, g, 0.0, None)
        .map_err(|e| job_error(&format!("victim `{name}`"), e))?;
    let samples = cx
        .samples(&DataRef {
            dataset: data.to_string(),
            part: None,
        })
        .map_err(|e| job_error(&format!("dataset `{data}`"), e.into()))?;
    let (names, images): (Vec<String>, Vec<RgbImage>) =
        samples.into_iter().map(|s| (s.name, s.image)).unzip();
    let answers = victim
        .query(&images)
        .map_err(|e| job_error(&format!("querying {}", victim.describe()), e.into()))?;
    for (name, answer) in names.iter().zip(&answers) {
        let path: PathBuf = out.join(Path::new(name).with_extension("png"));
        write_png(&path, answer).map_err(|e| {
            fail(
                Code::Io,
                format!("cannot write {}: {e}", path.display()),
                "choose a writable --out folder",
            )
        })?;
    }
    let _ = writeln!(
        log,
        "{} answers of {} in {}",
        answers.len(),
        victim.describe(),
        out.display()
    );
    Ok(log)
}
