//! `dataset NAME = folder { ... }` and `dataset NAME = synthetic { ... }`.

use crate::diagnostics::{Code, Diagnostic};
use crate::sema::program::{Dataset, DatasetSource, Distribution, Domain, Layout};
use crate::sema::values::Cx;
use crate::syntax::ast::Declaration;

use super::declared_type;

pub fn dataset(cx: &mut Cx, d: &Declaration) -> Option<Dataset> {
    let ty = declared_type(
        cx,
        d,
        &["folder", "synthetic"],
        &format!("dataset {} = folder {{ ... }}", d.name.text),
    )?;
    let mut f = cx.fields(
        &d.body,
        d.name.span,
        &format!("the {ty} dataset `{}`", d.name.text),
    );
    let label = f
        .get("label")
        .and_then(|v| cx.string(&v, "`label`", "label = \"Monet2Photo Test\""))
        .unwrap_or_else(|| d.name.text.clone());
    let load_size = f
        .get("load_size")
        .and_then(|v| cx.pixels(&v, "`load_size`"));
    let crop_size = f
        .get("crop_size")
        .and_then(|v| cx.pixels(&v, "`crop_size`"));
    let limit = f
        .get("limit")
        .and_then(|v| cx.count(&v, "`limit`", "limit = 1000"));
    if let (Some(load), Some(crop)) = (load_size, crop_size) {
        if crop > load {
            cx.push(
                Diagnostic::error(
                    Code::ImageSize,
                    format!("`crop_size` ({crop}px) is larger than `load_size` ({load}px)"),
                )
                .at(
                    f.span_of("crop_size").unwrap_or(d.name.span),
                    "cannot crop beyond the image",
                )
                .help(
                    "crop at most the loaded size, e.g. load_size = 286px with crop_size = 256px",
                ),
            );
        }
    }
    let scale = f.get("scale").and_then(|v| cx.scale(&v, "`scale`"));
    let source = if ty == "folder" {
        let path = f
            .required(cx, "path", "path = \"/data/monet2photo\"")
            .and_then(|v| {
                let role = format!("the folder of dataset `{}`", d.name.text);
                cx.path(&v, "`path`", "path = \"/data/monet2photo\"", role, true)
            });
        let layout = f
            .get("layout")
            .and_then(|v| cx.word(&v, "layout", &Layout::ALL))
            .unwrap_or(Layout::Plain);
        if scale.is_some() && !layout.has_high_resolution() {
            cx.push(
                Diagnostic::error(Code::Incompatible, "`scale` applies to super-resolution layouts only")
                    .at(f.span_of("scale").unwrap_or(d.name.span), "no low-resolution images here")
                    .help("use `layout = div2k`, `paired` or `hr` for super-resolution data, or remove `scale`"),
            );
        }
        path.map(|path| DatasetSource::Folder {
            path,
            layout,
            scale: scale.or(layout.has_high_resolution().then_some(super::DEFAULT_SCALE)),
        })
    } else {
        let domain = f
            .required(cx, "domain", "domain = photo")
            .and_then(|v| cx.word(&v, "domain", &Domain::ALL));
        let distribution = f
            .get("distribution")
            .and_then(|v| cx.word(&v, "distribution", &Distribution::ALL))
            .unwrap_or(Distribution::Victim);
        let count = f
            .get("count")
            .and_then(|v| cx.count(&v, "`count`", "count = 200"))
            .unwrap_or(64);
        let size = f
            .get("size")
            .and_then(|v| cx.pixels(&v, "`size`"))
            .unwrap_or(64);
        let seed = f
            .get("seed")
            .and_then(|v| cx.natural(&v, "`seed`", "seed = 1"))
            .unwrap_or(0);
        if let Some(domain) = domain {
            if scale.is_some() && domain != Domain::Texture {
                cx.push(
                    Diagnostic::error(
                        Code::Incompatible,
                        "`scale` applies to the `texture` domain only",
                    )
                    .at(
                        f.span_of("scale").unwrap_or(d.name.span),
                        "not a super-resolution domain",
                    )
                    .help("use `domain = texture` for super-resolution data, or remove `scale`"),
                );
            }
            if domain == Domain::Texture {
                let s = scale.unwrap_or(super::DEFAULT_SCALE);
                if !size.is_multiple_of(s) || size / s < 4 {
                    cx.push(
                        Diagnostic::error(
                            Code::ImageSize,
                            format!("texture images of {size}px cannot be downscaled {s}x to at least 4px"),
                        )
                        .at(f.span_of("size").unwrap_or(d.name.span), format!("must be a multiple of {s}, at least {}px", 4 * s))
                        .help(format!("use size = {}px", (size.max(4 * s) / s) * s)),
                    );
                }
            }
        }
        domain.map(|domain| DatasetSource::Synthetic {
            domain,
            distribution,
            count,
            size,
            seed,
            scale: scale.or((domain == Domain::Texture).then_some(super::DEFAULT_SCALE)),
        })
    };
    f.finish(cx);
    Some(Dataset {
        label,
        source: source?,
        load_size,
        crop_size,
        limit,
    })
}
