//! The engine's jobs on a checked program: train a victim, open a victim behind its query
//! interface, ask it an attack point's queries (its defences applied), train a surrogate on the
//! answers, translate a test set with either. `heist train`, `heist query` and the runner call
//! these and nothing lower.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use image::RgbImage;

use super::data::{self, attack_side, DataError, Sample};
use super::defense;
pub use super::defense::{bit_accuracy, triggered};
pub use super::models::Generator;
use super::query::{Answer, CommandVictim, HttpVictim, LocalVictim, QueryError, Victim};
use super::train::checkpoint::Checkpointing;
use super::train::{self, Observer, TrainError, TrainingData};
use crate::rng::Rng;
use crate::sema::program::{
    Architecture, Attack, AttackPoint, Augmentation, ContentLoss, DataRef, Program, Sides, Task,
    Training, VictimData, VictimModel,
};

/// What a job needs besides its own configuration.
pub struct Context<'a> {
    pub program: &'a Program,
    /// The experiment's folder: relative paths in it are taken from here.
    pub base: PathBuf,
    pub device: Device,
    /// A folder for files exchanged with external victims.
    pub scratch: Scratch,
}

/// The folder external victims exchange images in, removed with the job context, whether the
/// command that made it succeeds or fails.
pub struct Scratch(pub PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0}")]
    Weights(#[from] super::models::WeightsError),
    #[error("{0}")]
    Unsupported(String),
    #[error("{model} takes {need}, but {data} has a {width}x{height} image (number {index})")]
    ImageSize {
        model: String,
        need: String,
        data: String,
        width: u32,
        height: u32,
        index: usize,
    },
    #[error("victim `{victim}` answered query {query} ({input_width}x{input_height}) with a {width}x{height} image; {expected_width}x{expected_height} was expected")]
    WrongAnswerSize {
        victim: String,
        query: usize,
        input_width: u32,
        input_height: u32,
        width: u32,
        height: u32,
        expected_width: u32,
        expected_height: u32,
    },
}

impl JobError {
    pub fn help(&self) -> &'static str {
        match self {
            JobError::Data(_) => "fix the dataset's folder or its declaration in the experiment",
            JobError::Train(e) => e.help(),
            JobError::Query(e) => e.help(),
            JobError::Weights(_) => {
                "use weights saved by heist for this victim's declared architecture and sizes"
            }
            JobError::Unsupported(_) => "see docs/engine.md for what each victim kind supports",
            JobError::ImageSize { .. } => {
                "give the dataset images of a size the model takes (its `size`, or `load_size`/`crop_size` for a folder), or change the model's `image_size`/`depth`"
            }
            JobError::WrongAnswerSize { .. } => {
                "a victim answers each query with an image of the query's size (times the super-resolution scale); check the external program or URL and the victim's `image_size`"
            }
        }
    }
}

impl Context<'_> {
    /// A dataset's samples as a model's inputs (resized and centre-cropped as declared).
    pub fn samples(&self, data: &DataRef) -> Result<Vec<Sample>, DataError> {
        data::load(self.program, data, &self.base, data::Use::Inputs)
    }

    fn images(&self, data: &DataRef) -> Result<Vec<RgbImage>, DataError> {
        Ok(self.samples(data)?.into_iter().map(|s| s.image).collect())
    }

    /// A dataset's images for training, which crops them at random.
    fn training_images(&self, data: &DataRef) -> Result<Vec<RgbImage>, DataError> {
        Ok(
            data::load(self.program, data, &self.base, data::Use::Training)?
                .into_iter()
                .map(|s| s.image)
                .collect(),
        )
    }

    fn resolve(&self, path: &str) -> PathBuf {
        self.base.join(path)
    }

    /// `training` with the files it names taken from the experiment's folder.
    fn with_paths(&self, training: &Training) -> Training {
        let mut training = training.clone();
        if let Some(ContentLoss::Vgg19 { weights, .. }) = &mut training.content_loss {
            *weights = self.resolve(weights).to_string_lossy().into_owned();
        }
        training
    }
}

/// Trains a victim declared `trained` from its own data (continuing from `checkpoint`).
pub fn train_victim(
    cx: &Context,
    name: &str,
    checkpoint: Option<&Checkpointing>,
    observer: &mut dyn Observer,
) -> Result<Generator, JobError> {
    let victim = &cx.program.victims[name];
    let VictimModel::Trained {
        architecture,
        data,
        training,
        seed,
    } = &victim.model
    else {
        return Err(JobError::Unsupported(format!(
            "victim `{name}` is not trained by heist (it is loaded from weights or external)"
        )));
    };
    let data = match data {
        VictimData::Unpaired { source, style } => {
            let who = format!("victim `{name}`");
            let source_images = cx.training_images(source)?;
            check_training(
                &who,
                architecture,
                &source_images,
                &format!("`{}`", source.dataset),
            )?;
            let style_images = cx.training_images(style)?;
            check_training(
                &who,
                architecture,
                &style_images,
                &format!("`{}`", style.dataset),
            )?;
            TrainingData::Unpaired {
                source: source_images,
                style: style_images,
            }
        }
        VictimData::Paired { pairs } => {
            let samples = cx.samples(pairs)?;
            let (inputs, targets) = samples
                .into_iter()
                .map(|s| {
                    let high = s.high.expect("SR datasets have HR images");
                    (s.image, high)
                })
                .unzip();
            TrainingData::Paired { inputs, targets }
        }
    };
    Ok(train::train(
        architecture,
        &cx.with_paths(training),
        data,
        *seed,
        &cx.device,
        checkpoint,
        observer,
    )?)
}

/// A victim behind its query interface. `trained` is the generator of a `trained` victim
/// (from [`train_victim`] or the cache); `weights` victims load their file here.
pub fn open_victim(
    cx: &Context,
    name: &str,
    trained: Option<Generator>,
    price_usd_per_query: f64,
    max_queries: Option<u64>,
) -> Result<Victim, JobError> {
    let victim = &cx.program.victims[name];
    let answer: Box<dyn Answer> = match (&victim.model, trained) {
        (VictimModel::Trained { .. }, Some(g)) => Box::new(LocalVictim::new(
            g,
            cx.device.clone(),
            format!("victim `{name}` (trained by heist)"),
        )),
        (VictimModel::Trained { .. }, None) => {
            return Err(JobError::Unsupported(format!(
                "victim `{name}` must be trained before it can be queried"
            )))
        }
        (VictimModel::Weights { architecture, path }, _) => {
            let path = cx.resolve(path);
            let g = Generator::load(architecture, &path, &cx.device).map_err(JobError::Weights)?;
            Box::new(LocalVictim::new(
                g,
                cx.device.clone(),
                format!("victim `{name}` ({})", path.display()),
            ))
        }
        (
            VictimModel::Command {
                command,
                timeout_s,
                retries,
                ..
            },
            _,
        ) => Box::new(CommandVictim::new(
            command,
            *timeout_s,
            *retries,
            &cx.scratch.0.join(format!("victim-{name}")),
        )),
        (
            VictimModel::Http {
                url,
                timeout_s,
                retries,
                ..
            },
            _,
        ) => Box::new(HttpVictim::new(url, *timeout_s, *retries)),
    };
    Ok(Victim::new(answer, price_usd_per_query, max_queries))
}

/// Checks that a folder dataset (part) of `program` holds images where its layout says, without
/// reading them; synthetic datasets always do.
pub fn check_dataset(program: &Program, data: &DataRef, base: &Path) -> Result<(), DataError> {
    let dataset = &program.datasets[&data.dataset];
    if let crate::sema::program::DatasetSource::Folder { path, layout, .. } = &dataset.source {
        data::folder::part_files(&base.join(path), *layout, data.part.as_deref())?;
    }
    Ok(())
}

/// A generator from weights heist saved (a trained victim's or a surrogate's artefact).
pub fn load_generator(
    cx: &Context,
    architecture: &Architecture,
    path: &Path,
) -> Result<Generator, JobError> {
    Generator::load(architecture, path, &cx.device).map_err(JobError::Weights)
}

/// A generator's weights as safetensors bytes, and its parameter count.
pub fn weights_bytes(g: &Generator) -> Result<(Vec<u8>, usize), JobError> {
    Ok((g.to_bytes().map_err(JobError::Weights)?, g.parameters()))
}

/// A generator's outputs for `inputs` (eval mode, batched).
pub fn translate(cx: &Context, g: &Generator, inputs: &[RgbImage]) -> Vec<RgbImage> {
    g.translate(inputs, &cx.device)
}

/// An attack point's surrogate's outputs for `inputs` (`data` names them in messages), once
/// their sizes are checked against its architecture.
pub fn surrogate_outputs(
    cx: &Context,
    attack: &Attack,
    g: &Generator,
    inputs: &[RgbImage],
    data: &str,
) -> Result<Vec<RgbImage>, JobError> {
    check_inputs(
        "the surrogate",
        &attack.surrogate.architecture,
        inputs,
        data,
    )?;
    Ok(translate(cx, g, inputs))
}

/// Images a generator of `architecture` is given have sides it can take: a size it cannot
/// would stop it deep inside a layer (mismatched skip connections), far from the cause.
pub fn check_inputs(
    model: &str,
    architecture: &Architecture,
    images: &[RgbImage],
    data: &str,
) -> Result<(), JobError> {
    let sides = architecture.input_sides();
    let need = match sides {
        Sides::Exactly(side) => format!("{side}x{side} images"),
        Sides::MultipleOf(m) => format!("images whose sides are multiples of {m}"),
        Sides::Any => return Ok(()),
    };
    for (index, image) in images.iter().enumerate() {
        let (w, h) = image.dimensions();
        let fits = sides.fit(w, h);
        if !fits {
            return Err(JobError::ImageSize {
                model: format!(
                    "{model} ({})",
                    crate::engine::train::architecture_name(architecture)
                ),
                need,
                data: data.to_string(),
                width: w,
                height: h,
                index,
            });
        }
    }
    Ok(())
}

/// Training images are at least the random crop training takes from them.
fn check_training(
    model: &str,
    architecture: &Architecture,
    images: &[RgbImage],
    data: &str,
) -> Result<(), JobError> {
    let crop = architecture.training_crop();
    for (index, image) in images.iter().enumerate() {
        let (w, h) = image.dimensions();
        if w < crop || h < crop {
            return Err(JobError::ImageSize {
                model: format!(
                    "training {model} ({})",
                    crate::engine::train::architecture_name(architecture)
                ),
                need: format!("images of at least {crop}x{crop} (its training crop)"),
                data: data.to_string(),
                width: w,
                height: h,
                index,
            });
        }
    }
    Ok(())
}

/// An attack point's queries and what the victim answered, as its API serves them.
pub struct Answered {
    pub inputs: Vec<RgbImage>,
    /// With the victim's defences applied.
    pub answers: Vec<RgbImage>,
    /// What the watermark remembers: which queries it marked, and their untouched answers.
    pub watermarked: Vec<usize>,
    pub clean: Vec<RgbImage>,
    pub queries: u64,
    /// The victim as the answers' provenance names it.
    pub victim: String,
}

/// Sends an attack point's queries to its victim (`trained`: the generator of a `trained`
/// victim) and applies the victim's defences to the answers.
pub fn ask_victim(
    cx: &Context,
    attack: &Attack,
    point: &AttackPoint,
    trained: Option<Generator>,
) -> Result<Answered, JobError> {
    let mut victim = open_victim(
        cx,
        &attack.victim,
        trained,
        attack.price_usd_per_query,
        attack.max_queries,
    )?;
    let inputs = query_inputs(cx, attack, point)?;
    if let Some(architecture) = victim_architecture(cx, &attack.victim) {
        let who = format!("victim `{}`", attack.victim);
        check_inputs(
            &who,
            architecture,
            &inputs,
            &format!("the queries of `{}`", attack.queries.dataset),
        )?;
    }
    let answers = victim.query(&inputs)?;
    let scale = victim_scale(cx, &attack.victim).unwrap_or(attack.surrogate.architecture.scale());
    check_answers(&attack.victim, &inputs, &answers, scale)?;
    let defended = defense::apply(
        &cx.program.victims[&attack.victim].defenses,
        &inputs,
        answers,
        &cx.device,
    );
    Ok(Answered {
        inputs,
        answers: defended.answers,
        watermarked: defended.watermarked,
        clean: defended.clean,
        queries: victim.queries(),
        victim: victim.describe(),
    })
}

/// The victim's answers to a test set as its API serves them (defences included). Evaluation
/// queries are not the attacker's: no price, no budget.
pub fn victim_outputs(
    cx: &Context,
    name: &str,
    trained: Option<Generator>,
    inputs: &[RgbImage],
    data: &str,
) -> Result<Vec<RgbImage>, JobError> {
    if let Some(architecture) = victim_architecture(cx, name) {
        check_inputs(&format!("victim `{name}`"), architecture, inputs, data)?;
    }
    let mut victim = open_victim(cx, name, trained, 0.0, None)?;
    let answers = victim.query(inputs)?;
    let scale = victim_scale(cx, name).or_else(|| {
        // An external victim's scale is that of the surrogates attacks train on its answers.
        cx.program
            .attacks
            .values()
            .find(|a| a.victim == name)
            .map(|a| a.surrogate.architecture.scale())
    });
    if let Some(scale) = scale {
        check_answers(name, inputs, &answers, scale)?;
    }
    let defenses = &cx.program.victims[name].defenses;
    Ok(defense::apply(defenses, inputs, answers, &cx.device).answers)
}

/// The architecture of a victim heist builds (`None` for external victims).
fn victim_architecture<'p>(cx: &Context<'p>, name: &str) -> Option<&'p Architecture> {
    cx.program.victims[name].model.architecture()
}

/// The upscaling factor of a victim heist builds (`None` for external victims).
fn victim_scale(cx: &Context, name: &str) -> Option<u32> {
    victim_architecture(cx, name).map(Architecture::scale)
}

/// Every answer is its query's size times `scale`: an answer of another size would reach a
/// surrogate's training or a metric and fail there, far from its cause.
fn check_answers(
    victim: &str,
    inputs: &[RgbImage],
    answers: &[RgbImage],
    scale: u32,
) -> Result<(), JobError> {
    for (query, (input, answer)) in inputs.iter().zip(answers).enumerate() {
        let expected = (input.width() * scale, input.height() * scale);
        if answer.dimensions() != expected {
            return Err(JobError::WrongAnswerSize {
                victim: victim.to_string(),
                query,
                input_width: input.width(),
                input_height: input.height(),
                width: answer.width(),
                height: answer.height(),
                expected_width: expected.0,
                expected_height: expected.1,
            });
        }
    }
    Ok(())
}

/// The images an attack point sends to the victim: the point's nested fraction of the
/// attacker's data, plus one augmented copy of each kept image unless the augmentation is
/// `none` (augmenting is how the attacker stretches a small data set; every copy is a query).
pub fn query_inputs(
    cx: &Context,
    attack: &Attack,
    point: &AttackPoint,
) -> Result<Vec<RgbImage>, JobError> {
    let all = cx.images(&attack.queries)?;
    let kept = attack_side::nested_subset(all.len(), point.fraction, point.seed);
    let mut inputs: Vec<RgbImage> = kept.iter().map(|&i| all[i].clone()).collect();
    if point.augmentation != Augmentation::None {
        let augmented: Vec<RgbImage> = kept
            .iter()
            .map(|&i| {
                let seed = Rng::derive(point.seed, &[0xA06, i as u64]).next_u64();
                attack_side::augment(&all[i], &point.augmentation, seed)
            })
            .collect();
        inputs.extend(augmented);
    }
    Ok(inputs)
}

/// Trains an attack point's surrogate on the victim's answers to its queries.
pub fn train_surrogate(
    cx: &Context,
    attack: &Attack,
    point: &AttackPoint,
    inputs: Vec<RgbImage>,
    answers: Vec<RgbImage>,
    checkpoint: Option<&Checkpointing>,
    observer: &mut dyn Observer,
) -> Result<Generator, JobError> {
    let a = &attack.surrogate.architecture;
    if a.task() == Task::StyleTransfer
        && matches!(a, Architecture::Cyclegan(_) | Architecture::Ugatit(_))
    {
        return Err(JobError::Unsupported(
            "surrogates learn from (query, answer) pairs: use pix2pix or srresnet".into(),
        ));
    }
    check_training("the surrogate", a, &inputs, "the attack's queries")?;
    let data = TrainingData::Paired {
        inputs,
        targets: answers,
    };
    Ok(train::train(
        a,
        &cx.with_paths(&attack.surrogate.training),
        data,
        point.seed,
        &cx.device,
        checkpoint,
        observer,
    )?)
}
