//! FID: the Fréchet distance between Gaussians fitted to two feature sets,
//! `|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))` with covariances over N - 1.
//! KID: the unbiased squared MMD with the kernel `k(x, y) = (x.y / D + 1)^3` over the full sets.
//!
//! `Tr((S_a S_b)^(1/2))` is the sum of the square roots of the eigenvalues of `F^T S_b F`, a
//! symmetric positive semi-definite matrix, for a factor `F F^T = S_a` (Cholesky, or the
//! eigendecomposition of `S_a` when it is singular). No complex square roots, no NaN for
//! near-singular covariances such as N < D.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par, Side};
use rayon::prelude::*;

use super::features::FeatureMatrix;
use super::MetricError;

fn par() -> Par {
    Par::rayon(0)
}

/// Mean vector and covariance (N - 1) of the rows.
fn moments(m: &FeatureMatrix) -> (Vec<f64>, Mat<f64>) {
    let (n, d) = (m.rows, m.cols);
    const STRIPE: usize = 64;
    let mut mean = vec![0.0; d];
    mean.par_chunks_mut(STRIPE)
        .enumerate()
        .for_each(|(s, stripe)| {
            for i in 0..n {
                let row = &m.row(i)[s * STRIPE..s * STRIPE + stripe.len()];
                stripe.iter_mut().zip(row).for_each(|(acc, v)| *acc += v);
            }
            stripe.iter_mut().for_each(|v| *v /= n as f64);
        });
    // Centred data as N x D column-major (each feature contiguous): `X^T X` is then the fast
    // layout for the product. Stripes of 64 features are transposed in parallel.
    let mut data = vec![0.0f64; n * d];
    data.par_chunks_mut(n * STRIPE)
        .enumerate()
        .for_each(|(s, stripe)| {
            let j0 = s * STRIPE;
            let width = stripe.len() / n;
            for i in 0..n {
                let row = &m.row(i)[j0..j0 + width];
                for (k, v) in row.iter().enumerate() {
                    stripe[k * n + i] = v - mean[j0 + k];
                }
            }
        });
    let centred = MatRef::from_column_major_slice(&data, n, d);
    // Only the lower triangle is computed (the matrix is symmetric), then mirrored.
    let mut cov = Mat::<f64>::zeros(d, d);
    triangular::matmul(
        cov.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        centred.transpose(),
        BlockStructure::Rectangular,
        centred,
        BlockStructure::Rectangular,
        1.0 / (n as f64 - 1.0),
        par(),
    );
    for j in 0..d {
        for i in 0..j {
            cov[(i, j)] = cov[(j, i)];
        }
    }
    (mean, cov)
}

fn check_pair(a: &FeatureMatrix, b: &FeatureMatrix) -> Result<(), MetricError> {
    a.validate()?;
    b.validate()?;
    if a.cols != b.cols {
        return Err(MetricError::DimensionMismatch {
            path_a: a.source.clone(),
            dim_a: a.cols,
            path_b: b.source.clone(),
            dim_b: b.cols,
        });
    }
    Ok(())
}

/// The Fréchet distance of the Gaussians fitted to `a` and `b`.
pub fn fid(a: &FeatureMatrix, b: &FeatureMatrix) -> Result<f64, MetricError> {
    check_pair(a, b)?;
    // One after the other: each product already uses every core.
    let (mean_a, cov_a) = moments(a);
    let (mean_b, cov_b) = moments(b);
    let d = a.cols;
    let mean_term: f64 = mean_a
        .iter()
        .zip(&mean_b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let trace_a: f64 = (0..d).map(|i| cov_a[(i, i)]).sum();
    let trace_b: f64 = (0..d).map(|i| cov_b[(i, i)]).sum();

    let trace_sqrt = trace_sqrt_product(&cov_a, &cov_b)?;
    Ok(mean_term + trace_a + trace_b - 2.0 * trace_sqrt)
}

/// `Tr((S_a S_b)^(1/2))`: the sum of the square roots of the eigenvalues of `F^T S_b F` for any
/// `F` with `F F^T = S_a`. `F` is the Cholesky factor when `S_a` is positive definite (fast),
/// else `U diag(sqrt(lambda))` from its eigendecomposition (singular covariances, N <= D).
fn trace_sqrt_product(cov_a: &Mat<f64>, cov_b: &Mat<f64>) -> Result<f64, MetricError> {
    let d = cov_a.nrows();
    let numerical =
        |e| MetricError::Numerical(format!("the eigendecomposition did not converge: {e:?}"));
    let factor = match cov_a.llt(Side::Lower) {
        Ok(llt) => {
            let l = llt.L();
            Mat::<f64>::from_fn(d, d, |i, j| if i >= j { l[(i, j)] } else { 0.0 })
        }
        Err(_) => {
            let eig = cov_a.self_adjoint_eigen(Side::Lower).map_err(numerical)?;
            let (u, s) = (eig.U(), eig.S());
            let lambdas: Vec<f64> = (0..d).map(|i| s[i]).collect();
            let roots: Vec<f64> = above_rank_tolerance(&lambdas)
                .iter()
                .map(|v| v.sqrt())
                .collect();
            Mat::<f64>::from_fn(d, d, |i, j| u[(i, j)] * roots[j])
        }
    };
    let mut tmp = Mat::<f64>::zeros(d, d);
    matmul(
        tmp.as_mut(),
        Accum::Replace,
        cov_b.as_ref(),
        factor.as_ref(),
        1.0,
        par(),
    );
    let mut product = Mat::<f64>::zeros(d, d);
    triangular::matmul(
        product.as_mut(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        factor.transpose(),
        BlockStructure::Rectangular,
        tmp.as_ref(),
        BlockStructure::Rectangular,
        1.0,
        par(),
    );
    let eigenvalues = product
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(numerical)?;
    Ok(above_rank_tolerance(&eigenvalues)
        .iter()
        .map(|v| v.sqrt())
        .sum())
}

/// Eigenvalues of a positive semi-definite matrix with round-off removed: those below
/// `max * D * epsilon` (the usual rank tolerance) are zero, so a singular covariance (N < D)
/// adds no spurious `sqrt(1e-16)` terms.
fn above_rank_tolerance(eigenvalues: &[f64]) -> Vec<f64> {
    let max = eigenvalues.iter().copied().fold(0.0f64, f64::max);
    let tolerance = max * eigenvalues.len() as f64 * f64::EPSILON;
    eigenvalues
        .iter()
        .map(|v| if *v > tolerance { *v } else { 0.0 })
        .collect()
}

/// Unbiased MMD^2 with the cubic polynomial kernel, over the full sets.
pub fn kid(a: &FeatureMatrix, b: &FeatureMatrix) -> Result<f64, MetricError> {
    check_pair(a, b)?;
    let d = a.cols as f64;
    let to_mat =
        |m: &FeatureMatrix| Mat::<f64>::from_fn(m.cols, m.rows, |j, i| m.data[i * m.cols + j]);
    let (xa, xb) = (to_mat(a), to_mat(b));
    // Mean of k over pairs: `off_diagonal` leaves out k(x_i, x_i) for the within-set terms.
    let kernel_mean = |x: &Mat<f64>, y: &Mat<f64>, off_diagonal: bool| -> f64 {
        let mut gram = Mat::<f64>::zeros(x.ncols(), y.ncols());
        matmul(
            gram.as_mut(),
            Accum::Replace,
            x.transpose(),
            y.as_ref(),
            1.0 / d,
            par(),
        );
        let mut sum = 0.0;
        for j in 0..gram.ncols() {
            for i in 0..gram.nrows() {
                if !(off_diagonal && i == j) {
                    sum += (gram[(i, j)] + 1.0).powi(3);
                }
            }
        }
        let pairs = if off_diagonal {
            gram.nrows() * (gram.ncols() - 1)
        } else {
            gram.nrows() * gram.ncols()
        };
        sum / pairs as f64
    };
    Ok(kernel_mean(&xa, &xa, true) + kernel_mean(&xb, &xb, true)
        - 2.0 * kernel_mean(&xa, &xb, false))
}
