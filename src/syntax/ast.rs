//! The abstract syntax tree of one `.exp` file. Every node carries its [`Span`].

use crate::source::Span;

/// A parsed file: its statements in order.
#[derive(Debug, Clone)]
pub struct File {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
pub enum Statement {
    Include(Include),
    Let(Let),
    Declaration(Declaration),
}

/// `include "common.exp"`.
#[derive(Debug, Clone)]
pub struct Include {
    pub path: String,
    pub span: Span,
}

/// `let name = value`.
#[derive(Debug, Clone)]
pub struct Let {
    pub name: Ident,
    pub value: Value,
    pub span: Span,
}

/// A name as written, with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// What a declaration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Dataset,
    Victim,
    Attack,
    Evaluation,
    UserStudy,
    Comparison,
    Report,
    Experiment,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Dataset,
        Kind::Victim,
        Kind::Attack,
        Kind::Evaluation,
        Kind::UserStudy,
        Kind::Comparison,
        Kind::Report,
        Kind::Experiment,
    ];

    /// The keyword that starts such a declaration.
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Dataset => "dataset",
            Kind::Victim => "victim",
            Kind::Attack => "attack",
            Kind::Evaluation => "evaluation",
            Kind::UserStudy => "user_study",
            Kind::Comparison => "comparison",
            Kind::Report => "report",
            Kind::Experiment => "experiment",
        }
    }

    pub fn from_keyword(word: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.keyword() == word)
    }

    /// "a dataset", "an attack": for messages.
    pub fn with_article(self) -> String {
        let word = self.keyword().replace('_', " ");
        let article = if matches!(self, Kind::Attack | Kind::Evaluation | Kind::Experiment) {
            "an"
        } else {
            "a"
        };
        format!("{article} {word}")
    }
}

/// How a declaration begins after its name.
#[derive(Debug, Clone)]
pub enum Head {
    /// `victim monet { ... }`
    Plain,
    /// `victim monet = cyclegan { ... }`
    Typed(Ident),
    /// `attack b extends a { ... }`
    Extends(Ident),
}

/// `KIND NAME [= TYPE | extends OTHER] { fields }`.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub kind: Kind,
    pub kind_span: Span,
    pub name: Ident,
    pub head: Head,
    pub body: Block,
    pub span: Span,
}

/// `{ field ... }`.
#[derive(Debug, Clone)]
pub struct Block {
    pub fields: Vec<Field>,
    pub span: Span,
}

impl Block {
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.text == name)
    }
}

/// `name = value` (or `name { ... }`, stored as an untyped object value).
#[derive(Debug, Clone)]
pub struct Field {
    pub name: Ident,
    pub value: Value,
    /// Set when the user wrote `name: value`; the checker explains it.
    pub colon: Option<Span>,
    pub span: Span,
}

/// A value with its place.
#[derive(Debug, Clone)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

/// The units a number may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Percent,
    Pixels,
    Degrees,
    Times,
    Seconds,
    Milliseconds,
}

impl Unit {
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Pixels => "px",
            Unit::Degrees => "deg",
            Unit::Times => "x",
            Unit::Seconds => "s",
            Unit::Milliseconds => "ms",
        }
    }
}

/// One piece of a string literal: text, or a `${variable}` to fill in.
#[derive(Debug, Clone)]
pub enum StringPart {
    Text(String),
    Variable(Ident),
}

#[derive(Debug, Clone)]
pub enum ValueKind {
    /// `64`, `2e-4`, `64px`, `50%`. `integer` is true when written without `.` or exponent.
    Number {
        value: f64,
        unit: Option<Unit>,
        integer: bool,
    },
    /// `$0.016`
    Money(f64),
    String(Vec<StringPart>),
    Bool(bool),
    /// `name` or `name.part`
    Reference(Vec<Ident>),
    List(Vec<Value>),
    /// `type { fields }` or an untyped `{ fields }` block.
    Object {
        type_name: Option<Ident>,
        block: Block,
    },
    /// `name(args)`
    Call {
        name: Ident,
        args: Vec<Argument>,
    },
    /// `start..end [step s]`, inclusive.
    Range {
        start: Box<Value>,
        end: Box<Value>,
        step: Option<Box<Value>>,
    },
}

/// A call argument, positional or `name = value`.
#[derive(Debug, Clone)]
pub struct Argument {
    pub name: Option<Ident>,
    pub value: Value,
}

impl Value {
    /// A short description of the value's shape, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            ValueKind::Number { unit: Some(u), .. } => format!("a number in `{}`", u.suffix()),
            ValueKind::Number { .. } => "a number".into(),
            ValueKind::Money(_) => "an amount of money".into(),
            ValueKind::String(_) => "a string".into(),
            ValueKind::Bool(_) => "a boolean".into(),
            ValueKind::Reference(path) => format!(
                "the name `{}`",
                path.iter()
                    .map(|i| i.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            ),
            ValueKind::List(_) => "a list".into(),
            ValueKind::Object {
                type_name: Some(t), ..
            } => format!("a `{}` block", t.text),
            ValueKind::Object { .. } => "a block".into(),
            ValueKind::Call { name, .. } => format!("`{}(...)`", name.text),
            ValueKind::Range { .. } => "a range".into(),
        }
    }
}
