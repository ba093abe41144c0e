//! burn building blocks shared by the metrics' Inception v3 and the engine's networks: the
//! convolution builder, deterministic weight initialisation and in-memory safetensors.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;

use crate::rng::Rng;

/// A convolution with `[input, output]` channels, a `[height, width]` kernel, one stride for
/// both axes and `[vertical, horizontal]` zero padding (PyTorch's `Conv2d` arguments).
pub fn conv2d(
    device: &Device,
    channels: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    bias: bool,
) -> Conv2d {
    Conv2dConfig::new(channels, kernel)
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding[0], padding[1], padding[0], padding[1],
        ))
        .with_bias(bias)
        .init(device)
}

/// A named float tensor in row-major order.
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The tensors as a `.safetensors` file (F32), written by the `safetensors` crate: names are
/// escaped as JSON strings and the layout is the format's own (sorted by name).
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .zip(&data)
        .map(|(t, bytes)| {
            let view = TensorView::new(Dtype::F32, t.shape.clone(), bytes)
                .expect("a tensor's values fill its shape");
            (t.name.as_str(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("F32 tensors serialise")
}

/// How a network's weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// junyanz's `init_weights(net, 'normal', 0.02)` (CycleGAN, Pix2Pix): convolution and
    /// linear weights N(0, 0.02), normalisation scales N(1, 0.02), biases and shifts 0.
    Normal002,
    /// PyTorch's layer defaults (U-GAT-IT, SRResNet): weights and biases uniform in
    /// ±1/sqrt(fan_in), normalisation scales 1, shifts 0.
    TorchDefault,
}

/// Sets every parameter of `module` from `seed` alone, so that a model's start does not
/// depend on burn's global random state (shared between jobs and threads). Tensors whose
/// names end in one of `keep` (e.g. learned constants such as AdaLIN's rho) are left as built.
pub fn initialise<M: Module + ModuleSnapshot>(
    mut module: M,
    init: Init,
    seed: u64,
    keep: &[&str],
) -> M {
    let shapes: Vec<(String, Vec<usize>)> = module
        .collect(None, None, false)
        .iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    let mut tensors: Vec<NamedTensor> = Vec::new();
    for (name, shape) in &shapes {
        if keep.iter().any(|k| name.ends_with(k)) {
            continue;
        }
        let (name, shape) = (name.clone(), shape.clone());
        let n: usize = shape.iter().product();
        let mut rng = Rng::keyed(seed, &name);
        let leaf = name.rsplit('.').next().unwrap_or("");
        let values: Vec<f32> = match leaf {
            "running_mean" => vec![0.0; n],
            "running_var" => vec![1.0; n],
            "gamma" => match init {
                Init::Normal002 => (0..n).map(|_| 1.0 + 0.02 * rng.normal() as f32).collect(),
                Init::TorchDefault => vec![1.0; n],
            },
            "beta" => vec![0.0; n],
            "bias" => match init {
                Init::Normal002 => vec![0.0; n],
                Init::TorchDefault => {
                    let bound = 1.0 / (bias_fan_in(&shapes, &name) as f64).sqrt();
                    (0..n).map(|_| rng.range(-bound, bound) as f32).collect()
                }
            },
            _ => match init {
                Init::Normal002 => (0..n).map(|_| 0.02 * rng.normal() as f32).collect(),
                Init::TorchDefault => {
                    let bound = 1.0 / (weight_fan_in(&shape) as f64).sqrt();
                    (0..n).map(|_| rng.range(-bound, bound) as f32).collect()
                }
            },
        };
        tensors.push(NamedTensor {
            name,
            shape,
            values,
        });
    }
    let mut store =
        SafetensorsStore::from_bytes(Some(safetensors_bytes(&tensors))).allow_partial(true);
    let result = module
        .load_from(&mut store)
        .expect("freshly written safetensors load");
    debug_assert!(result.errors.is_empty(), "{:?}", result.errors);
    module
}

/// burn stores convolution weights as `[out, in, k, k]`, transposed ones as `[in, out, k, k]`
/// and linear ones as `[in, out]`; PyTorch takes the fan-in from dimension 1 of its own
/// layouts, which is dimension 1 of burn's for both kinds of convolution.
fn weight_fan_in(shape: &[usize]) -> usize {
    match shape.len() {
        2 => shape[0],
        4 => shape[1] * shape[2] * shape[3],
        _ => shape.iter().skip(1).product::<usize>().max(1),
    }
}

fn bias_fan_in(shapes: &[(String, Vec<usize>)], bias: &str) -> usize {
    let weight = format!("{}weight", bias.trim_end_matches("bias"));
    shapes
        .iter()
        .find(|(name, _)| *name == weight)
        .map(|(_, shape)| weight_fan_in(shape))
        .unwrap_or(1)
}

fn corrupt(why: impl std::fmt::Display) -> String {
    format!("not a safetensors file ({why}); it may be truncated or corrupt")
}

/// The tensor names and shapes of a `.safetensors` file, or what is wrong with it.
pub fn safetensors_header(bytes: &[u8]) -> Result<Vec<(String, Vec<usize>)>, String> {
    let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes).map_err(corrupt)?;
    let mut out: Vec<(String, Vec<usize>)> = metadata
        .tensors()
        .into_iter()
        .map(|(name, info)| (name, info.shape.clone()))
        .collect();
    out.sort();
    Ok(out)
}

/// The F32 tensors of a `.safetensors` file, sorted by name; any other dtype is an error.
pub fn safetensors_tensors(bytes: &[u8]) -> Result<Vec<NamedTensor>, String> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(corrupt)?;
    let mut tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(format!("`{name}` is {:?}, not F32", view.dtype()));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(NamedTensor {
                name,
                shape: view.shape().to_vec(),
                values,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_with_names_that_need_escaping() {
        let tensors = vec![
            NamedTensor {
                name: "a\"quoted\" name".into(),
                shape: vec![2],
                values: vec![1.0, -2.5],
            },
            NamedTensor {
                name: "b.weight".into(),
                shape: vec![1, 1],
                values: vec![3.0],
            },
        ];
        let bytes = safetensors_bytes(&tensors);
        let back = safetensors_tensors(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].name, "a\"quoted\" name");
        assert_eq!(back[0].values, [1.0, -2.5]);
        assert_eq!(back[1].shape, [1, 1]);
        assert_eq!(
            safetensors_header(&bytes).unwrap()[1],
            ("b.weight".to_string(), vec![1, 1])
        );
        assert!(
            safetensors_tensors(&bytes[..bytes.len() - 1]).is_err(),
            "truncated"
        );
    }

    #[test]
    fn tensors_of_another_dtype_are_refused() {
        use safetensors::tensor::{Dtype, TensorView};
        let data = [0u8; 4];
        let view = TensorView::new(Dtype::I32, vec![1], &data).unwrap();
        let bytes = safetensors::serialize([("x", view)], None).unwrap();
        let error = safetensors_tensors(&bytes).err().unwrap();
        assert!(error.contains("not F32"), "{error}");
    }
}
