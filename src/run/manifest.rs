//! `manifest.yaml`: how a run was made. The resolved program, its seeds, the conventions of
//! every metric, crate versions, backend, device and CPU, the experiment repository's git
//! commit, start and end times, and every job's cache key and outcome.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::results::convention;
use super::{Executed, Outcome};
use crate::plan::Plan;
use crate::sema::program::{Architecture, ContentLoss, Program, VictimModel};

/// The format of run directories this heist writes and reads: results.csv's columns and the
/// manifest's fields. Bump it when either changes incompatibly.
pub const RUN_FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The run directory's format ([`RUN_FORMAT`]); older directories lack it.
    #[serde(default)]
    pub format: u32,
    pub heist: String,
    pub experiment: String,
    pub file: String,
    pub run_id: String,
    pub started: String,
    pub finished: String,
    pub command: Vec<String>,
    pub backend: String,
    pub device: String,
    pub cpu: String,
    pub threads: usize,
    pub crates: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<Git>,
    pub seeds: Seeds,
    pub conventions: BTreeMap<String, String>,
    pub summary: Summary,
    /// Image grids written under `samples/`.
    pub samples: Vec<String>,
    pub jobs: Vec<JobRecord>,
    pub program: Program,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Git {
    pub commit: String,
    /// Uncommitted changes in the repository when the run started.
    pub dirty: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Seeds {
    pub experiment: u64,
    pub victims: BTreeMap<String, u64>,
    pub attacks: BTreeMap<String, Vec<u64>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub jobs: usize,
    pub ran: usize,
    pub cached: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Jobs an interruption stopped or kept from starting (absent in older manifests).
    #[serde(default)]
    pub interrupted: usize,
    pub queries: u64,
    pub cost_usd: f64,
    pub seconds: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub key: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The conventions every manifest pins (design.md), plus each evaluation metric's.
pub fn conventions(program: &Program) -> BTreeMap<String, String> {
    let mut c = BTreeMap::from([
        ("psnr".to_string(), "10 log10(255^2 / MSE) over all pixels and channels of 8-bit images; a set's value is the mean of per-image values".to_string()),
        ("ssim".to_string(), "Wang et al. 2004: 11-tap Gaussian window, sigma 1.5, K1 0.01, K2 0.03, L 255, population statistics, mean over the valid region, RGB channels averaged".to_string()),
        ("y_channel".to_string(), "BT.601 Y = 16 + 65.481 R + 128.553 G + 24.966 B with RGB in [0, 1]; crop N border pixels first (BasicSR)".to_string()),
        ("fid".to_string(), "Frechet distance of Gaussians (covariance with N-1) in a named feature space; FID only with pytorch-fid's Inception v3 pool3, FD-<extractor> otherwise".to_string()),
        ("kid".to_string(), "unbiased MMD^2 with the cubic polynomial kernel (d^-1 x.y + 1)^3".to_string()),
        ("random_conv".to_string(), "three 3x3 stride-2 convolutions (32, 64, 128 channels, ReLU) with seeded He-uniform weights; channel means and standard deviations, 256-d".to_string()),
    ]);
    for (name, e) in &program.evaluations {
        for m in &e.metrics {
            c.insert(format!("{name}.{}", m.name()), convention(m));
        }
    }
    // Which content loss each SRGAN trained with: the paper's VGG54 needs weights the user has.
    for (name, v) in &program.victims {
        if let VictimModel::Trained {
            architecture: Architecture::Srgan(_),
            training,
            ..
        } = &v.model
        {
            let loss = match &training.content_loss {
                Some(ContentLoss::Vgg19 { weights, layer }) => format!(
                    "MSE of VGG19 {layer} features rescaled by 1/12.75 (Ledig et al. 2017), torchvision weights {weights}"
                ),
                _ => "pixel MSE: no VGG19 weights declared (the paper's VGG54 loss needs content_loss = vgg19(weights = ...))".to_string(),
            };
            c.insert(format!("{name}.content_loss"), loss);
        }
    }
    c
}

pub fn seeds(program: &Program) -> Seeds {
    Seeds {
        experiment: program.experiment.seed,
        victims: program
            .victims
            .iter()
            .filter_map(|(n, v)| match &v.model {
                VictimModel::Trained { seed, .. } => Some((n.clone(), *seed)),
                _ => None,
            })
            .collect(),
        attacks: program
            .attacks
            .iter()
            .map(|(n, a)| (n.clone(), a.seeds.clone()))
            .collect(),
    }
}

pub fn crates() -> BTreeMap<String, String> {
    let mut c: BTreeMap<String, String> = env!("HEIST_CRATE_VERSIONS")
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c.insert("heist".into(), env!("CARGO_PKG_VERSION").into());
    c
}

/// The commit of the git repository holding `dir`, if it is in one and git is installed.
pub fn git(dir: &Path) -> Option<Git> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(Git { commit, dirty })
}

pub fn jobs(plan: &Plan, executed: &Executed) -> Vec<JobRecord> {
    plan.jobs
        .iter()
        .zip(&executed.outcomes)
        .map(|(job, outcome)| {
            let (name, seconds, error) = match outcome {
                Outcome::Cached => ("cached", None, None),
                Outcome::Ran { seconds } => ("ran", Some(*seconds), None),
                Outcome::Failed { error, .. } => ("failed", None, Some(error.clone())),
                Outcome::Skipped { because } => (
                    "skipped",
                    None,
                    Some(format!("needs `{because}`, which failed")),
                ),
                Outcome::NotNeeded => ("not needed", None, None),
                Outcome::Interrupted { step } => (
                    "interrupted",
                    None,
                    step.map(|s| format!("stopped after step {s}; its checkpoint is kept")),
                ),
            };
            JobRecord {
                id: job.id.clone(),
                key: job.key.0.clone(),
                outcome: name.into(),
                seconds,
                error,
            }
        })
        .collect()
}

/// `2026-11-23T10:15:00Z`.
pub fn utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;
    use std::time::{Duration, SystemTime};

    #[test]
    fn utc_times_are_civil_dates() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_428_000);
        assert_eq!(utc(t), "2026-11-23T10:00:00Z");
        assert_eq!(utc(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
