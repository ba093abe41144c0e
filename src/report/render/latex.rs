//! `report.tex`: a complete article with booktabs tables and the figures' PNGs; each table is
//! also written alone (`tables/<id>.tex`) to paste into a paper.

use super::blanked_rows;
use crate::report::document::{Content, Document, Entry, Section, Spelling, Table};

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '±' => out.push_str("$\\pm$"),
            '·' => out.push_str("\\textperiodcentered{}"),
            '–' => out.push_str("--"),
            '≥' => out.push_str("$\\geq$"),
            '≤' => out.push_str("$\\leq$"),
            _ => out.push(c),
        }
    }
    out
}

fn entry(e: &Entry) -> String {
    const MATH: Spelling = Spelling {
        math_open: "$",
        plus_minus: " \\pm ",
        math_close: "$",
        percent: "\\%",
    };
    match e {
        Entry::Value { .. } => e.spelled(&MATH),
        Entry::Dash => "--".into(),
        other => escape(&other.plain()),
    }
}

/// A `table` float with booktabs rules.
pub fn table(section: &Section, table: &Table, provenance: &str) -> String {
    let width = table.rows.first().map_or(0, Vec::len);
    let spec: String = (0..width)
        .map(|i| if i < table.label_columns { 'l' } else { 'r' })
        .collect();
    let mut t = format!(
        "\\begin{{table}}[ht]\n\\centering\n\\caption{{{}}}\n\\label{{tab:{}}}\n\\begin{{tabular}}{{{spec}}}\n\\toprule\n",
        escape(&section.caption),
        section.id
    );
    for (r, row) in table.header.iter().enumerate() {
        let mut cells = vec![];
        let mut rules = vec![];
        let mut at = 1;
        for h in row {
            if h.span > 1 {
                cells.push(format!(
                    "\\multicolumn{{{}}}{{c}}{{{}}}",
                    h.span,
                    escape(&h.text)
                ));
                if r + 1 < table.header.len() {
                    rules.push(format!("\\cmidrule(lr){{{}-{}}}", at, at + h.span - 1));
                }
            } else {
                cells.push(escape(&h.text));
            }
            at += h.span;
        }
        t.push_str(&format!("{} \\\\\n", cells.join(" & ")));
        if !rules.is_empty() {
            t.push_str(&format!("{}\n", rules.join(" ")));
        }
    }
    t.push_str("\\midrule\n");
    for row in blanked_rows(table) {
        let cells: Vec<String> = row.iter().map(|e| e.map_or(String::new(), entry)).collect();
        t.push_str(&format!("{} \\\\\n", cells.join(" & ")));
    }
    t.push_str("\\bottomrule\n\\end{tabular}\n");
    for n in &section.notes {
        t.push_str(&format!("\n\\smallskip\\footnotesize {}\n", escape(n)));
    }
    t.push_str(&format!(
        "\n\\smallskip\\scriptsize {}\n\\end{{table}}\n",
        escape(provenance)
    ));
    t
}

pub fn render(doc: &Document) -> String {
    let provenance = doc.provenance.line();
    let mut t = String::from(
        "% Written by heist report. Needs booktabs and graphicx; figures are in figures/.\n\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\usepackage[margin=2cm]{geometry}\n",
    );
    t.push_str(&format!(
        "\\title{{{}}}\n\\date{{{}}}\n\\begin{{document}}\n\\maketitle\n\\noindent{{\\small {}}}\n\n",
        escape(&doc.title),
        escape(&doc.provenance.date),
        escape(&provenance)
    ));
    for s in &doc.sections {
        t.push_str(&format!("\\section*{{{}}}\n", escape(&s.title)));
        match &s.content {
            Content::Table(table) => t.push_str(&self::table(s, table, &provenance)),
            Content::Figure(_) | Content::Image { .. } => {
                let folder = if matches!(s.content, Content::Figure(_)) {
                    "figures"
                } else {
                    "images"
                };
                let file = format!("{folder}/{}.png", s.id);
                t.push_str(&format!(
                    "\\begin{{figure}}[ht]\n\\centering\n\\includegraphics[width=0.8\\linewidth]{{{file}}}\n\\caption{{{}}}\n\\label{{fig:{}}}\n",
                    escape(&s.caption),
                    s.id
                ));
                for n in &s.notes {
                    t.push_str(&format!("\n\\smallskip\\footnotesize {}\n", escape(n)));
                }
                t.push_str(&format!(
                    "\n\\smallskip\\scriptsize {}\n\\end{{figure}}\n",
                    escape(&provenance)
                ));
            }
        }
        t.push_str("\\clearpage\n\n");
    }
    t.push_str("\\end{document}\n");
    t
}
