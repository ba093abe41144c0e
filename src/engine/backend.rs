//! The one place where the compute backend and device are chosen. Every job records
//! [`Backend::describe`] with its results.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// A compute backend of burn, chosen with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// burn-flex: pure Rust on the CPU, the default (bitwise deterministic).
    Flex,
    /// libtorch on the CPU (cargo feature `tch`).
    Tch,
    /// libtorch on the first CUDA GPU (cargo feature `tch`).
    TchCuda,
    /// burn's CUDA backend on the first GPU (cargo feature `cuda`).
    Cuda,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Tch => "tch",
            Backend::TchCuda => "tch-cuda",
            Backend::Cuda => "cuda",
        }
    }

    /// The device for inference; [`Device::autodiff`] of it for training.
    pub fn device(self) -> Result<Device, BackendError> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::Tch => Ok(Device::libtorch()),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::TchCuda if tch::Cuda::is_available() => Ok(Device::libtorch_cuda(0)),
            #[cfg(feature = "tch")]
            Backend::TchCuda => Err(BackendError::NoCuda),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => {
                let feature = if other == Backend::Cuda {
                    "cuda"
                } else {
                    "tch"
                };
                Err(BackendError::NotBuilt { feature })
            }
        }
    }

    /// What results record: the backend, its precision and the machine's CPU.
    pub fn describe(self) -> String {
        format!("{} (f32) on {}", self.name(), cpu_model())
    }
}

/// Why a backend cannot compute here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum BackendError {
    #[error("this heist was built without the `{feature}` backend")]
    #[diagnostic(
        code(heist::backend),
        help("rebuild with `cargo build --release --features {feature}` (README: Backends), or use `--backend flex`, the built-in CPU backend")
    )]
    NotBuilt { feature: &'static str },
    /// `--backend tch-cuda` without a GPU: libtorch itself would panic on its first tensor.
    #[error("`--backend tch-cuda`: libtorch finds no CUDA GPU on this machine (no NVIDIA driver or device visible, or a CPU-only libtorch)")]
    #[diagnostic(
        code(heist::backend),
        help("check `nvidia-smi` and that LIBTORCH/LIBTORCH_USE_PYTORCH point at a CUDA build (the PyPI wheel torch==2.9.0 is one), or use `--backend tch` for libtorch on the CPU")
    )]
    NoCuda,
}

/// The CPU model from `/proc/cpuinfo`, or the architecture where there is none.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Asks glibc to keep the memory training frees for the next step rather than hand it back to
/// the system (blocks up to 32 MB come from the heap, which is not trimmed below 2 GB of free
/// space); called once, before any work.
///
/// Why: by default glibc unmaps large freed blocks and trims the heap as soon as a step's
/// activations are freed, so the next step page-faults them in again (and the kernel zeroes
/// them): with these settings an SRResNet step took ~7 % less time on libtorch and up to ~10 %
/// less on flex (docs/engine.md, Session 10).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_this_build_lacks_says_how_to_get_it() {
        #[cfg(not(feature = "tch"))]
        for backend in [Backend::Tch, Backend::TchCuda] {
            let error = backend.device().unwrap_err();
            assert_eq!(error, BackendError::NotBuilt { feature: "tch" });
        }
        #[cfg(not(feature = "cuda"))]
        assert_eq!(
            Backend::Cuda.device().unwrap_err(),
            BackendError::NotBuilt { feature: "cuda" }
        );
        assert!(Backend::Flex.device().is_ok());
    }

    /// Without this check libtorch panics with a page of C++ frames on the first tensor.
    #[cfg(feature = "tch")]
    #[test]
    fn libtorch_on_cuda_without_a_gpu_is_an_error_that_names_the_cpu_alternative() {
        match Backend::TchCuda.device() {
            Ok(_) => assert!(tch::Cuda::is_available()),
            Err(error) => {
                assert!(!tch::Cuda::is_available());
                assert_eq!(error, BackendError::NoCuda);
                assert!(error.to_string().contains("no CUDA GPU"));
            }
        }
    }
}
