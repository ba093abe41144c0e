//! One job's computation: read the artefacts of the jobs it depends on, call the engine (through
//! [`jobs`], nothing lower) or the metrics, and hand back the files and metadata to store under
//! its key. The local executor and `heist worker` both run a job through [`run`].

use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use serde_json::{json, Value};

use crate::engine::jobs::{self, Context, Generator, JobError};
use crate::engine::train::checkpoint::Checkpointing;
use crate::engine::train::Observer;
use crate::images::png_bytes;
use crate::metrics::extractor::Extractor as FeatureSpace;
use crate::metrics::features::FeatureMatrix;
use crate::metrics::image::Image;
use crate::metrics::pixel::{prepare, psnr, ssim, PixelOptions};
use crate::metrics::{frechet, MetricError};
use crate::plan::{test_sets, Job, Subject, Work};
use crate::run::cache::Entry;
use crate::sema::program::{Cell, DataRef, Defense, Extractor, GroundTruth, Metric, VictimModel};

/// What a job leaves in the cache.
pub struct Artefacts {
    pub files: Vec<(String, Vec<u8>)>,
    pub meta: Value,
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Metric(#[from] MetricError),
    #[error("{0}")]
    Artefact(String),
}

impl Failure {
    pub fn help(&self) -> String {
        match self {
            Failure::Job(e) => e.help().to_string(),
            Failure::Metric(e) => e
                .help()
                .unwrap_or_else(|| "check the evaluation's test sets and metrics".into()),
            Failure::Artefact(_) => {
                "the cache entry was damaged while the run read it; run the same command again"
                    .into()
            }
        }
    }
}

/// Runs `job` with the entries of its dependencies (in `job.deps` order); a training job keeps
/// its `checkpoint`.
pub fn run(
    cx: &Context,
    job: &Job,
    deps: &[&Entry],
    checkpoint: Option<&Checkpointing>,
    observer: &mut dyn Observer,
) -> Result<Artefacts, Failure> {
    let program = cx.program;
    let start = Instant::now();
    let mut artefacts = match &job.work {
        Work::TrainVictim { victim } => {
            let g = jobs::train_victim(cx, victim, checkpoint, observer)?;
            weights(&g)?
        }
        Work::Query { attack, point } => {
            let a = &program.attacks[attack];
            let trained = trained_victim(cx, &a.victim, deps.first().copied())?;
            let answered = jobs::ask_victim(cx, a, &a.points[*point], trained)?;
            let mut files = images("input", &answered.inputs);
            files.extend(images("answer", &answered.answers));
            // What the watermark remembers: which queries, and their untouched answers.
            files.extend(images("clean", &answered.clean));
            Artefacts {
                files,
                meta: json!({
                    "queries": answered.queries, "victim": answered.victim,
                    "watermarked": answered.watermarked,
                }),
            }
        }
        Work::TrainSurrogate { attack, point } => {
            let a = &program.attacks[attack];
            let entry = deps[0];
            let inputs = read_images(entry, "input")?;
            let answers = read_images(entry, "answer")?;
            let g = jobs::train_surrogate(
                cx,
                a,
                &a.points[*point],
                inputs,
                answers,
                checkpoint,
                observer,
            )?;
            weights(&g)?
        }
        Work::Outputs { model, data } => {
            let inputs: Vec<RgbImage> = cx
                .samples(data)
                .map_err(JobError::from)?
                .into_iter()
                .map(|s| s.image)
                .collect();
            let outputs = match model {
                Subject::Victim(name) => {
                    let trained = trained_victim(cx, name, deps.first().copied())?;
                    jobs::victim_outputs(
                        cx,
                        name,
                        trained,
                        &inputs,
                        &format!("`{}`", data.dataset),
                    )?
                }
                Subject::Surrogate { attack, .. } => {
                    let g = surrogate(cx, attack, deps[0])?;
                    let a = &program.attacks[attack];
                    jobs::surrogate_outputs(cx, a, &g, &inputs, &format!("`{}`", data.dataset))?
                }
            };
            Artefacts {
                files: images("output", &outputs),
                meta: json!({"count": outputs.len()}),
            }
        }
        Work::Evaluate {
            evaluation,
            model,
            cells,
        } => evaluate(cx, evaluation, model, cells, job, deps)?,
    };
    if let Value::Object(m) = &mut artefacts.meta {
        m.insert("seconds".into(), json!(start.elapsed().as_secs_f64()));
    }
    Ok(artefacts)
}

fn weights(g: &Generator) -> Result<Artefacts, Failure> {
    let (bytes, parameters) = jobs::weights_bytes(g)?;
    Ok(Artefacts {
        files: vec![("weights.safetensors".into(), bytes)],
        meta: json!({"parameters": parameters}),
    })
}

/// A trained victim's generator from its job's entry; `None` for victims that are not
/// trained by heist (they load their own weights or are external).
fn trained_victim(
    cx: &Context,
    name: &str,
    trained: Option<&Entry>,
) -> Result<Option<Generator>, Failure> {
    match (&cx.program.victims[name].model, trained) {
        (VictimModel::Trained { architecture, .. }, Some(entry)) => Ok(Some(
            jobs::load_generator(cx, architecture, &entry.file("weights.safetensors"))
                .map_err(damaged)?,
        )),
        _ => Ok(None),
    }
}

/// An attack point's surrogate from its job's entry.
fn surrogate(cx: &Context, attack: &str, entry: &Entry) -> Result<Generator, Failure> {
    let architecture = &cx.program.attacks[attack].surrogate.architecture;
    jobs::load_generator(cx, architecture, &entry.file("weights.safetensors")).map_err(damaged)
}

/// Weights heist stored itself that do not load: the entry was damaged after it was verified.
fn damaged(e: JobError) -> Failure {
    Failure::Artefact(e.to_string())
}

fn images(prefix: &str, images: &[RgbImage]) -> Vec<(String, Vec<u8>)> {
    images
        .iter()
        .enumerate()
        .map(|(i, im)| (format!("{prefix}-{i:05}.png"), png_bytes(im)))
        .collect()
}

/// The images `prefix-N.png` of an entry, in order.
pub fn read_images(entry: &Entry, prefix: &str) -> Result<Vec<RgbImage>, Failure> {
    entry
        .files
        .iter()
        .filter(|f| f.starts_with(prefix) && f.ends_with(".png"))
        .map(|f| {
            image::open(entry.file(f))
                .map(|i| i.to_rgb8())
                .map_err(|e| Failure::Artefact(format!("{}: {e}", entry.file(f).display())))
        })
        .collect()
}

/// One metric value of an evaluation job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Measured {
    pub cell: Cell,
    /// Index into the evaluation's test sets ([`test_sets`]).
    pub test: usize,
    /// Index into the evaluation's metrics.
    pub metric: usize,
    pub value: f64,
    /// The defence cells' own measure (`bit_accuracy`, `watermark_accuracy`) instead of a
    /// metric of the evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<String>,
}

fn evaluate(
    cx: &Context,
    name: &str,
    model: &Subject,
    cells: &[Cell],
    job: &Job,
    deps: &[&Entry],
) -> Result<Artefacts, Failure> {
    let e = &cx.program.evaluations[name];
    let tests = test_sets(e);
    let surrogate = matches!(model, Subject::Surrogate { .. });
    // deps: per test set, the model's outputs (and the victim's, for a surrogate).
    let per_test = if surrogate { 2 } else { 1 };
    let style = match &e.ground_truth {
        GroundTruth::StyleSet { data } => Some(load_images(cx, data)?),
        _ => None,
    };
    let victim_name = match model {
        Subject::Victim(v) => v.clone(),
        Subject::Surrogate { attack, .. } => cx.program.attacks[attack].victim.clone(),
    };
    let defenses = &cx.program.victims[&victim_name].defenses;
    let fingerprint = defenses.iter().find_map(|d| match d {
        Defense::Fingerprint { bits, key, .. } => Some((*bits, key.as_str())),
        _ => None,
    });
    let mut measured = vec![];
    if cells.contains(&Cell::Watermark) {
        // deps after the test sets: the attack point's query set and surrogate.
        let (queries, surrogate) = (
            deps[tests.len() * per_test],
            deps[tests.len() * per_test + 1],
        );
        if let Some((value, control)) = watermark_accuracy(cx, model, queries, surrogate)? {
            for (measure, value) in [
                ("watermark_accuracy", Some(value)),
                ("watermark_control", control),
            ] {
                if let Some(value) = value {
                    measured.push(Measured {
                        cell: Cell::Watermark,
                        test: 0,
                        metric: 0,
                        value,
                        measure: Some(measure.into()),
                    });
                }
            }
        }
    }
    // Features are computed once per image set and feature space, not once per metric.
    let mut features = Features::default();
    for (t, test) in tests.iter().enumerate() {
        let outputs = read_images(deps[t * per_test], "output")?;
        let own = to_images(&outputs);
        let victim = if surrogate {
            Some(to_images(&read_images(deps[t * per_test + 1], "output")?))
        } else {
            None
        };
        let high: Option<Vec<Image>> = match &e.ground_truth {
            GroundTruth::HighResolution => Some(
                cx.samples(test)
                    .map_err(JobError::from)?
                    .iter()
                    .map(|s| Image::from_rgb(s.high.as_ref().expect("SR test sets have HR images")))
                    .collect(),
            ),
            _ => None,
        };
        let ground_truth = style.as_ref().or(high.as_ref());
        if let (true, Some((bits, key))) = (cells.contains(&Cell::Fingerprint), fingerprint) {
            let read: Vec<f64> = outputs
                .iter()
                .map(|o| jobs::bit_accuracy(o, bits, key))
                .collect();
            measured.push(Measured {
                cell: Cell::Fingerprint,
                test: t,
                metric: 0,
                value: read.iter().sum::<f64>() / read.len().max(1) as f64,
                measure: Some("bit_accuracy".into()),
            });
        }
        for &cell in cells {
            let compared = match cell {
                Cell::B => victim.as_ref().map(|v| (v, Set::Victim(t))),
                Cell::A | Cell::C if style.is_some() => style.as_ref().map(|s| (s, Set::Style)),
                Cell::A | Cell::C => ground_truth.map(|g| (g, Set::High(t))),
                _ => None,
            };
            let Some((compared, set)) = compared else {
                continue;
            };
            for (m, metric) in e.metrics.iter().enumerate() {
                let value = measure(
                    cx,
                    metric,
                    (compared, set),
                    (&own, Set::Own(t)),
                    &mut features,
                    Path::new(&job.id),
                )?;
                measured.push(Measured {
                    cell,
                    test: t,
                    metric: m,
                    value,
                    measure: None,
                });
            }
        }
    }
    Ok(Artefacts {
        files: vec![],
        meta: json!({"values": measured}),
    })
}

/// DAWN's check: the owner sends the remembered watermarked queries to the suspect; the share
/// of answers closer (mean absolute difference) to the trigger than to the clean answer. And
/// its control: the same share on as many queries that were not watermarked, with the trigger
/// applied to their answers -- a surrogate that merely looks like the trigger (a greyish,
/// blurry early model) scores high on both; a transferred watermark only on the first.
/// `None` when the attack's queries hit no watermark.
fn watermark_accuracy(
    cx: &Context,
    model: &Subject,
    queries: &Entry,
    surrogate: &Entry,
) -> Result<Option<(f64, Option<f64>)>, Failure> {
    let Subject::Surrogate { attack, .. } = model else {
        return Ok(None);
    };
    let picked: Vec<usize> =
        serde_json::from_value(queries.meta["watermarked"].clone()).unwrap_or_default();
    if picked.is_empty() {
        return Ok(None);
    }
    let a = &cx.program.attacks[attack];
    let Some(trigger) = cx.program.victims[&a.victim]
        .defenses
        .iter()
        .find_map(|d| match d {
            Defense::Watermark { trigger, .. } => Some(trigger),
            _ => None,
        })
    else {
        return Ok(None);
    };
    let inputs = read_images(queries, "input")?;
    let answers = read_images(queries, "answer")?;
    let clean = read_images(queries, "clean")?;
    let g = self::surrogate(cx, attack, surrogate)?;
    let distance = |x: &RgbImage, y: &RgbImage| -> f64 {
        x.as_raw()
            .iter()
            .zip(y.as_raw())
            .map(|(a, b)| (*a as f64 - *b as f64).abs())
            .sum::<f64>()
    };
    // (query, its triggered answer, its clean answer)
    let share = |cases: &[(usize, RgbImage, RgbImage)]| -> Result<f64, Failure> {
        let asked: Vec<RgbImage> = cases.iter().map(|c| inputs[c.0].clone()).collect();
        let replies = jobs::surrogate_outputs(cx, a, &g, &asked, "the watermarked queries")?;
        let hits = replies
            .iter()
            .zip(cases)
            .filter(|(reply, (_, triggered, clean))| {
                distance(reply, triggered) < distance(reply, clean)
            })
            .count();
        Ok(hits as f64 / cases.len() as f64)
    };
    let marked: Vec<(usize, RgbImage, RgbImage)> = picked
        .iter()
        .zip(&clean)
        .map(|(&i, c)| (i, answers[i].clone(), c.clone()))
        .collect();
    let control: Vec<(usize, RgbImage, RgbImage)> = (0..inputs.len())
        .filter(|i| !picked.contains(i))
        .take(picked.len())
        .map(|j| (j, jobs::triggered(trigger, &answers[j]), answers[j].clone()))
        .collect();
    let control = if control.is_empty() {
        None
    } else {
        Some(share(&control)?)
    };
    Ok(Some((share(&marked)?, control)))
}

fn load_images(cx: &Context, data: &DataRef) -> Result<Vec<Image>, Failure> {
    Ok(cx
        .samples(data)
        .map_err(JobError::from)?
        .iter()
        .map(|s| Image::from_rgb(&s.image))
        .collect())
}

fn to_images(images: &[RgbImage]) -> Vec<Image> {
    images.iter().map(Image::from_rgb).collect()
}

/// FID/KID on Inception v3 with no weights named anywhere.
#[derive(Debug, Clone, thiserror::Error)]
#[error("FID needs pytorch-fid's Inception v3 weights: give `weights = \"...\"` in the metric or set HEIST_INCEPTION_WEIGHTS (heist downloads nothing), or use `extractor = random_conv`")]
pub struct NoInceptionWeights;

/// The feature space of FID/KID as the metrics module takes it; Inception's weights from the
/// experiment or `HEIST_INCEPTION_WEIGHTS`.
pub fn feature_space(
    base: &Path,
    extractor: &Extractor,
) -> Result<FeatureSpace, NoInceptionWeights> {
    match extractor {
        Extractor::RandomConv { seed } => Ok(FeatureSpace::RandomConv { seed: *seed }),
        Extractor::InceptionV3 { weights: Some(w) } => Ok(FeatureSpace::InceptionV3 {
            weights: base.join(w),
        }),
        Extractor::InceptionV3 { weights: None } => std::env::var_os("HEIST_INCEPTION_WEIGHTS")
            .map(|w| FeatureSpace::InceptionV3 { weights: w.into() })
            .ok_or(NoInceptionWeights),
    }
}

/// An image set of an evaluation job, for reusing its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Set {
    Own(usize),
    Victim(usize),
    High(usize),
    Style,
}

/// Features by image set and feature space (its JSON).
type Features = std::collections::BTreeMap<(Set, String), FeatureMatrix>;

/// `metric(reference, test)`: FID/KID between the two sets, or the mean of PSNR/SSIM over
/// pairs of images.
fn measure(
    cx: &Context,
    metric: &Metric,
    (reference, reference_set): (&[Image], Set),
    (test, test_set): (&[Image], Set),
    features: &mut Features,
    source: &Path,
) -> Result<f64, Failure> {
    match metric {
        Metric::Fid { extractor } | Metric::Kid { extractor } => {
            let space = feature_space(&cx.base, extractor)
                .map_err(|e| JobError::Unsupported(e.to_string()))?;
            let name = serde_json::to_string(extractor).expect("serialises");
            for (images, set) in [(reference, reference_set), (test, test_set)] {
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    features.entry((set, name.clone()))
                {
                    slot.insert(space.extract(images, source)?);
                }
            }
            let a = &features[&(reference_set, name.clone())];
            let b = &features[&(test_set, name)];
            Ok(if matches!(metric, Metric::Fid { .. }) {
                frechet::fid(a, b)?
            } else {
                frechet::kid(a, b)?
            })
        }
        Metric::Ssim {
            y_channel,
            crop_border,
        }
        | Metric::Psnr {
            y_channel,
            crop_border,
        } => {
            let options = PixelOptions {
                y_channel: *y_channel,
                crop_border: *crop_border as usize,
            };
            if reference.len() != test.len() {
                return Err(Failure::Artefact(format!(
                    "{} reference images but {} outputs to compare pairwise",
                    reference.len(),
                    test.len()
                )));
            }
            let values: Vec<f64> = reference
                .iter()
                .zip(test)
                .map(|(r, t)| {
                    let (r, t) = (prepare(r, options), prepare(t, options));
                    if matches!(metric, Metric::Psnr { .. }) {
                        psnr(&r, &t)
                    } else {
                        ssim(&r, &t)
                    }
                })
                .collect();
            Ok(values.iter().sum::<f64>() / values.len().max(1) as f64)
        }
    }
}
