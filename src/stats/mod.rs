//! User-study statistics: Welch's t-test, Cohen's d (pooled SD) and TOST equivalence with
//! bounds in Cohen's d (converted to raw units by `d * sqrt((sd_a^2 + sd_b^2) / 2)`) or in raw
//! units. Differences are A - B. A leaf library: reports and `heist stats` call it.

mod ratings;

pub use ratings::{read_groups, Groups, StatsError};

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean and sample standard deviation (n - 1; 0 for fewer than two values).
pub fn mean_and_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Summary of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    pub name: String,
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1).
    pub sd: f64,
}

impl GroupSummary {
    pub fn of(name: &str, values: &[f64]) -> GroupSummary {
        let (mean, sd) = mean_and_sd(values);
        GroupSummary {
            name: name.to_string(),
            n: values.len(),
            mean,
            sd,
        }
    }

    fn var_of_mean(&self) -> f64 {
        self.sd * self.sd / self.n as f64
    }
}

/// Welch's unequal-variance t-test, two-sided.
#[derive(Debug, Clone, Serialize)]
pub struct Welch {
    pub t: f64,
    pub df: f64,
    pub p: f64,
    pub mean_a: f64,
    pub mean_b: f64,
    pub sd_a: f64,
    pub sd_b: f64,
    pub n_a: usize,
    pub n_b: usize,
    pub cohen_d: f64,
}

/// The standard error of the difference and its Welch-Satterthwaite degrees of freedom.
fn welch_se_df(a: &GroupSummary, b: &GroupSummary) -> (f64, f64) {
    let (va, vb) = (a.var_of_mean(), b.var_of_mean());
    let se = (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (a.n as f64 - 1.0) + vb * vb / (b.n as f64 - 1.0));
    (se, df)
}

/// Student's t CDF with `df` degrees of freedom.
fn t_cdf(t: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .expect("df > 0 checked by the caller")
        .cdf(t)
}

/// Student's t survival function `P(T > t)`, accurate in the far upper tail.
fn t_sf(t: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .expect("df > 0 checked by the caller")
        .sf(t)
}

/// Cohen's d with the pooled standard deviation `sqrt(((na-1)sa^2 + (nb-1)sb^2)/(na+nb-2))`.
pub fn cohen_d(a: &GroupSummary, b: &GroupSummary) -> f64 {
    let pooled = (((a.n as f64 - 1.0) * a.sd.powi(2) + (b.n as f64 - 1.0) * b.sd.powi(2))
        / (a.n as f64 + b.n as f64 - 2.0))
        .sqrt();
    (a.mean - b.mean) / pooled
}

pub fn welch(a: &GroupSummary, b: &GroupSummary) -> Welch {
    let (se, df) = welch_se_df(a, b);
    let t = (a.mean - b.mean) / se;
    // 2 * P(T < -|t|) keeps precision for tiny p-values.
    let p = (2.0 * t_cdf(-t.abs(), df)).min(1.0);
    Welch {
        t,
        df,
        p,
        mean_a: a.mean,
        mean_b: b.mean,
        sd_a: a.sd,
        sd_b: b.sd,
        n_a: a.n,
        n_b: b.n,
        cohen_d: cohen_d(a, b),
    }
}

/// Equivalence bounds of TOST.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Bound {
    /// Symmetric bounds of +-d in Cohen's d.
    CohenD(f64),
    /// Symmetric bounds of +-value in the ratings' units.
    Raw(f64),
}

/// Two one-sided Welch tests (statsmodels `ttost_ind(..., usevar='unequal')`).
#[derive(Debug, Clone, Serialize)]
pub struct Tost {
    /// The bound in Cohen's d (for raw bounds, the d that corresponds to them).
    pub bound_d: f64,
    pub low_raw: f64,
    pub high_raw: f64,
    /// max(p_lower, p_upper).
    pub p: f64,
    /// H0: difference <= low.
    pub p_lower: f64,
    /// H0: difference >= high.
    pub p_upper: f64,
    pub alpha: f64,
    pub equivalent: bool,
}

pub fn tost(a: &GroupSummary, b: &GroupSummary, bound: Bound, alpha: f64) -> Tost {
    let scale = ((a.sd.powi(2) + b.sd.powi(2)) / 2.0).sqrt();
    let (bound_d, raw) = match bound {
        Bound::CohenD(d) => (d, d * scale),
        Bound::Raw(r) => (r / scale, r),
    };
    let (se, df) = welch_se_df(a, b);
    let diff = a.mean - b.mean;
    // The upper tail as a survival function: `1 - cdf` loses every digit of a tiny p-value.
    let p_lower = t_sf((diff + raw) / se, df);
    let p_upper = t_cdf((diff - raw) / se, df);
    let p = p_lower.max(p_upper);
    Tost {
        bound_d,
        low_raw: -raw,
        high_raw: raw,
        p,
        p_lower,
        p_upper,
        alpha,
        equivalent: p < alpha,
    }
}

#[cfg(test)]
mod tests {
    use super::{t_cdf, t_sf};

    #[test]
    fn the_upper_tail_keeps_the_digits_of_tiny_p_values() {
        // `1 - cdf` of a far upper tail is exactly 0 in f64; the survival function is not,
        // and equals the (accurate) lower tail by symmetry.
        assert_eq!(1.0 - t_cdf(40.0, 20.0), 0.0);
        let p = t_sf(40.0, 20.0);
        assert!(p > 0.0 && p < 1e-18, "{p}");
        assert!((p / t_cdf(-40.0, 20.0) - 1.0).abs() < 1e-9);
    }
}
