//! `heist metric psnr|ssim|fid|kid`.

use std::path::{Path, PathBuf};

use super::format::{fixed, json_line};
use crate::diagnostics::{Code, Diagnostic};
use crate::metrics::extractor::Extractor;
use crate::metrics::pixel::{self, PixelMetric, PixelOptions};
use crate::metrics::{features, frechet, MetricError};

/// Which metric `heist metric` computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricName {
    Psnr,
    Ssim,
    Fid,
    Kid,
}

fn metric_error(e: MetricError) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(Code::MetricInput, e.to_string()).with_help(e.help()))
}

/// A resolved `heist metric` invocation.
pub struct MetricRequest {
    pub metric: MetricName,
    pub reference: PathBuf,
    pub test: PathBuf,
    pub options: PixelOptions,
    pub extractor: Extractor,
    pub json: bool,
}

/// `heist metric ...`: the text to print.
pub fn run_metric(r: &MetricRequest) -> Result<String, Box<Diagnostic>> {
    for path in [&r.reference, &r.test] {
        if !path.exists() {
            return Err(metric_error(MetricError::Unreadable {
                path: path.clone(),
                reason: "no such file or folder".into(),
            }));
        }
    }
    match r.metric {
        MetricName::Psnr | MetricName::Ssim => {
            let which = if r.metric == MetricName::Psnr {
                PixelMetric::Psnr
            } else {
                PixelMetric::Ssim
            };
            let report =
                pixel::measure(&r.reference, &r.test, which, r.options).map_err(metric_error)?;
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            if r.json {
                return Ok(json_line(&report));
            }
            let name = if which == PixelMetric::Psnr {
                "PSNR"
            } else {
                "SSIM"
            };
            let unit = if which == PixelMetric::Psnr {
                " dB"
            } else {
                ""
            };
            let mut convention = Vec::new();
            if r.options.y_channel {
                convention.push("Y channel".to_string());
            }
            if r.options.crop_border > 0 {
                convention.push(format!("{} px border cropped", r.options.crop_border));
            }
            let convention = if convention.is_empty() {
                String::new()
            } else {
                format!(" ({})", convention.join(", "))
            };
            let mut out = String::new();
            if report.n > 1 {
                for (file, value) in &report.per_image {
                    out.push_str(&format!("{file}\t{}\n", fixed(*value)));
                }
            }
            out.push_str(&format!(
                "{name}{convention}: {}{unit} (mean of {} image{}, sd {})\n",
                fixed(report.mean),
                report.n,
                if report.n == 1 { "" } else { "s" },
                fixed(report.std)
            ));
            Ok(out)
        }
        MetricName::Fid | MetricName::Kid => {
            let npy = |p: &Path| p.extension().is_some_and(|e| e == "npy");
            let (a, b, space) = match (npy(&r.reference), npy(&r.test)) {
                (true, true) => (
                    features::read_npy(&r.reference).map_err(metric_error)?,
                    features::read_npy(&r.test).map_err(metric_error)?,
                    None,
                ),
                (false, false) if r.reference.is_dir() && r.test.is_dir() => {
                    if let Extractor::RandomConv { .. } = r.extractor {
                        eprintln!(
                            "note: no Inception v3 weights given (--inception-weights): distances are in the random_conv feature space ({}), not FID",
                            r.extractor.distance_name()
                        );
                    }
                    let (a, b) = rayon::join(
                        || r.extractor.extract_folder(&r.reference),
                        || r.extractor.extract_folder(&r.test),
                    );
                    (
                        a.map_err(metric_error)?,
                        b.map_err(metric_error)?,
                        Some(r.extractor.clone()),
                    )
                }
                _ => return Err(metric_error(MetricError::MixedInputs)),
            };
            let is_fid = r.metric == MetricName::Fid;
            let value = if is_fid {
                frechet::fid(&a, &b)
            } else {
                frechet::kid(&a, &b)
            }
            .map_err(metric_error)?;
            let metric = if is_fid { "fid" } else { "kid" };
            let name = match (&space, is_fid) {
                (None, true) => "FID".to_string(),
                (None, false) => "KID".to_string(),
                (Some(e), true) => e.distance_name().to_string(),
                (Some(e), false) => e.distance_name().replace("FID", "KID").replace("FD", "KID"),
            };
            if r.json {
                let feature_space = match space {
                    None => serde_json::json!({"kind": "precomputed"}),
                    Some(e) => serde_json::to_value(e).unwrap_or_default(),
                };
                let object = serde_json::json!({
                    "metric": metric,
                    "name": name,
                    "value": value,
                    "n_a": a.rows,
                    "n_b": b.rows,
                    "dim": a.cols,
                    "feature_space": feature_space,
                });
                return Ok(json_line(&object));
            }
            Ok(format!(
                "{name}: {} ({} vs {} samples, {}-d features)\n",
                fixed(value),
                a.rows,
                b.rows,
                a.cols
            ))
        }
    }
}
