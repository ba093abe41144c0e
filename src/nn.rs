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

/// The tensors as a `.safetensors` file (F32, keys sorted as given).
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0usize;
    let mut data: Vec<u8> = Vec::new();
    for (i, t) in tensors.iter().enumerate() {
        for v in &t.values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        let dims = t
            .shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        if i > 0 {
            header.push(',');
        }
        let end = offset + 4 * t.values.len();
        header.push_str(&format!(
            "\"{}\":{{\"dtype\":\"F32\",\"shape\":[{dims}],\"data_offsets\":[{offset},{end}]}}",
            t.name
        ));
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    bytes
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

/// The tensor names and shapes of a `.safetensors` file, or what is wrong with it.
pub fn safetensors_header(bytes: &[u8]) -> Result<Vec<(String, Vec<usize>)>, String> {
    Ok(entries(bytes)?
        .into_iter()
        .map(|(name, shape, _)| (name, shape))
        .collect())
}

/// The F32 tensors of a `.safetensors` file (as [`safetensors_bytes`] writes them), sorted by
/// name.
pub fn safetensors_tensors(bytes: &[u8]) -> Result<Vec<NamedTensor>, String> {
    let mut tensors = entries(bytes)?
        .into_iter()
        .map(|(name, shape, data)| {
            let values: Vec<f32> = bytes[data]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            if values.len() != shape.iter().product::<usize>() {
                return Err(format!("`{name}` is not F32 data of its shape"));
            }
            Ok(NamedTensor {
                name,
                shape,
                values,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tensors)
}

/// Name, shape and byte range in `bytes` of each tensor of a `.safetensors` file.
#[allow(clippy::type_complexity)]
fn entries(bytes: &[u8]) -> Result<Vec<(String, Vec<usize>, std::ops::Range<usize>)>, String> {
    let corrupt =
        |why: &str| format!("not a safetensors file ({why}); it may be truncated or corrupt");
    if bytes.len() < 8 {
        return Err(corrupt("shorter than its header"));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = bytes
        .get(8..8usize.saturating_add(n))
        .ok_or_else(|| corrupt("the header runs past the end"))?;
    let json: serde_json::Value =
        serde_json::from_slice(header).map_err(|_| corrupt("the header is not JSON"))?;
    let object = json
        .as_object()
        .ok_or_else(|| corrupt("the header is not a table"))?;
    let mut out = Vec::new();
    let mut end = 0usize;
    for (name, entry) in object {
        if name == "__metadata__" {
            continue;
        }
        let shape = entry["shape"]
            .as_array()
            .ok_or_else(|| corrupt(&format!("`{name}` has no shape")))?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| corrupt(&format!("`{name}` has a bad shape")))?;
        let offset = |i: usize| {
            entry["data_offsets"]
                .get(i)
                .and_then(|o| o.as_u64())
                .unwrap_or(0) as usize
        };
        let (start, stop) = (offset(0), offset(1));
        end = end.max(stop);
        out.push((name.clone(), shape, 8 + n + start..8 + n + stop.max(start)));
    }
    if 8 + n + end > bytes.len() {
        return Err(corrupt("its data is shorter than its header says"));
    }
    Ok(out)
}
