//! `heist stats welch|tost`.

use std::path::Path;

use super::format::{json_line, p_value, short};
use crate::diagnostics::{Code, Diagnostic};
use crate::stats::{self, Bound, StatsError};

/// Which test `heist stats` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatName {
    Welch,
    Tost,
}

fn stats_error(e: StatsError) -> Box<Diagnostic> {
    Box::new(Diagnostic::error(Code::StatsInput, e.to_string()).with_help(e.help()))
}

/// `heist stats welch|tost ...`: the text to print.
#[allow(clippy::too_many_arguments)]
pub fn run_stats(
    test: StatName,
    csv: &Path,
    value: &str,
    group: &str,
    groups: Option<[String; 2]>,
    bound: Bound,
    alpha: f64,
    json: bool,
) -> Result<String, Box<Diagnostic>> {
    let g = stats::read_groups(csv, value, group, groups).map_err(stats_error)?;
    let a = stats::GroupSummary::of(&g.names[0], &g.values[0]);
    let b = stats::GroupSummary::of(&g.names[1], &g.values[1]);
    let groups_text = format!(
        "{}: M = {}, SD = {}, n = {}; {}: M = {}, SD = {}, n = {}",
        a.name,
        short(a.mean),
        short(a.sd),
        a.n,
        b.name,
        short(b.mean),
        short(b.sd),
        b.n
    );
    match test {
        StatName::Welch => {
            let w = stats::welch(&a, &b);
            if json {
                return Ok(json_line(&w));
            }
            Ok(format!(
                "Welch's t-test ({} - {}): t({}) = {}, p = {}, d = {}\n{groups_text}\n",
                a.name,
                b.name,
                short(w.df),
                short(w.t),
                p_value(w.p),
                short(w.cohen_d)
            ))
        }
        StatName::Tost => {
            let t = stats::tost(&a, &b, bound, alpha);
            if json {
                return Ok(json_line(&t));
            }
            Ok(format!(
                "TOST ({} - {}): {} within ±{} (d = {}): p = {} (lower {}, upper {}), alpha = {}\n{groups_text}\n",
                a.name,
                b.name,
                if t.equivalent { "equivalent" } else { "not equivalent" },
                short(t.high_raw),
                short(t.bound_d),
                p_value(t.p),
                p_value(t.p_lower),
                p_value(t.p_upper),
                alpha
            ))
        }
    }
}
