//! The image-translation networks, as burn modules with their configurations, and
//! [`Generator`]: any trained translator, for inference, saving and loading.

pub mod cyclegan;
pub mod junyanz;
pub mod patchgan;
pub mod pix2pix;
pub mod srresnet;
pub mod ugatit;
pub mod vgg19;

use std::path::Path;

use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::engine::tensors::{to_images, to_tensor};
use crate::nn::{initialise, Init, NamedTensor};
use crate::sema::program::Architecture;

use cyclegan::ResnetGenerator;
use pix2pix::UnetGenerator;
use srresnet::SrResNet;
use ugatit::UgatitGenerator;

/// Trainable parameters (burn's `num_params` also counts BatchNorm's running statistics and
/// spectral normalisation's `u` vectors, which PyTorch keeps as buffers).
pub fn trainable_parameters<M: Module + ModuleSnapshot>(module: &M) -> usize {
    module
        .collect(None, None, false)
        .iter()
        .filter(|t| {
            !(t.name.ends_with("running_mean")
                || t.name.ends_with("running_var")
                || t.name.ends_with(".u"))
        })
        .map(|t| t.shape.iter().product::<usize>())
        .sum()
}

/// The translating half of any architecture: what a victim answers with and what a surrogate
/// learns.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // One per job; boxing would only add noise.
pub enum Generator {
    Unet(UnetGenerator),
    Resnet(ResnetGenerator),
    Ugatit(UgatitGenerator),
    SrResNet(SrResNet),
}

impl Generator {
    /// A freshly initialised generator of `architecture`, a function of `seed` alone.
    pub fn new(architecture: &Architecture, seed: u64, device: &Device) -> Generator {
        match Generator::build(architecture, device) {
            Generator::Unet(g) => Generator::Unet(initialise(g, Init::Normal002, seed, &[])),
            Generator::Resnet(g) => Generator::Resnet(initialise(g, Init::Normal002, seed, &[])),
            Generator::Ugatit(g) => {
                Generator::Ugatit(initialise(g, Init::TorchDefault, seed, ugatit::CONSTANTS))
            }
            Generator::SrResNet(g) => {
                Generator::SrResNet(initialise(g, Init::TorchDefault, seed, srresnet::CONSTANTS))
            }
        }
    }

    /// The network of `architecture` with burn's own starting weights, for loading into.
    fn build(architecture: &Architecture, device: &Device) -> Generator {
        match architecture {
            Architecture::Pix2pix(a) => Generator::Unet(UnetGenerator::new(a, 3, device)),
            Architecture::Cyclegan(a) => Generator::Resnet(ResnetGenerator::new(a, 3, device)),
            Architecture::Ugatit(a) => Generator::Ugatit(UgatitGenerator::new(a, device)),
            Architecture::Srgan(a) => {
                Generator::SrResNet(SrResNet::new(a.filters, a.residual_blocks, a.scale, device))
            }
            Architecture::Srresnet(a) => {
                Generator::SrResNet(SrResNet::new(a.filters, a.residual_blocks, a.scale, device))
            }
        }
    }

    /// `[batch, 3, h, w]` in [-1, 1] to the translation (`scale` times larger for SR).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Generator::Unet(g) => g.forward(x),
            Generator::Resnet(g) => g.forward(x),
            Generator::Ugatit(g) => g.forward(x).0,
            Generator::SrResNet(g) => g.forward(x),
        }
    }

    /// Inference mode: no autodiff, BatchNorm with running statistics, no dropout.
    pub fn valid(&self) -> Generator {
        match self {
            Generator::Unet(g) => Generator::Unet(g.valid()),
            Generator::Resnet(g) => Generator::Resnet(g.valid()),
            Generator::Ugatit(g) => Generator::Ugatit(g.valid()),
            Generator::SrResNet(g) => Generator::SrResNet(g.valid()),
        }
    }

    /// Translates images in batches of up to 16 (inference mode). Images of one call share
    /// a size.
    pub fn translate(&self, images: &[RgbImage], device: &Device) -> Vec<RgbImage> {
        let model = self.valid();
        images
            .chunks(16)
            .flat_map(|chunk| {
                let refs: Vec<&RgbImage> = chunk.iter().collect();
                to_images(model.forward(to_tensor(&refs, device)))
            })
            .collect()
    }

    pub fn parameters(&self) -> usize {
        match self {
            Generator::Unet(g) => trainable_parameters(g),
            Generator::Resnet(g) => trainable_parameters(g),
            Generator::Ugatit(g) => trainable_parameters(g),
            Generator::SrResNet(g) => trainable_parameters(g),
        }
    }

    /// The weights as `.safetensors` bytes in burn's naming, tensors sorted by name.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WeightsError> {
        match self {
            Generator::Unet(g) => snapshot_bytes(g),
            Generator::Resnet(g) => snapshot_bytes(g),
            Generator::Ugatit(g) => snapshot_bytes(g),
            Generator::SrResNet(g) => snapshot_bytes(g),
        }
    }

    /// The weights as a `.safetensors` file in burn's naming, written atomically.
    pub fn save(&self, path: &Path) -> Result<(), WeightsError> {
        let bytes = self.to_bytes()?;
        crate::fsutil::write_atomic(path, &bytes)
            .map_err(|e| WeightsError::at(path, format!("cannot write it: {e}")))
    }

    /// Loads weights saved by [`Generator::save`] (`.safetensors`), or junyanz's PyTorch state
    /// dicts (`.pth`) for Pix2Pix and CycleGAN, into a generator of `architecture`; every
    /// tensor must be there with the architecture's shape.
    pub fn load(
        architecture: &Architecture,
        path: &Path,
        device: &Device,
    ) -> Result<Generator, WeightsError> {
        if path.extension().is_some_and(|e| e == "pth" || e == "pt") {
            return Generator::import_pytorch(architecture, path, device);
        }
        let bytes = std::fs::read(path).map_err(|e| WeightsError::unreadable(path, e))?;
        let mut g = Generator::build(architecture, device);
        let result = match &mut g {
            Generator::Unet(m) => load_bytes(m, bytes),
            Generator::Resnet(m) => load_bytes(m, bytes),
            Generator::Ugatit(m) => load_bytes(m, bytes),
            Generator::SrResNet(m) => load_bytes(m, bytes),
        };
        result.map_err(|e| e.of(path))?;
        Ok(g)
    }
}

/// The module's tensors as `.safetensors`, sorted by name, so that equal weights give equal
/// files (burn's store writes them in hash order).
impl Generator {
    /// A PyTorch state dict of the reference implementation: junyanz's generators for
    /// Pix2Pix and CycleGAN ([`junyanz`]).
    fn import_pytorch(
        architecture: &Architecture,
        path: &Path,
        device: &Device,
    ) -> Result<Generator, WeightsError> {
        match architecture {
            Architecture::Pix2pix(a) => junyanz::load_unet(UnetGenerator::new(a, 3, device), a.unet_depth as usize, path)
                .map(Generator::Unet),
            Architecture::Cyclegan(a) => {
                junyanz::load_resnet(ResnetGenerator::new(a, 3, device), a.residual_blocks as usize, path)
                    .map(Generator::Resnet)
            }
            _ => Err(WeightsError::at(
                path,
                "PyTorch weights are read for pix2pix and cyclegan (junyanz's layout); save other models with heist (.safetensors)",
            )),
        }
    }
}

/// Running statistics (BatchNorm's, spectral normalisation's `u`) hold their latest update
/// aside until the next forward pass; `valid()` folds it in, so the bytes are the module as
/// trained.
pub fn snapshot_bytes<M: Module + ModuleSnapshot>(module: &M) -> Result<Vec<u8>, WeightsError> {
    let mut tensors: Vec<NamedTensor> = module
        .valid()
        .collect(None, None, false)
        .iter()
        .map(|t| {
            let bytes = t
                .to_bytes()
                .map_err(|e| WeightsError::new(format!("{}: {e:?}", t.name)))?;
            if bytes.len() != 4 * t.shape.iter().product::<usize>() {
                return Err(WeightsError::new(format!(
                    "{}: only f32 weights can be saved",
                    t.name
                )));
            }
            Ok(NamedTensor {
                name: t.name.clone(),
                shape: t.shape.to_vec(),
                values: bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            })
        })
        .collect::<Result<_, WeightsError>>()?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(crate::nn::safetensors_bytes(&tensors))
}

/// Applies safetensors bytes to `module`, naming the first missing, mismatching or unknown
/// tensor.
pub fn load_bytes<M: Module + ModuleSnapshot>(
    module: &mut M,
    bytes: Vec<u8>,
) -> Result<(), WeightsError> {
    let expected: Vec<(String, Vec<usize>)> = module
        .collect(None, None, false)
        .iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    let header = crate::nn::safetensors_header(&bytes).map_err(WeightsError::new)?;
    for (name, shape) in &expected {
        match header.iter().find(|(n, _)| n == name) {
            None => {
                return Err(WeightsError::new(format!(
                    "the weights lack `{name}`: they are not of this architecture (or of another size)"
                )))
            }
            Some((_, found)) if found != shape => {
                return Err(WeightsError::new(format!(
                    "`{name}` is {found:?} in the file but {shape:?} in this architecture: the weights are of another size or model"
                )))
            }
            _ => {}
        }
    }
    if let Some((name, _)) = header
        .iter()
        .find(|(n, _)| !expected.iter().any(|(e, _)| e == n))
    {
        return Err(WeightsError::new(format!(
            "the file has `{name}`, which this architecture does not: the weights are of another model"
        )));
    }
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let result = module
        .load_from(&mut store)
        .map_err(|e| WeightsError::new(e.to_string()))?;
    if let Some(error) = result.errors.first() {
        return Err(WeightsError::new(format!("{error:?}")));
    }
    Ok(())
}

/// Why weights cannot be read, used or written: the file (when there is one) and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", path.as_ref().map_or(String::new(), |p| format!("{}: ", p.display())))]
pub struct WeightsError {
    pub path: Option<std::path::PathBuf>,
    pub reason: String,
}

impl WeightsError {
    pub fn new(reason: impl Into<String>) -> WeightsError {
        WeightsError {
            path: None,
            reason: reason.into(),
        }
    }

    /// A problem with the file at `path`.
    pub fn at(path: &Path, reason: impl Into<String>) -> WeightsError {
        WeightsError {
            path: Some(path.to_path_buf()),
            reason: reason.into(),
        }
    }

    pub fn unreadable(path: &Path, e: impl std::fmt::Display) -> WeightsError {
        WeightsError::at(path, format!("cannot read it: {e}"))
    }

    /// The same problem, found in the file at `path`.
    pub fn of(self, path: &Path) -> WeightsError {
        WeightsError {
            path: Some(path.to_path_buf()),
            ..self
        }
    }
}
