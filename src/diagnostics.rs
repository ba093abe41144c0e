//! Diagnostics: every problem heist finds in an experiment is a [`Diagnostic`] value with a
//! stable code and spans. They are collected (so a user sees all of them at once) and rendered
//! to text in exactly one place, [`render`], with miette.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use crate::source::{SourceMap, Span};

/// The stable identity of a kind of problem, shown as `heist::<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Io,
    Encoding,
    Syntax,
    TooDeep,
    IncludeMissing,
    IncludeCycle,
    DuplicateName,
    ReservedName,
    UnknownName,
    WrongKind,
    UnknownField,
    DuplicateField,
    MissingField,
    ConflictingFields,
    WrongType,
    BadUnit,
    OutOfRange,
    UnknownVariable,
    VariableCycle,
    ExtendsCycle,
    BadOverride,
    SweepShape,
    Incompatible,
    MissingGroundTruth,
    ImageSize,
    ScaleMismatch,
    Internal,
    MetricInput,
    StatsInput,
    DataInput,
    Training,
    /// Stopped by Ctrl-C, with a checkpoint to continue from.
    Interrupted,
    Query,
    Weights,
    Backend,
    MissingPath,
    Job,
    RunDirectory,
    Report,
    Diff,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Io => "heist::io",
            Code::Encoding => "heist::encoding",
            Code::Syntax => "heist::syntax",
            Code::TooDeep => "heist::too_deep",
            Code::IncludeMissing => "heist::include_missing",
            Code::IncludeCycle => "heist::include_cycle",
            Code::DuplicateName => "heist::duplicate_name",
            Code::ReservedName => "heist::reserved_name",
            Code::UnknownName => "heist::unknown_name",
            Code::WrongKind => "heist::wrong_kind",
            Code::UnknownField => "heist::unknown_field",
            Code::DuplicateField => "heist::duplicate_field",
            Code::MissingField => "heist::missing_field",
            Code::ConflictingFields => "heist::conflicting_fields",
            Code::WrongType => "heist::wrong_type",
            Code::BadUnit => "heist::bad_unit",
            Code::OutOfRange => "heist::out_of_range",
            Code::UnknownVariable => "heist::unknown_variable",
            Code::VariableCycle => "heist::variable_cycle",
            Code::ExtendsCycle => "heist::extends_cycle",
            Code::BadOverride => "heist::bad_override",
            Code::SweepShape => "heist::sweep_shape",
            Code::Incompatible => "heist::incompatible",
            Code::MissingGroundTruth => "heist::missing_ground_truth",
            Code::ImageSize => "heist::image_size",
            Code::ScaleMismatch => "heist::scale_mismatch",
            Code::Internal => "heist::internal",
            Code::MetricInput => "heist::metric_input",
            Code::StatsInput => "heist::stats_input",
            Code::DataInput => "heist::data",
            Code::Training => "heist::training",
            Code::Interrupted => "heist::interrupted",
            Code::Query => "heist::query",
            Code::Weights => "heist::weights",
            Code::Backend => "heist::backend",
            Code::MissingPath => "heist::missing_path",
            Code::Job => "heist::job",
            Code::RunDirectory => "heist::run_directory",
            Code::Report => "heist::report",
            Code::Diff => "heist::diff",
        }
    }
}

/// Errors stop a program from being checked; warnings are shown and let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A span with the short text written under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem: what is wrong (`message`), where (`primary`), related places (`secondary`),
/// and what to write instead (`help`).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Option<Label>,
    pub secondary: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Puts the main label on `span`.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.primary = Some(Label {
            span,
            message: label.into(),
        });
        self
    }

    /// Adds a label on a related place (for example the first definition of a duplicate).
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: label.into(),
        });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds help when there is some.
    pub fn with_help(self, help: Option<String>) -> Diagnostic {
        match help {
            Some(h) => self.help(h),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The collector that checks push into and keep going.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// The problems already pushed, for a linear duplicate check.
    seen: std::collections::HashSet<String>,
}

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        // The same problem reached twice (say through `extends`) is reported once.
        if self.seen.insert(format!("{diagnostic:?}")) {
            self.items.push(diagnostic);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.items {
            self.push(d);
        }
    }
}

/// Renders diagnostics as miette reports, in source order.
pub fn render(diagnostics: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| {
        d.primary
            .as_ref()
            .map(|l| (l.span.file, l.span.start))
            .unwrap_or_default()
    });
    let mut out = String::new();
    // A file with thousands of the same mistake shows the first few of each kind.
    let mut shown: std::collections::HashMap<Code, usize> = Default::default();
    let mut hidden: Vec<(Code, usize)> = vec![];
    for diagnostic in sorted {
        let n = shown.entry(diagnostic.code).or_default();
        *n += 1;
        if *n > SHOWN_PER_CODE {
            match hidden.iter_mut().find(|(c, _)| *c == diagnostic.code) {
                Some((_, k)) => *k += 1,
                None => hidden.push((diagnostic.code, 1)),
            }
            continue;
        }
        let view = MietteView::new(diagnostic, sources);
        if handler.render_report(&mut out, &view).is_err() {
            out.push_str(&diagnostic.message);
            out.push('\n');
        }
    }
    for (code, n) in hidden {
        out.push_str(&format!(
            "... and {n} more {} problem{} like those above (not shown)\n",
            code.as_str(),
            if n == 1 { "" } else { "s" }
        ));
    }
    out
}

/// How many diagnostics of one code are rendered.
const SHOWN_PER_CODE: usize = 20;

/// Renders an error of the library (a `thiserror` type that derives `miette::Diagnostic`)
/// with the same handler and shape as the diagnostics: `× message`, its code, `help:`. Wide,
/// so that the paths in a message are never broken across lines.
pub fn render_error(error: &dyn miette::Diagnostic, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(usize::MAX / 2)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, error).is_err() {
        out = format!("error: {error}\n");
    }
    out
}

/// Adapts a [`Diagnostic`] to miette: one source per report, so labels in other files become
/// related notes.
struct MietteView {
    code: Code,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<MietteView>,
}

impl MietteView {
    fn new(d: &Diagnostic, sources: &SourceMap) -> MietteView {
        let severity = match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let mut view = MietteView {
            code: d.code,
            severity,
            message: d.message.clone(),
            help: d.help.clone(),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        let Some(primary) = &d.primary else {
            return view;
        };
        let file = primary.span.file;
        view.source = Some(named_source(sources, file));
        view.labels.push(labeled(primary, sources, true));
        for label in &d.secondary {
            if label.span.file == file {
                view.labels.push(labeled(label, sources, false));
            } else {
                view.related.push(MietteView {
                    code: d.code,
                    severity: miette::Severity::Advice,
                    message: label.message.clone(),
                    help: None,
                    source: Some(named_source(sources, label.span.file)),
                    labels: vec![labeled(label, sources, true)],
                    related: Vec::new(),
                });
            }
        }
        view
    }
}

fn named_source(sources: &SourceMap, file: crate::source::FileId) -> NamedSource<String> {
    let f = sources.get(file);
    NamedSource::new(f.name.clone(), f.text.clone()).with_language("heist")
}

fn labeled(label: &Label, sources: &SourceMap, primary: bool) -> LabeledSpan {
    let text_len = sources.get(label.span.file).text.len();
    let start = label.span.start.min(text_len);
    let len = label.span.end.min(text_len).saturating_sub(start);
    let message = Some(label.message.clone()).filter(|m| !m.is_empty());
    if primary {
        LabeledSpan::new_primary_with_span(message, (start, len))
    } else {
        LabeledSpan::new_with_span(message, (start, len))
    }
}

impl fmt::Debug for MietteView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for MietteView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MietteView {}

impl miette::Diagnostic for MietteView {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

/// The closest candidate to `word`, for "did you mean" help.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
