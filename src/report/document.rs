//! A report before it has a format: sections of tables, figures and images, each with its
//! caption and provenance. The renderers (`markdown`, `html`, `latex`) only lay it out.

/// Where every number of a report comes from.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub experiment: String,
    pub run_id: String,
    pub seeds: Vec<u64>,
    pub backend: String,
    /// `2026-11-23` (the run's end).
    pub date: String,
    /// The first 12 hex digits of the manifest's SHA-256.
    pub manifest: String,
    pub heist: String,
    /// `abc1234` or `abc1234 (uncommitted changes)`.
    pub git: Option<String>,
}

impl Provenance {
    /// One line: `quickstart · run quickstart · seeds 1, 2 · flex · 2026-11-23 · manifest 3f2a…`.
    pub fn line(&self) -> String {
        let seeds = if self.seeds.is_empty() {
            "no seeds".to_string()
        } else {
            let s: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
            format!(
                "seed{} {}",
                if s.len() == 1 { "" } else { "s" },
                s.join(", ")
            )
        };
        let mut parts = vec![
            format!("experiment {}", self.experiment),
            format!("run {}", self.run_id),
            seeds,
            format!("backend {}", self.backend),
            self.date.clone(),
            format!("manifest {}", self.manifest),
            format!("heist {}", self.heist),
        ];
        if let Some(g) = &self.git {
            parts.push(format!("git {g}"));
        }
        parts.join(" · ")
    }
}

#[derive(Debug, Clone)]
pub struct Document {
    pub title: String,
    pub provenance: Provenance,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone)]
pub struct Section {
    /// A file-name-safe id (`fraction-plot-monet_to_photo-fid`), unique within the report.
    pub id: String,
    pub title: String,
    pub caption: String,
    pub content: Content,
    /// Lines under the content: footnotes, statistics.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Content {
    Table(Table),
    Figure(Figure),
    /// A PNG image (sample grids).
    Image {
        png: Vec<u8>,
        alt: String,
    },
}

/// A table: header rows (cells may span columns), then body rows. Body rows may be grouped:
/// a group's first column is printed once (`rowspan` in HTML, `\multirow`-free in LaTeX).
#[derive(Debug, Clone)]
pub struct Table {
    pub header: Vec<Vec<Header>>,
    pub rows: Vec<Vec<Entry>>,
    /// How many leading columns are row labels (left-aligned, repeated values blanked).
    pub label_columns: usize,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub text: String,
    pub span: usize,
}

impl Header {
    pub fn one(text: impl Into<String>) -> Header {
        Header {
            text: text.into(),
            span: 1,
        }
    }
}

/// A table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Text(String),
    /// `(A) 58.05 ± 0.74`, or `58.05` for a single value; `change` adds `(-6.0%)`.
    Value {
        label: Option<String>,
        mean: f64,
        sd: Option<f64>,
        digits: usize,
        change: Option<f64>,
    },
    /// The paper's N/A: the comparison does not exist.
    NotApplicable,
    /// Not measured in this run (for example cutout for super-resolution).
    Dash,
}

/// How a value is spelled: Unicode for Markdown and HTML, math mode for LaTeX.
pub struct Spelling {
    pub math_open: &'static str,
    pub plus_minus: &'static str,
    pub math_close: &'static str,
    pub percent: &'static str,
}

pub const PLAIN: Spelling = Spelling {
    math_open: "",
    plus_minus: " ± ",
    math_close: "",
    percent: "%",
};

impl Entry {
    /// Plain text with Unicode ±, for Markdown and HTML.
    pub fn plain(&self) -> String {
        self.spelled(&PLAIN)
    }

    pub fn spelled(&self, how: &Spelling) -> String {
        match self {
            Entry::Text(t) => t.clone(),
            Entry::Value {
                label,
                mean,
                sd,
                digits,
                change,
            } => {
                let mut s = String::new();
                if let Some(l) = label {
                    s.push_str(&format!("({l}) "));
                }
                s.push_str(&format!("{}{mean:.digits$}", how.math_open));
                if let Some(sd) = sd {
                    s.push_str(&format!("{}{sd:.digits$}", how.plus_minus));
                }
                s.push_str(how.math_close);
                if let Some(c) = change {
                    s.push_str(&format!(" ({:+.1}{})", c * 100.0, how.percent));
                }
                s
            }
            Entry::NotApplicable => "N/A".into(),
            Entry::Dash => "–".into(),
        }
    }
}

/// A plot in both vector and raster form.
#[derive(Debug, Clone)]
pub struct Figure {
    pub svg: String,
    pub png: Vec<u8>,
    pub alt: String,
}
