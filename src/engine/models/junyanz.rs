//! Weights from junyanz/pytorch-CycleGAN-and-pix2pix: the `latest_net_G*.pth` state dicts its
//! `train.py` writes, for the U-Net (Pix2Pix) and ResNet (CycleGAN) generators. Each burn
//! tensor is mapped to the key the reference network gives it (nested `Sequential` indices);
//! every tensor must be found with its shape.

use std::path::Path;

use burn::module::Module;
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, PytorchStore};

use super::cyclegan::ResnetGenerator;
use super::pix2pix::UnetGenerator;
use super::WeightsError;

/// The reference key of a U-Net tensor (`levels.2.up_norm.weight` ->
/// `model.model.1.model.3.model.6.weight`).
fn unet_key(name: &str, depth: usize) -> Option<String> {
    let mut parts = name.splitn(4, '.');
    let (_, level, layer, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let level: usize = level.parse().ok()?;
    let mut prefix = String::from("model.model.");
    for l in 0..level {
        prefix.push_str(if l == 0 { "1.model." } else { "3.model." });
    }
    let innermost = level == depth - 1;
    let index = match (level, innermost, layer) {
        (0, _, "down") => 0,
        (0, _, "up") => 3,
        (_, true, "down") => 1,
        (_, true, "up") => 3,
        (_, true, "up_norm") => 4,
        (_, false, "down") => 1,
        (_, false, "down_norm") => 2,
        (_, false, "up") => 5,
        (_, false, "up_norm") => 6,
        _ => return None,
    };
    Some(format!("{prefix}{index}.{rest}"))
}

/// The reference key of a ResNet generator tensor (`blocks.1.conv2.bias` ->
/// `model.11.conv_block.5.bias`).
fn resnet_key(name: &str, blocks: usize) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let leaf = parts.last()?;
    let index = |i: usize| parts.get(i).and_then(|p| p.parse::<usize>().ok());
    let key = match parts[0] {
        "stem" => format!("model.1.{leaf}"),
        "down" => format!("model.{}.{leaf}", 4 + 3 * index(1)?),
        "blocks" => {
            let conv = match *parts.get(2)? {
                "conv1" => 1,
                "conv2" => 5,
                _ => return None,
            };
            format!("model.{}.conv_block.{conv}.{leaf}", 10 + index(1)?)
        }
        "up" => format!("model.{}.{leaf}", 10 + blocks + 3 * index(1)?),
        "head" => format!("model.{}.{leaf}", 17 + blocks),
        _ => return None,
    };
    Some(key)
}

/// Loads a junyanz `.pth` into `module`, whose tensors are named by burn; `key` gives the
/// reference key of each (in PyTorch's naming: `weight`/`bias` for normalisation layers).
fn load<M: Module + ModuleSnapshot>(
    mut module: M,
    path: &Path,
    key: impl Fn(&str) -> Option<String>,
) -> Result<M, WeightsError> {
    let names: Vec<String> = module
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let mut store = PytorchStore::from_file(path).allow_partial(true);
    for name in &names {
        let reference = key(name)
            .ok_or_else(|| WeightsError::at(path, format!("no reference key for `{name}`")))?;
        store = store.with_key_remapping(format!("^{}$", regex_escape(&reference)), name.clone());
    }
    let result = module
        .load_from(&mut store)
        .map_err(|e| WeightsError::unreadable(path, e))?;
    if let Some(error) = result.errors.first() {
        return Err(WeightsError::at(path, format!("{error:?}")));
    }
    if let Some((missing, _)) = result.missing.first() {
        return Err(WeightsError::at(path, format!(
            "the reference key `{}` is missing ({} of {} tensors): not a junyanz generator of this configuration",
            key(&missing.replace(".gamma", ".weight").replace(".beta", ".bias")).unwrap_or_default(),
            result.missing.len(),
            names.len()
        )));
    }
    Ok(module)
}

fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

pub fn load_unet(
    g: UnetGenerator,
    depth: usize,
    path: &Path,
) -> Result<UnetGenerator, WeightsError> {
    load(g, path, |name| unet_key(name, depth))
}

pub fn load_resnet(
    g: ResnetGenerator,
    blocks: usize,
    path: &Path,
) -> Result<ResnetGenerator, WeightsError> {
    load(g, path, |name| resnet_key(name, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::features::read_npy;
    use crate::sema::program::{CycleGan, Pix2Pix};
    use burn::tensor::{Device, Tensor, TensorData};

    const DIR: &str = "tests/fixtures/junyanz";

    fn tensor(name: &str, device: &Device) -> (Vec<f32>, Tensor<4>) {
        let m = read_npy(Path::new(&format!("{DIR}/{name}.npy"))).unwrap();
        let values: Vec<f32> = m.data.iter().map(|v| *v as f32).collect();
        let t = Tensor::from_data(TensorData::new(values.clone(), [2, 3, 32, 32]), device);
        (values, t)
    }

    fn assert_close(actual: Tensor<4>, expected: &[f32]) {
        let actual = actual.into_data().convert::<f32>();
        let actual = actual.as_slice::<f32>().unwrap();
        let worst = actual
            .iter()
            .zip(expected)
            .map(|(a, e)| (a - e).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "largest difference to PyTorch {worst:e}");
    }

    #[test]
    fn junyanz_unet_weights_reproduce_pytorch_outputs() {
        // bench/junyanz_parity.py: unet(num_downs 5, ngf 4) with random weights and BatchNorm
        // statistics, eval mode.
        let device = Device::flex();
        let config = Pix2Pix {
            image_size: 32,
            generator_filters: 4,
            unet_depth: 5,
            discriminator_filters: 4,
            discriminator_layers: 3,
            dropout: true,
        };
        let g = load_unet(
            UnetGenerator::new(&config, 3, &device),
            5,
            Path::new(&format!("{DIR}/unet.pth")),
        )
        .unwrap();
        let (_, x) = tensor("input", &device);
        let (expected, _) = tensor("unet_out", &device);
        assert_close(g.valid().forward(x), &expected);
    }

    #[test]
    fn junyanz_resnet_weights_reproduce_pytorch_outputs() {
        let device = Device::flex();
        let config = CycleGan {
            image_size: 32,
            generator_filters: 4,
            residual_blocks: 2,
            discriminator_filters: 4,
            discriminator_layers: 3,
        };
        let g = load_resnet(
            ResnetGenerator::new(&config, 3, &device),
            2,
            Path::new(&format!("{DIR}/resnet.pth")),
        )
        .unwrap();
        let (_, x) = tensor("input", &device);
        let (expected, _) = tensor("resnet_out", &device);
        assert_close(g.valid().forward(x), &expected);
    }

    #[test]
    fn a_network_of_another_size_is_refused_with_the_missing_key() {
        let device = Device::flex();
        let config = CycleGan {
            image_size: 32,
            generator_filters: 4,
            residual_blocks: 3,
            discriminator_filters: 4,
            discriminator_layers: 3,
        };
        let error = load_resnet(
            ResnetGenerator::new(&config, 3, &device),
            3,
            Path::new(&format!("{DIR}/resnet.pth")),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("`model.12.conv_block.1."),
            "{error}"
        );
    }
}
