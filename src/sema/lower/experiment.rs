//! `experiment NAME { title = ...; seed = ...; tolerances { ... } }` (at most one).

use std::collections::BTreeMap;

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::Experiment;
use crate::sema::values::Cx;
use crate::syntax::ast::Declaration;

use super::untyped;

/// `heist diff` tolerances when an experiment gives none: relative change per metric.
pub const DEFAULT_TOLERANCES: [(&str, f64); 4] =
    [("fid", 0.05), ("kid", 0.10), ("ssim", 0.01), ("psnr", 0.01)];

pub fn experiment(cx: &mut Cx, declarations: Vec<&Declaration>, default_name: &str) -> Experiment {
    let mut tolerances: BTreeMap<String, f64> = DEFAULT_TOLERANCES
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let Some(d) = declarations.first() else {
        return Experiment {
            name: default_name.to_string(),
            title: default_name.to_string(),
            description: None,
            seed: 0,
            tolerances,
        };
    };
    for extra in &declarations[1..] {
        cx.push(
            Diagnostic::error(
                Code::DuplicateName,
                "an experiment file declares one `experiment`",
            )
            .at(extra.name.span, "a second experiment")
            .also(d.name.span, "the first")
            .help("merge them, or put the second in its own file"),
        );
    }
    untyped(cx, d);
    if let crate::syntax::ast::Head::Extends(parent) = &d.head {
        cx.push(
            Diagnostic::error(Code::WrongKind, "an experiment cannot extend anything")
                .at(parent.span, "not supported")
                .help("include the other file instead: include \"other.exp\""),
        );
    }
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the experiment `{}`", d.name.text),
    );
    let title = f
        .get("title")
        .and_then(|v| cx.string(&v, "`title`", "title = \"Monet-to-Photo (Table 3)\""))
        .unwrap_or_else(|| d.name.text.clone());
    let description = f
        .get("description")
        .and_then(|v| cx.string(&v, "`description`", "description = \"...\""));
    let seed = f
        .get("seed")
        .and_then(|v| cx.natural(&v, "`seed`", "seed = 0"))
        .unwrap_or(0);
    f.nested(
        cx,
        "tolerances",
        "`tolerances`",
        "tolerances { fid = 5% }",
        |cx, t| {
            for (metric, _) in DEFAULT_TOLERANCES {
                let what = format!("the `{metric}` tolerance");
                if let Some(x) = t.get(metric).and_then(|v| cx.fraction(&v, &what)) {
                    tolerances.insert(metric.to_string(), x);
                }
            }
        },
    );
    f.finish(cx);
    Experiment {
        name: d.name.text.clone(),
        title,
        description,
        seed,
        tolerances,
    }
}
