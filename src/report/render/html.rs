//! `report.html`: one self-contained file. Figures are inline SVG data, images base64 PNG, the
//! style sheet is in the head; no script and nothing fetched.

use super::blanked_rows;
use crate::report::document::{Content, Document};

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648) with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.provenance{color:#666;font-size:.8rem}
table{border-collapse:collapse;margin:1rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .7rem}thead tr:first-child th{border-top:2px solid #222}thead tr:last-child th{border-bottom:1px solid #222}
tbody tr:last-child td{border-bottom:2px solid #222}td.num{text-align:right}td.label{text-align:left}th.span{border-bottom:1px solid #888}
figure{margin:1rem 0}img{max-width:100%;height:auto}figcaption,.caption{font-size:.95rem}.note{font-size:.9rem;color:#333}
nav ul{columns:2}";

pub fn render(doc: &Document) -> String {
    let mut h =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!("<title>{}</title>\n", escape(&doc.title)));
    // An empty icon, so that a browser does not ask the file system for /favicon.ico.
    h.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    h.push_str(&format!("<style>\n{STYLE}\n</style>\n</head>\n<body>\n"));
    h.push_str(&format!("<h1>{}</h1>\n", escape(&doc.title)));
    h.push_str(&format!(
        "<p class=\"provenance\">{}</p>\n",
        escape(&doc.provenance.line())
    ));
    h.push_str("<nav><ul>\n");
    for s in &doc.sections {
        h.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            s.id,
            escape(&s.title)
        ));
    }
    h.push_str("</ul></nav>\n");
    for s in &doc.sections {
        h.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n<p class=\"caption\">{}</p>\n",
            s.id,
            escape(&s.title),
            escape(&s.caption)
        ));
        match &s.content {
            Content::Table(t) => {
                h.push_str("<table>\n<thead>\n");
                for row in &t.header {
                    h.push_str("<tr>");
                    for c in row {
                        if c.span > 1 {
                            h.push_str(&format!(
                                "<th colspan=\"{}\" class=\"span\">{}</th>",
                                c.span,
                                escape(&c.text)
                            ));
                        } else {
                            h.push_str(&format!("<th>{}</th>", escape(&c.text)));
                        }
                    }
                    h.push_str("</tr>\n");
                }
                h.push_str("</thead>\n<tbody>\n");
                for row in blanked_rows(t) {
                    h.push_str("<tr>");
                    for (i, e) in row.iter().enumerate() {
                        let class = if i < t.label_columns { "label" } else { "num" };
                        let text = e.map_or(String::new(), |e| e.plain());
                        h.push_str(&format!("<td class=\"{class}\">{}</td>", escape(&text)));
                    }
                    h.push_str("</tr>\n");
                }
                h.push_str("</tbody>\n</table>\n");
            }
            Content::Figure(f) => {
                h.push_str(&format!(
                    "<figure><img src=\"data:image/svg+xml;base64,{}\" alt=\"{}\"></figure>\n",
                    base64(f.svg.as_bytes()),
                    escape(&f.alt)
                ));
            }
            Content::Image { png, alt } => {
                h.push_str(&format!(
                    "<figure><img src=\"data:image/png;base64,{}\" alt=\"{}\" style=\"image-rendering:pixelated\"></figure>\n",
                    base64(png),
                    escape(alt)
                ));
            }
        }
        for n in &s.notes {
            h.push_str(&format!("<p class=\"note\">{}</p>\n", escape(n)));
        }
        h.push_str(&format!(
            "<p class=\"provenance\">{}</p>\n</section>\n",
            escape(&doc.provenance.line())
        ));
    }
    h.push_str("</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
