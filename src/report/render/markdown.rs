//! `report.md`: GitHub-flavoured Markdown; figures and images are files beside it.

use super::{blanked_rows, column_headers};
use crate::report::document::{Content, Document};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn render(doc: &Document) -> String {
    let mut md = format!("# {}\n\n", doc.title);
    md.push_str(&format!("<sub>{}</sub>\n\n", doc.provenance.line()));
    if doc.sections.len() > 2 {
        for s in &doc.sections {
            md.push_str(&format!("- [{}](#{})\n", s.title, s.id));
        }
        md.push('\n');
    }
    for s in &doc.sections {
        md.push_str(&format!("<a id=\"{}\"></a>\n\n## {}\n\n", s.id, s.title));
        md.push_str(&format!("{}\n\n", s.caption));
        match &s.content {
            Content::Table(t) => {
                let headers: Vec<String> = column_headers(t)
                    .into_iter()
                    .map(|parts| cell(&parts.join(": ")))
                    .collect();
                md.push_str(&format!("| {} |\n", headers.join(" | ")));
                let align: Vec<&str> = (0..headers.len())
                    .map(|i| if i < t.label_columns { ":--" } else { "--:" })
                    .collect();
                md.push_str(&format!("|{}|\n", align.join("|")));
                for row in blanked_rows(t) {
                    let texts: Vec<String> = row
                        .iter()
                        .map(|e| e.map_or(String::new(), |e| cell(&e.plain())))
                        .collect();
                    md.push_str(&format!("| {} |\n", texts.join(" | ")));
                }
                md.push('\n');
            }
            Content::Figure(f) => {
                md.push_str(&format!(
                    "![{}](figures/{}.svg)\n\n[PNG](figures/{}.png) · [SVG](figures/{}.svg)\n\n",
                    f.alt, s.id, s.id, s.id
                ));
            }
            Content::Image { alt, .. } => {
                md.push_str(&format!("![{alt}](images/{}.png)\n\n", s.id));
            }
        }
        for n in &s.notes {
            md.push_str(&format!("{n}\n\n"));
        }
        md.push_str(&format!("<sub>{}</sub>\n\n", doc.provenance.line()));
    }
    md
}
