//! A diff as text for a terminal, Markdown for a pull-request comment, or JSON.

use super::{Change, Diff, Only, Verdict};

/// Columns that identify a quantity in a line, most telling first.
const SHOWN: [&str; 8] = [
    "setting",
    "attack",
    "cell",
    "model",
    "test_set",
    "fraction",
    "augmentation",
    "defense",
];

fn what(key: &std::collections::BTreeMap<String, String>) -> String {
    let mut parts = vec![];
    for c in SHOWN {
        if let Some(v) = key.get(c) {
            match c {
                "cell" => parts.push(format!("({v})")),
                "fraction" => {
                    let f: f64 = v.parse().unwrap_or(f64::NAN);
                    parts.push(format!("{}%", (f * 1000.0).round() / 10.0));
                }
                "defense" if v == "none" => {}
                "augmentation" if v == "none" => {}
                _ => parts.push(v.clone()),
            }
        }
    }
    parts.join(" ")
}

fn number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.2}")
    } else if v.abs() >= 0.01 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

fn with_sd(mean: f64, sd: f64, n: usize) -> String {
    if n > 1 {
        format!("{} ± {}", number(mean), number(sd))
    } else {
        number(mean)
    }
}

fn relative(c: &Change) -> String {
    c.relative
        .map_or("n/a".into(), |r| format!("{:+.2}%", r * 100.0))
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Unchanged => "unchanged",
        Verdict::WithinTolerance => "within tolerance",
        Verdict::Noise => "noise (Welch)",
        Verdict::Improved => "improved",
        Verdict::Regressed => "REGRESSED",
        Verdict::Changed => "CHANGED",
    }
}

fn headline(d: &Diff) -> String {
    let mut s = if d.passed {
        "no regression".to_string()
    } else {
        let mut parts = vec![];
        if d.regressions > 0 {
            parts.push(format!(
                "{} regression{}",
                d.regressions,
                if d.regressions == 1 { "" } else { "s" }
            ));
        }
        if !d.removed.is_empty() {
            parts.push(format!(
                "{} result row{} missing",
                d.removed.len(),
                if d.removed.len() == 1 { "" } else { "s" }
            ));
        }
        parts.join(", ")
    };
    s.push_str(&format!(
        " ({} quantities compared, {} moved, {} improved, {} rows added, {} removed)",
        d.compared,
        d.changes.len(),
        d.improvements,
        d.added.len(),
        d.removed.len()
    ));
    s
}

fn only_line(o: &Only) -> String {
    let seed = o.seed.map_or(String::new(), |s| format!(" seed {s}"));
    format!(
        "{} {}{seed} = {}",
        what(&o.key),
        o.key.get("metric").cloned().unwrap_or_default(),
        number(o.value)
    )
}

/// For a terminal.
pub fn text(d: &Diff) -> String {
    let mut t = format!("heist diff {} -> {}\n", d.base, d.new);
    t.push_str(&format!(
        "{}: {}\n",
        if d.passed { "ok" } else { "FAILED" },
        headline(d)
    ));
    for c in &d.changes {
        let p = c
            .welch_p
            .map_or(String::new(), |p| format!(", Welch p = {p:.3}"));
        let dir = c
            .better
            .map_or(String::new(), |b| format!(", {}", b.phrase()));
        t.push_str(&format!(
            "  {:<16} {} {}: {} -> {} ({}, tolerance ±{}%{dir}{p})\n",
            verdict(c.verdict),
            what(&c.key),
            c.convention,
            with_sd(c.base_mean, c.base_sd, c.base_n),
            with_sd(c.new_mean, c.new_sd, c.new_n),
            relative(c),
            c.tolerance * 100.0
        ));
    }
    for o in &d.removed {
        t.push_str(&format!("  missing          {}\n", only_line(o)));
    }
    for o in &d.added {
        t.push_str(&format!("  added            {}\n", only_line(o)));
    }
    if !d.passed {
        t.push_str("help: if the change is intended, write a new baseline (copy the new run's results.csv over it) and commit it with the change\n");
    }
    t
}

/// For a pull-request comment.
pub fn markdown(d: &Diff) -> String {
    let mut m = format!(
        "### heist diff: {} {}\n\n",
        if d.passed { "✅" } else { "❌" },
        headline(d)
    );
    m.push_str(&format!("Base `{}`, new `{}`. ", d.base, d.new));
    let tolerances: Vec<String> = d
        .tolerances
        .iter()
        .map(|(k, v)| format!("{k} ±{}%", v * 100.0))
        .collect();
    m.push_str(&format!(
        "Relative tolerances: {}; other numbers must not move. Changes beyond tolerance with two or more seeds on both sides are tested with Welch's t-test (alpha = {}).\n\n",
        tolerances.join(", "),
        d.alpha
    ));
    if !d.changes.is_empty() {
        m.push_str("| Verdict | Quantity | Metric | Base | New | Change | Tolerance | Welch p |\n|:--|:--|:--|--:|--:|--:|--:|--:|\n");
        for c in &d.changes {
            let dir = c.better.map_or("", |b| match b {
                crate::run::results::Better::Lower => " ↓",
                crate::run::results::Better::Higher => " ↑",
            });
            m.push_str(&format!(
                "| {} | {} | {}{dir} | {} | {} | {} | ±{}% | {} |\n",
                verdict(c.verdict),
                what(&c.key).replace('|', "\\|"),
                c.convention,
                with_sd(c.base_mean, c.base_sd, c.base_n),
                with_sd(c.new_mean, c.new_sd, c.new_n),
                relative(c),
                c.tolerance * 100.0,
                c.welch_p.map_or("–".into(), |p| format!("{p:.3}"))
            ));
        }
        m.push('\n');
    }
    for (title, rows) in [
        ("Missing in the new run", &d.removed),
        ("Added in the new run", &d.added),
    ] {
        if !rows.is_empty() {
            m.push_str(&format!("**{title}** ({}):\n\n", rows.len()));
            for o in rows.iter().take(50) {
                m.push_str(&format!("- {}\n", only_line(o)));
            }
            if rows.len() > 50 {
                m.push_str(&format!("- ... and {} more\n", rows.len() - 50));
            }
            m.push('\n');
        }
    }
    m
}
