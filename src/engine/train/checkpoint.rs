//! Checkpoints of a training run: everything a recipe's state between two steps consists of
//! -- weights, optimiser moments, the random-number generators, epoch orders, image pools --
//! so that a run stopped anywhere resumes to bitwise the weights of a run that never stopped.
//!
//! A checkpoint is one file, written atomically: a magic line, a JSON header (step, label,
//! numbers, the names and lengths of the binary parts), the parts, and a SHA-256 of all of it,
//! so a truncated or damaged file is recognised rather than half-loaded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::store::ModuleSnapshot;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::adam::{Adam, Moments};
use crate::nn::{safetensors_bytes, NamedTensor};
use crate::rng::Rng;

const MAGIC: &[u8] = b"heist-checkpoint 1\n";

/// Where a training run keeps its checkpoint, and how often it writes one.
#[derive(Debug, Clone)]
pub struct Checkpointing {
    pub path: PathBuf,
    /// At most this long between checkpoints (zero: after every step).
    pub every: Duration,
}

/// A recipe's state between two steps, as named parts.
#[derive(Debug, Default)]
pub struct State {
    /// Steps done.
    pub step: u64,
    /// What was trained (the recipe's label), checked when resuming.
    pub label: String,
    numbers: BTreeMap<String, Vec<u64>>,
    parts: BTreeMap<String, Vec<u8>>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    step: u64,
    label: String,
    numbers: BTreeMap<String, Vec<u64>>,
    parts: Vec<(String, usize)>,
}

/// Why a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint {path}: {why}")]
pub struct CheckpointError {
    pub path: String,
    pub why: String,
}

impl State {
    pub fn new(step: u64, label: &str) -> State {
        State {
            step,
            label: label.to_string(),
            ..State::default()
        }
    }

    pub fn put_numbers(&mut self, name: &str, values: Vec<u64>) {
        self.numbers.insert(name.to_string(), values);
    }

    pub fn numbers(&self, name: &str) -> Result<&[u64], String> {
        self.numbers
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("it has no `{name}`"))
    }

    pub fn put_rng(&mut self, name: &str, rng: &Rng) {
        self.put_numbers(name, vec![rng.state()]);
    }

    pub fn rng(&self, name: &str) -> Result<Rng, String> {
        match self.numbers(name)? {
            [state] => Ok(Rng::new(*state)),
            _ => Err(format!("`{name}` is not a generator's state")),
        }
    }

    /// A module's weights and running statistics, in heist's safetensors form.
    pub fn put_module<M: Module + ModuleSnapshot>(&mut self, name: &str, module: &M) {
        let bytes = crate::engine::models::snapshot_bytes(module)
            .expect("training weights are f32 tensors");
        self.parts.insert(name.to_string(), bytes);
    }

    /// Loads the weights stored as `name` into `module` (which keeps its parameter ids).
    pub fn load_module<M: Module + ModuleSnapshot>(
        &self,
        name: &str,
        module: &mut M,
    ) -> Result<(), String> {
        let bytes = self.part(name)?;
        crate::engine::models::load_bytes(module, bytes.to_vec())
            .map_err(|e| format!("`{name}`: {e}"))
    }

    /// An optimiser's moments and step counts. They are keyed by parameter id, so the
    /// modules must carry [`stable_ids`].
    pub fn put_optimizer(&mut self, name: &str, optimizer: &Adam) {
        match optimizer {
            Adam::Burn(o) => {
                let bytes = o.into_bytes().expect("an optimiser's state serialises");
                self.parts.insert(name.to_string(), bytes.to_vec());
            }
            Adam::Fused { moments, .. } => self.put_moments(name, moments),
            #[cfg(feature = "tch")]
            Adam::Torch { moments, .. } => {
                let host = moments.iter().map(|(id, m)| (*id, m.to_host())).collect();
                self.put_moments(name, &host)
            }
        }
    }

    fn put_moments(&mut self, name: &str, moments: &HashMap<ParamId, Moments>) {
        let mut ids: Vec<&ParamId> = moments.keys().collect();
        ids.sort_by_key(|id| id.val());
        let mut steps = Vec::with_capacity(2 * ids.len());
        let mut vectors = Vec::with_capacity(2 * ids.len());
        for id in ids {
            let m = &moments[id];
            steps.extend([id.val(), m.step]);
            vectors.push(NamedTensor {
                name: format!("{}.first", id.val()),
                shape: vec![m.first.len()],
                values: m.first.clone(),
            });
            vectors.push(NamedTensor {
                name: format!("{}.second", id.val()),
                shape: vec![m.second.len()],
                values: m.second.clone(),
            });
        }
        self.put_numbers(&format!("{name}.steps"), steps);
        self.parts
            .insert(name.to_string(), safetensors_bytes(&vectors));
    }

    /// The state [`State::put_optimizer`] wrote, restored into `fresh` (of the same kind).
    pub fn optimizer(&self, name: &str, fresh: Adam) -> Result<Adam, String> {
        match fresh {
            Adam::Burn(o) => o
                .from_bytes(Bytes::from_bytes_vec(self.part(name)?.to_vec()))
                .map(Adam::Burn)
                .map_err(|e| format!("`{name}`: {e:?}")),
            Adam::Fused { settings, .. } => Ok(Adam::Fused {
                settings,
                moments: self.moments(name)?,
            }),
            #[cfg(feature = "tch")]
            Adam::Torch { settings, .. } => Ok(Adam::Torch {
                settings,
                moments: self
                    .moments(name)?
                    .iter()
                    .map(|(id, m)| {
                        (
                            *id,
                            crate::engine::train::adam_libtorch::Moments::from_host(m),
                        )
                    })
                    .collect(),
            }),
        }
    }

    fn moments(&self, name: &str) -> Result<HashMap<ParamId, Moments>, String> {
        let steps = self.numbers(&format!("{name}.steps"))?;
        let mut vectors: HashMap<String, Vec<f32>> = self
            .named(name)?
            .into_iter()
            .map(|t| (t.name, t.values))
            .collect();
        let mut moments = HashMap::new();
        for pair in steps.chunks(2) {
            let [id, step] = pair else {
                return Err(format!("`{name}.steps` is cut short"));
            };
            let mut take = |which: &str| {
                vectors
                    .remove(&format!("{id}.{which}"))
                    .ok_or_else(|| format!("`{name}` lacks the moments of parameter {id}"))
            };
            let (first, second) = (take("first")?, take("second")?);
            moments.insert(
                ParamId::from(*id),
                Moments {
                    step: *step,
                    first,
                    second,
                },
            );
        }
        Ok(moments)
    }

    /// Image tensors of one shape each (an image pool).
    pub fn put_tensors(&mut self, name: &str, tensors: &[Tensor<4>]) {
        let named: Vec<NamedTensor> = tensors
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let data = t.to_data();
                NamedTensor {
                    name: format!("{i:06}"),
                    shape: data.shape().to_vec(),
                    values: data
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .expect("f32 images"),
                }
            })
            .collect();
        self.parts
            .insert(name.to_string(), safetensors_bytes(&named));
    }

    pub fn tensors(&self, name: &str, device: &Device) -> Result<Vec<Tensor<4>>, String> {
        self.named(name)?
            .into_iter()
            .map(|t| {
                if t.shape.len() != 4 {
                    return Err(format!("`{name}.{}` is not an image batch", t.name));
                }
                Ok(Tensor::from_data(
                    TensorData::new(t.values, t.shape),
                    device,
                ))
            })
            .collect()
    }

    /// The f32 tensors of a safetensors part, sorted by name.
    fn named(&self, name: &str) -> Result<Vec<NamedTensor>, String> {
        crate::nn::safetensors_tensors(self.part(name)?).map_err(|e| format!("`{name}`: {e}"))
    }

    fn part(&self, name: &str) -> Result<&[u8], String> {
        self.parts
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("it has no `{name}`"))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            step: self.step,
            label: self.label.clone(),
            numbers: self.numbers.clone(),
            parts: self
                .parts
                .iter()
                .map(|(n, b)| (n.clone(), b.len()))
                .collect(),
        };
        let header = serde_json::to_vec(&header).expect("a header serialises");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&header);
        for part in self.parts.values() {
            bytes.extend_from_slice(part);
        }
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<State, String> {
        if !bytes.starts_with(MAGIC) {
            return Err("not a heist checkpoint (or one of another version)".into());
        }
        if bytes.len() < MAGIC.len() + 8 + 32 {
            return Err("truncated".into());
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err("its checksum does not match: it is truncated or damaged".into());
        }
        let rest = &body[MAGIC.len()..];
        let n = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
        let header: Header = rest
            .get(8..8 + n)
            .and_then(|h| serde_json::from_slice(h).ok())
            .ok_or("its header is unreadable")?;
        let mut offset = 8 + n;
        let mut parts = BTreeMap::new();
        for (name, len) in header.parts {
            let part = rest
                .get(offset..offset + len)
                .ok_or_else(|| format!("part `{name}` runs past the end"))?;
            parts.insert(name, part.to_vec());
            offset += len;
        }
        Ok(State {
            step: header.step,
            label: header.label,
            numbers: header.numbers,
            parts,
        })
    }

    /// Writes the checkpoint atomically: a reader sees the previous one or this one.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        crate::fsutil::write_atomic(path, &self.to_bytes()).map_err(|e| CheckpointError {
            path: path.display().to_string(),
            why: format!("cannot be written: {e}"),
        })
    }

    /// The checkpoint at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<State>, CheckpointError> {
        let error = |why: String| CheckpointError {
            path: path.display().to_string(),
            why,
        };
        match std::fs::read(path) {
            Ok(bytes) => State::from_bytes(&bytes).map(Some).map_err(error),
            // No checkpoint there (nor, perhaps, its folder).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(error(format!("cannot be read: {e}"))),
        }
    }
}

/// A GAN's generator(s) and discriminator(s) with their optimisers: what every adversarial
/// recipe keeps, saved as `g`, `d`, `opt_g`, `opt_d`.
pub struct Networks<G, D> {
    pub g: G,
    pub d: D,
    pub opt_g: Adam,
    pub opt_d: Adam,
}

impl<G, D> Networks<G, D>
where
    G: Module + ModuleSnapshot,
    D: Module + ModuleSnapshot,
{
    pub fn save(state: &mut State, g: &G, d: &D, opt_g: &Adam, opt_d: &Adam) {
        state.put_module("g", g);
        state.put_module("d", d);
        state.put_optimizer("opt_g", opt_g);
        state.put_optimizer("opt_d", opt_d);
    }

    /// The saved networks, loaded into copies of `g` and `d` (with [`stable_ids`]), and their
    /// optimisers restored into `fresh` ones.
    pub fn restore(
        state: &State,
        g: &G,
        d: &D,
        fresh: impl Fn() -> Adam,
    ) -> Result<Networks<G, D>, String> {
        let (mut g, mut d) = (g.clone(), d.clone());
        state.load_module("g", &mut g)?;
        state.load_module("d", &mut d)?;
        Ok(Networks {
            g: stable_ids(g, "g"),
            d: stable_ids(d, "d"),
            opt_g: state.optimizer("opt_g", fresh())?,
            opt_d: state.optimizer("opt_d", fresh())?,
        })
    }
}

/// Gives every parameter of `module` an id derived from `namespace` and its path in the
/// module, so that optimiser states (keyed by id) in a checkpoint find their parameters in a
/// module built afresh by another process. burn's own ids are random.
pub fn stable_ids<M: Module>(module: M, namespace: &str) -> M {
    struct Ids<'a> {
        namespace: &'a str,
        path: Vec<String>,
    }
    impl ModuleMapper for Ids<'_> {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (_, tensor, mapper) = param.consume();
            let name = format!("{}/{}", self.namespace, self.path.join("."));
            let id = Rng::keyed(0x1d5, &name).next_u64();
            Param::from_mapped_value(ParamId::from(id), tensor, mapper)
        }
    }
    module.map(&mut Ids {
        namespace,
        path: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::adam::AdamSettings;

    const SETTINGS: AdamSettings = AdamSettings {
        betas: [0.5, 0.999],
        epsilon: 1e-8,
        weight_decay: 1e-4,
    };

    /// burn's Adam (the CUDA optimiser) keys its state by parameter id: restored into a
    /// network built afresh with the same stable ids, it continues exactly.
    #[test]
    fn burns_adam_state_continues_in_a_network_built_afresh() {
        adam_state_continues_in_a_network_built_afresh(Device::flex().autodiff(), || {
            Adam::burn(SETTINGS)
        });
    }

    /// So does the libtorch Adam, whose moments live on the device between checkpoints.
    #[cfg(feature = "tch")]
    #[test]
    #[allow(deprecated)]
    fn torch_adam_state_continues_in_a_network_built_afresh() {
        let device = Device::libtorch().autodiff();
        let make = || Adam::new(SETTINGS, &device);
        assert!(matches!(make(), Adam::Torch { .. }));
        adam_state_continues_in_a_network_built_afresh(device.clone(), make);
    }

    fn adam_state_continues_in_a_network_built_afresh(device: Device, make: impl Fn() -> Adam) {
        use burn::nn::{Linear, LinearConfig};
        use burn::optim::GradientsParams;

        let build = || stable_ids(LinearConfig::new(4, 3).init(&device), "net");
        let step = |net: Linear, adam: &mut Adam| {
            let x = Tensor::<2>::from_data(
                TensorData::new((0..8).map(|v| v as f32 / 8.0).collect(), [2, 4]),
                &device,
            );
            let loss = (net.forward(x) - 0.25).powi_scalar(2).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            adam.step(1e-2, net, grads)
        };
        let mut adam = make();
        let mut net = build();
        for _ in 0..2 {
            net = step(net, &mut adam);
        }
        let mut state = State::new(2, "test");
        state.put_module("net", &net);
        state.put_optimizer("adam", &adam);
        let path =
            std::env::temp_dir().join(format!("heist-burn-adam-{}.ckpt", std::process::id()));
        state.save(&path).unwrap();
        let loaded = State::load(&path).unwrap().expect("written");
        let _ = std::fs::remove_file(&path);

        let mut afresh = build();
        loaded.load_module("net", &mut afresh).unwrap();
        let mut restored = loaded.optimizer("adam", make()).unwrap();
        let bytes = |net: &Linear| crate::engine::models::snapshot_bytes(net).unwrap();
        let continued = step(net, &mut adam);
        let resumed = step(afresh, &mut restored);
        assert!(bytes(&continued) == bytes(&resumed), "same third step");
        let mut same_weights = build();
        loaded.load_module("net", &mut same_weights).unwrap();
        let fresh_moments = step(same_weights, &mut make());
        assert!(
            bytes(&fresh_moments) != bytes(&resumed),
            "the moments were restored, not started over"
        );
    }

    #[test]
    fn a_checkpoint_round_trips_and_a_damaged_one_is_refused() {
        let device = Device::flex();
        let mut state = State::new(7, "Pix2Pix");
        state.put_rng("rng", &Rng::new(42));
        state.put_numbers("order", vec![3, 1, 2]);
        let image: Tensor<4> = Tensor::from_data(
            TensorData::new(
                (0..12).map(|v| v as f32 / 7.0).collect::<Vec<_>>(),
                [1, 3, 2, 2],
            ),
            &device,
        );
        state.put_tensors("pool", &[image.clone(), image.clone() * 2.0]);
        let bytes = state.to_bytes();

        let back = State::from_bytes(&bytes).unwrap();
        assert_eq!((back.step, back.label.as_str()), (7, "Pix2Pix"));
        assert_eq!(back.rng("rng").unwrap().next_u64(), Rng::new(42).next_u64());
        assert_eq!(back.numbers("order").unwrap(), &[3, 1, 2]);
        let pool = back.tensors("pool", &device).unwrap();
        assert_eq!(pool.len(), 2);
        assert_eq!(pool[1].to_data(), (image * 2.0).to_data());
        assert!(back.numbers("missing").unwrap_err().contains("`missing`"));

        let mut damaged = bytes.clone();
        damaged[MAGIC.len() + 20] ^= 1;
        assert!(State::from_bytes(&damaged)
            .unwrap_err()
            .contains("checksum"));
        assert!(State::from_bytes(&bytes[..bytes.len() / 2]).is_err());
        assert!(State::from_bytes(b"PK\x03\x04 a zip file")
            .unwrap_err()
            .contains("not a heist checkpoint"));
    }
}

/// Training stopped at a checkpoint and resumed gives the weights of training that never
/// stopped, for each recipe (on the CPU default, bit for bit).
#[cfg(test)]
mod resuming {
    use std::path::Path;

    use super::Checkpointing;
    use crate::engine::jobs::{self, Context};
    use crate::engine::models::Generator;
    use crate::engine::train::{Observer, TrainError};
    use crate::sema::program::{DataRef, Program};

    /// Stops after `stop` steps; remembers where training resumed and what it was warned of.
    #[derive(Default)]
    struct Watch {
        stop: Option<u64>,
        done: u64,
        resumed: Option<u64>,
        warnings: Vec<String>,
    }

    impl Observer for Watch {
        fn resumed(&mut self, step: u64) {
            self.resumed = Some(step);
            self.done = step;
        }
        fn step(&mut self, step: u64, _: &[(&'static str, f64)]) {
            self.done = step;
        }
        fn warn(&mut self, message: &str) {
            self.warnings.push(message.to_string());
        }
        fn interrupted(&self) -> bool {
            self.stop == Some(self.done)
        }
    }

    fn tiny() -> Program {
        crate::sema::check_file(Path::new("tests/fixtures/tiny.exp"), &[])
            .unwrap()
            .program
            .expect("tiny.exp is valid")
    }

    fn context(program: &Program) -> Context<'_> {
        Context {
            program,
            base: "tests/fixtures".into(),
            device: burn::tensor::Device::flex(),
            scratch: crate::engine::jobs::Scratch(
                std::env::temp_dir().join(format!("heist-checkpoint-test-{}", std::process::id())),
            ),
        }
    }

    /// One of tiny.exp's training jobs: a victim, or the Pix2Pix surrogate on stand-in pairs.
    fn train(
        cx: &Context,
        job: &str,
        checkpoint: Option<&Checkpointing>,
        watch: &mut Watch,
    ) -> Result<Generator, TrainError> {
        let result = if job == "pix2pix" {
            let images = |name: &str| -> Vec<image::RgbImage> {
                let data = DataRef {
                    dataset: name.into(),
                    part: None,
                };
                cx.samples(&data)
                    .unwrap()
                    .into_iter()
                    .map(|s| s.image)
                    .collect()
            };
            let attack = &cx.program.attacks["steal_monet"];
            jobs::train_surrogate(
                cx,
                attack,
                &attack.points[0],
                images("attacker"),
                images("paintings"),
                checkpoint,
                watch,
            )
        } else {
            jobs::train_victim(cx, job, checkpoint, watch)
        };
        result.map_err(|e| match e {
            jobs::JobError::Train(e) => e,
            e => panic!("{e}"),
        })
    }

    #[test]
    fn every_recipe_resumes_to_the_weights_of_an_uninterrupted_run() {
        let program = tiny();
        let cx = context(&program);
        let dir = std::env::temp_dir().join(format!("heist-resume-{}", std::process::id()));
        // CycleGAN and U-GAT-IT train 3 steps, SRGAN 2 warm-up + 3, Pix2Pix 3.
        for (job, stop) in [
            ("monet", 1),
            ("anime_filter", 2),
            ("upscaler", 1),
            ("upscaler", 3),
            ("pix2pix", 2),
        ] {
            let whole = train(&cx, job, None, &mut Watch::default()).unwrap();
            let c = Checkpointing {
                path: dir.join(format!("{job}-{stop}.ckpt")),
                every: std::time::Duration::from_secs(3600),
            };
            let mut first = Watch {
                stop: Some(stop),
                ..Watch::default()
            };
            match train(&cx, job, Some(&c), &mut first) {
                Err(TrainError::Interrupted { step, .. }) => assert_eq!(step, stop),
                other => panic!(
                    "{job}: expected an interruption, got {:?}",
                    other.map(|_| ())
                ),
            }
            assert!(
                c.path.is_file(),
                "{job}: a checkpoint is written when stopped"
            );
            let mut second = Watch::default();
            let resumed = train(&cx, job, Some(&c), &mut second).unwrap();
            assert_eq!(second.resumed, Some(stop), "{job}");
            assert!(
                whole.to_bytes().unwrap() == resumed.to_bytes().unwrap(),
                "{job}: resumed at step {stop}, the weights differ from an uninterrupted run"
            );
            let _ = std::fs::remove_file(&c.path);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_checkpoint_is_reported_and_training_starts_over() {
        let program = tiny();
        let cx = context(&program);
        let path = std::env::temp_dir().join(format!("heist-damaged-{}.ckpt", std::process::id()));
        let c = Checkpointing {
            path: path.clone(),
            every: std::time::Duration::ZERO,
        };
        let stopped = Watch {
            stop: Some(2),
            ..Watch::default()
        };
        let mut stopped = stopped;
        assert!(train(&cx, "monet", Some(&c), &mut stopped).is_err());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 100);
        std::fs::write(&path, bytes).unwrap();

        let mut watch = Watch::default();
        let g = train(&cx, "monet", Some(&c), &mut watch).unwrap();
        assert_eq!(watch.resumed, None);
        assert_eq!(watch.warnings.len(), 1, "{:?}", watch.warnings);
        assert!(
            watch.warnings[0].contains("checksum") && watch.warnings[0].contains("step 0"),
            "{}",
            watch.warnings[0]
        );
        let whole = train(&cx, "monet", None, &mut Watch::default()).unwrap();
        assert!(whole.to_bytes().unwrap() == g.to_bytes().unwrap());
        let _ = std::fs::remove_file(&path);
    }

    /// A full disk or an unwritable folder costs the checkpoint, not the training.
    #[test]
    fn a_checkpoint_that_cannot_be_written_is_warned_of_and_training_goes_on() {
        let program = tiny();
        let cx = context(&program);
        // The checkpoint's folder is a file: every write fails.
        let blocker = std::env::temp_dir().join(format!("heist-not-a-dir-{}", std::process::id()));
        std::fs::write(&blocker, b"a file").unwrap();
        let c = Checkpointing {
            path: blocker.join("monet.ckpt"),
            every: std::time::Duration::ZERO,
        };
        let mut watch = Watch::default();
        let g = train(&cx, "monet", Some(&c), &mut watch).unwrap();
        assert_eq!(watch.warnings.len(), 1, "warned once: {:?}", watch.warnings);
        assert!(
            watch.warnings[0].contains("monet.ckpt") && watch.warnings[0].contains("goes on"),
            "{}",
            watch.warnings[0]
        );
        let whole = train(&cx, "monet", None, &mut Watch::default()).unwrap();
        assert!(whole.to_bytes().unwrap() == g.to_bytes().unwrap());

        let mut stopped = Watch {
            stop: Some(1),
            ..Watch::default()
        };
        match train(&cx, "monet", Some(&c), &mut stopped) {
            Err(TrainError::Interrupted { step: 1, path }) => assert_eq!(path, "not kept"),
            other => panic!("expected an interruption, got {:?}", other.map(|_| ())),
        }
        let _ = std::fs::remove_file(&blocker);
    }
}
