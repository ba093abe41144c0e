//! VGG19's convolutional features (Simonyan and Zisserman 2014, torchvision's `vgg19().features`)
//! up to one named layer, for SRGAN's perceptual content loss (Ledig et al. 2017: the MSE of
//! `relu5_4` features, "VGG54", rescaled by 1/12.75). The weights are the user's file: heist
//! downloads nothing.

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2dConfig;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use super::WeightsError;
use crate::nn::conv2d;
use crate::sema::program::{Vgg19Layer as Layer, VGG19_BLOCKS as BLOCKS};

const CHANNELS: [usize; 5] = [64, 128, 256, 512, 512];
/// ImageNet statistics torchvision's weights expect of RGB in [0, 1].
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Ledig et al. rescale the feature maps by 1/12.75 (so the loss is comparable to the MSE).
pub const RESCALE: f64 = 1.0 / 12.75;

/// The index in torchvision's `features` Sequential of the `k`-th convolution (0-based): each
/// convolution is followed by its ReLU, each block by a pool.
fn torchvision_index(k: usize) -> usize {
    let mut index = 0;
    let mut seen = 0;
    for n in BLOCKS {
        for _ in 0..n {
            if seen == k {
                return index;
            }
            seen += 1;
            index += 2;
        }
        index += 1;
    }
    unreachable!("VGG19 has 16 convolutions")
}

#[derive(Module, Debug)]
pub struct Vgg19Features {
    convs: Vec<Conv2d>,
}

/// VGG19 features up to a layer, with frozen weights.
#[derive(Debug, Clone)]
pub struct Vgg19 {
    features: Vgg19Features,
    layer: Layer,
}

impl Vgg19 {
    /// The network up to `layer`, with burn's starting weights (for loading into).
    fn build(layer: Layer, device: &Device) -> Vgg19 {
        let mut convs = Vec::new();
        let mut input = 3;
        'blocks: for (b, n) in BLOCKS.iter().enumerate() {
            for _ in 0..*n {
                if convs.len() == layer.convolutions {
                    break 'blocks;
                }
                convs.push(conv2d(
                    device,
                    [input, CHANNELS[b]],
                    [3, 3],
                    1,
                    [1, 1],
                    true,
                ));
                input = CHANNELS[b];
            }
        }
        Vgg19 {
            features: Vgg19Features { convs },
            layer,
        }
    }

    /// Loads torchvision's VGG19 weights (`vgg19-dcbb9e9d.pth`, a state dict with
    /// `features.N.weight`/`bias`; the classifier is not read) or a `.safetensors` with the same
    /// keys, up to `layer`. Every convolution up to it must be there with its shape.
    pub fn load(path: &Path, layer: &str, device: &Device) -> Result<Vgg19, WeightsError> {
        let layer = Layer::parse(layer).map_err(WeightsError::new)?;
        let mut vgg = Vgg19::build(layer, device);
        // torchvision's `features.N` to burn's `convs.K`, for the convolutions up to `layer`.
        let keys: Vec<(String, String)> = (0..layer.convolutions)
            .map(|k| {
                let i = torchvision_index(k);
                (
                    format!("^features\\.{i}\\.(weight|bias)$"),
                    format!("convs.{k}.$1"),
                )
            })
            .collect();
        let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
        let result = if is_safetensors {
            let bytes = std::fs::read(path).map_err(|e| WeightsError::unreadable(path, e))?;
            crate::nn::safetensors_header(&bytes).map_err(|e| WeightsError::at(path, e))?;
            let mut store = SafetensorsStore::from_bytes(Some(bytes))
                .with_from_adapter(PyTorchToBurnAdapter)
                .allow_partial(true);
            for (from, to) in keys {
                store = store.with_key_remapping(from, to);
            }
            vgg.features
                .load_from(&mut store)
                .map_err(|e| e.to_string())
        } else {
            let mut store = PytorchStore::from_file(path).allow_partial(true);
            for (from, to) in keys {
                store = store.with_key_remapping(from, to);
            }
            vgg.features
                .load_from(&mut store)
                .map_err(|e| e.to_string())
        }
        .map_err(|e| WeightsError::unreadable(path, e))?;
        if let Some(error) = result.errors.first() {
            return Err(WeightsError::at(path, format!("{error:?}")));
        }
        // The first missing tensor in the network's order (the store reports them unordered).
        let first_missing = result
            .missing
            .iter()
            .filter_map(|(name, _)| {
                let k: usize = name.split('.').nth(1)?.parse().ok()?;
                Some((k, !name.ends_with("weight")))
            })
            .min();
        if let Some((k, bias)) = first_missing {
            return Err(WeightsError::at(path, format!(
                "`features.{}.{}` is missing ({} of the {} tensors up to {}): not torchvision's VGG19, or cut short",
                torchvision_index(k),
                if bias { "bias" } else { "weight" },
                result.missing.len(),
                2 * layer.convolutions,
                layer_name(layer),
            )));
        }
        vgg.features = vgg.features.no_grad();
        Ok(vgg)
    }

    /// Features of `[batch, 3, h, w]` images in [-1, 1] (heist's range), normalised as
    /// torchvision's weights expect.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let device = images.device();
        let stats = |v: [f32; 3]| {
            Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 3, 1, 1]), &device)
        };
        let mut x = ((images + 1.0) * 0.5 - stats(MEAN)) / stats(STD);
        let mut k = 0;
        for n in BLOCKS {
            for _ in 0..n {
                x = self.features.convs[k].forward(x);
                k += 1;
                if k == self.layer.convolutions {
                    return if self.layer.activated { relu(x) } else { x };
                }
                x = relu(x);
            }
            x = MaxPool2dConfig::new([2, 2])
                .with_strides([2, 2])
                .init()
                .forward(x);
        }
        x
    }

    /// Ledig et al.'s content loss: the MSE of the rescaled features of `output` and `target`.
    pub fn content_loss(&self, output: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
        let a = self.forward(output) * RESCALE;
        let b = self.forward(target).detach() * RESCALE;
        (a - b).powi_scalar(2).mean()
    }
}

fn layer_name(layer: Layer) -> String {
    let mut left = layer.convolutions;
    for (b, n) in BLOCKS.iter().enumerate() {
        if left <= *n {
            let kind = if layer.activated { "relu" } else { "conv" };
            return format!("{kind}{}_{left}", b + 1);
        }
        left -= n;
    }
    unreachable!()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::features::read_npy;

    #[test]
    fn layers_are_named_as_in_the_papers() {
        assert_eq!(
            Layer::parse("relu5_4").unwrap(),
            Layer {
                convolutions: 16,
                activated: true
            }
        );
        assert_eq!(Layer::parse("conv2_2").unwrap().convolutions, 4);
        assert_eq!(layer_name(Layer::parse("relu3_4").unwrap()), "relu3_4");
        for bad in ["relu6_1", "relu1_3", "pool5", "relu5", "conv0_1"] {
            assert!(
                Layer::parse(bad).unwrap_err().contains("not a VGG19 layer"),
                "{bad}"
            );
        }
        // torchvision's Sequential: conv, ReLU per convolution, a pool after each block.
        let indices: Vec<usize> = (0..16).map(torchvision_index).collect();
        assert_eq!(
            indices,
            [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
        );
    }

    /// `bench/vgg19_parity.py` wrote torchvision's VGG19 with random weights (the features up to
    /// relu2_2) and its features of a random input.
    #[test]
    fn features_match_torchvision() {
        let device = Device::flex();
        let dir = Path::new("tests/fixtures/vgg19");
        let input = read_npy(&dir.join("input.npy")).unwrap();
        let input: Vec<f32> = input.data.iter().map(|v| *v as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(input, [2, 3, 24, 24]), &device);
        let expected = read_npy(&dir.join("relu2_2.npy")).unwrap();
        let vgg = Vgg19::load(&dir.join("vgg19_to_relu2_2.pth"), "relu2_2", &device).unwrap();
        let actual = vgg.forward(x).into_data().convert::<f32>();
        let actual = actual.as_slice::<f32>().unwrap();
        assert_eq!(actual.len(), expected.data.len());
        let worst = actual
            .iter()
            .zip(&expected.data)
            .map(|(a, e)| (*a as f64 - e).abs())
            .fold(0f64, f64::max);
        assert!(worst < 1e-4, "largest difference to torchvision {worst:e}");

        // The file stops at relu2_2: a deeper layer names the first tensor it lacks.
        let e = Vgg19::load(&dir.join("vgg19_to_relu2_2.pth"), "relu5_4", &device).unwrap_err();
        assert!(
            e.to_string().contains("`features.10.weight` is missing"),
            "{e}"
        );
    }
}
