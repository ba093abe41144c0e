//! Reading AST values as typed data: variables substituted, units converted, ranges checked.
//! Every reader reports its own problems and returns `None`, so checking goes on.

use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::source::Span;
use crate::syntax::ast::{Argument, Block, Ident, Kind, StringPart, Unit, Value, ValueKind};

use super::scope::Scope;

/// The longest chain of variables naming each other that is followed.
const MAX_CHAIN: usize = 1000;

/// Ranges expand to at most this many values.
const MAX_RANGE_LEN: usize = 10_000;

/// The reading context: names in scope and the diagnostics collector.
pub struct Cx<'a> {
    pub scope: &'a Scope,
    pub diagnostics: &'a mut Diagnostics,
    resolving: Vec<String>,
    /// Every file or folder the program names, for the planner to look for before running.
    pub paths: Vec<PathUse>,
}

/// A file or folder named in the experiment, where it was named.
#[derive(Debug, Clone, PartialEq)]
pub struct PathUse {
    pub path: String,
    pub span: Span,
    /// What it is, for messages ("the folder of dataset `monet`").
    pub role: String,
    pub folder: bool,
}

/// A number as written.
#[derive(Debug, Clone, Copy)]
pub struct Number {
    pub value: f64,
    pub unit: Option<Unit>,
    pub integer: bool,
    pub span: Span,
}

impl<'a> Cx<'a> {
    pub fn new(scope: &'a Scope, diagnostics: &'a mut Diagnostics) -> Cx<'a> {
        Cx {
            scope,
            diagnostics,
            resolving: Vec::new(),
            paths: Vec::new(),
        }
    }

    /// A string naming a file (`folder == false`) or folder; remembered in [`Cx::paths`].
    pub fn path(
        &mut self,
        value: &Value,
        what: &str,
        example: &str,
        role: String,
        folder: bool,
    ) -> Option<String> {
        let path = self.string(value, what, example)?;
        self.paths.push(PathUse {
            path: path.clone(),
            span: value.span,
            role,
            folder,
        });
        Some(path)
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Substitutes a variable (`root`) for its value, following chains of variables (in a
    /// loop, not by recursion: a chain of thousands of `let`s must not overflow the stack).
    pub fn resolve(&mut self, value: &Value) -> Option<Value> {
        let mut current = value.clone();
        let mut chain: Vec<String> = vec![];
        loop {
            let ValueKind::Reference(path) = &current.kind else {
                return Some(current);
            };
            let [name] = path.as_slice() else {
                return Some(current);
            };
            let Some(binding) = self.scope.lets.get(&name.text) else {
                return Some(current);
            };
            if self.resolving.contains(&name.text) || chain.contains(&name.text) {
                let mut all = self.resolving.clone();
                all.extend(chain.iter().cloned());
                let chain = format!("{} -> {}", all.join(" -> "), name.text);
                let span = binding.name.span;
                self.push(
                    Diagnostic::error(
                        Code::VariableCycle,
                        format!("the variable `{}` refers to itself", name.text),
                    )
                    .at(span, "defined in terms of itself")
                    .help(format!(
                        "the chain is {chain}; give one of them a plain value"
                    )),
                );
                return None;
            }
            if chain.len() >= MAX_CHAIN {
                let span = binding.name.span;
                self.push(
                    Diagnostic::error(
                        Code::TooDeep,
                        format!("`{}` is the {MAX_CHAIN}th variable of a chain of variables that name each other", name.text),
                    )
                    .at(span, "one chain too many")
                    .help("give a variable in the chain a plain value"),
                );
                return None;
            }
            chain.push(name.text.clone());
            current = binding.value.clone();
        }
    }

    fn wrong_type(&mut self, value: &Value, expected: &str, what: &str, example: &str) {
        self.push(
            Diagnostic::error(
                Code::WrongType,
                format!("{what} must be {expected}, found {}", value.describe()),
            )
            .at(value.span, format!("expected {expected}"))
            .help(format!("for example: {example}")),
        );
    }

    fn out_of_range(&mut self, span: Span, what: &str, rule: &str, help: &str) {
        self.push(
            Diagnostic::error(Code::OutOfRange, format!("{what} must be {rule}"))
                .at(span, "out of range")
                .help(help.to_string()),
        );
    }

    fn bad_unit(&mut self, number: Number, what: &str, allowed: &str, example: &str) {
        let message = match number.unit {
            None => format!("{what} needs a unit: {allowed}"),
            Some(u) => format!("{what} takes {allowed}, not `{}`", u.suffix()),
        };
        self.push(
            Diagnostic::error(Code::BadUnit, message)
                .at(
                    number.span,
                    if number.unit.is_some() {
                        "wrong unit"
                    } else {
                        "no unit"
                    },
                )
                .help(format!("for example: {example}")),
        );
    }

    /// Any number, with its unit.
    pub fn number(&mut self, value: &Value, what: &str, example: &str) -> Option<Number> {
        let value = self.resolve(value)?;
        match value.kind {
            ValueKind::Number {
                value: v,
                unit,
                integer,
            } => Some(Number {
                value: v,
                unit,
                integer,
                span: value.span,
            }),
            _ => {
                self.wrong_type(&value, "a number", what, example);
                None
            }
        }
    }

    /// A plain integer in `[min, max]`.
    pub fn integer(
        &mut self,
        value: &Value,
        what: &str,
        min: i64,
        max: i64,
        example: &str,
    ) -> Option<i64> {
        let n = self.number(value, what, example)?;
        if n.unit.is_some() {
            self.bad_unit(n, what, "a plain number", example);
            return None;
        }
        if !n.integer {
            self.push(
                Diagnostic::error(Code::WrongType, format!("{what} must be a whole number"))
                    .at(n.span, "not a whole number")
                    .help(format!("for example: {example}")),
            );
            return None;
        }
        if n.value < min as f64 || n.value > max as f64 {
            let rule = if max == i64::MAX {
                format!("at least {min}")
            } else {
                format!("between {min} and {max}")
            };
            self.out_of_range(n.span, what, &rule, &format!("for example: {example}"));
            return None;
        }
        Some(n.value as i64)
    }

    /// A count of at least one.
    pub fn count(&mut self, value: &Value, what: &str, example: &str) -> Option<u64> {
        self.integer(value, what, 1, i64::MAX, example)
            .map(|v| v as u64)
    }

    /// A seed or other non-negative integer.
    pub fn natural(&mut self, value: &Value, what: &str, example: &str) -> Option<u64> {
        self.integer(value, what, 0, i64::MAX, example)
            .map(|v| v as u64)
    }

    /// An image size in pixels: `64px` (or a plain `64`).
    pub fn pixels(&mut self, value: &Value, what: &str) -> Option<u32> {
        let example = "64px";
        let n = self.number(value, what, example)?;
        if !matches!(n.unit, None | Some(Unit::Pixels)) {
            self.bad_unit(n, what, "pixels", example);
            return None;
        }
        if !n.integer || n.value < 1.0 || n.value > 16384.0 {
            self.out_of_range(
                n.span,
                what,
                "a whole number of pixels from 1px to 16384px",
                "for example: 256px",
            );
            return None;
        }
        Some(n.value as u32)
    }

    /// A border or margin in pixels, possibly zero: `4px` (or a plain `4`).
    pub fn pixels_or_zero(&mut self, value: &Value, what: &str) -> Option<u32> {
        let n = self.number(value, what, "4px")?;
        if !matches!(n.unit, None | Some(Unit::Pixels)) {
            self.bad_unit(n, what, "pixels", "4px");
            return None;
        }
        if !n.integer || n.value < 0.0 || n.value > 1024.0 {
            self.out_of_range(
                n.span,
                what,
                "a whole number of pixels from 0px to 1024px",
                "for example: 4px",
            );
            return None;
        }
        Some(n.value as u32)
    }

    /// A real number in `[min, max]` (no unit).
    pub fn real(
        &mut self,
        value: &Value,
        what: &str,
        min: f64,
        max: f64,
        example: &str,
    ) -> Option<f64> {
        let n = self.number(value, what, example)?;
        if n.unit.is_some() {
            self.bad_unit(n, what, "a plain number", example);
            return None;
        }
        if n.value < min || n.value > max {
            let rule = match (min, max) {
                (lo, hi) if hi == f64::MAX => format!("at least {lo}"),
                (lo, hi) => format!("between {lo} and {hi}"),
            };
            self.out_of_range(n.span, what, &rule, &format!("for example: {example}"));
            return None;
        }
        Some(n.value)
    }

    /// A strictly positive real number.
    pub fn positive(&mut self, value: &Value, what: &str, example: &str) -> Option<f64> {
        let v = self.real(value, what, 0.0, f64::MAX, example)?;
        if v == 0.0 {
            self.out_of_range(
                value.span,
                what,
                "greater than 0",
                &format!("for example: {example}"),
            );
            return None;
        }
        Some(v)
    }

    /// A share of something in (0, 1]: `50%` or `0.5`.
    pub fn fraction(&mut self, value: &Value, what: &str) -> Option<f64> {
        let n = self.number(value, what, "50%")?;
        let v = match n.unit {
            Some(Unit::Percent) => n.value / 100.0,
            None if n.value > 1.0 => {
                self.push(
                    Diagnostic::error(
                        Code::BadUnit,
                        format!("{what} is a share: {} is more than all of it", n.value),
                    )
                    .at(n.span, "a share needs `%` or a value up to 1")
                    .help(format!(
                        "write `{}%` or `{}`",
                        n.value,
                        n.value / 100.0
                    )),
                );
                return None;
            }
            None => n.value,
            Some(_) => {
                self.bad_unit(n, what, "a percentage", "50%");
                return None;
            }
        };
        if v <= 0.0 || v > 1.0 {
            self.out_of_range(
                n.span,
                what,
                "in (0%, 100%]",
                "use a share between 0% (exclusive) and 100%",
            );
            return None;
        }
        Some(v)
    }

    /// A relative change such as `+20%` (returned as 0.2).
    pub fn change(&mut self, value: &Value, what: &str) -> Option<f64> {
        let n = self.number(value, what, "+20%")?;
        let v = match n.unit {
            Some(Unit::Percent) => n.value / 100.0,
            None => n.value,
            Some(_) => {
                self.bad_unit(n, what, "a percentage", "+20%");
                return None;
            }
        };
        if v <= -1.0 || v > 10.0 {
            self.out_of_range(
                n.span,
                what,
                "between -100% (exclusive) and +1000%",
                "for example: +20%",
            );
            return None;
        }
        Some(v)
    }

    /// An angle in degrees: `5deg`.
    pub fn degrees(&mut self, value: &Value, what: &str) -> Option<f64> {
        let n = self.number(value, what, "5deg")?;
        if n.unit != Some(Unit::Degrees) {
            self.bad_unit(n, what, "degrees", "5deg");
            return None;
        }
        if n.value.abs() > 180.0 {
            self.out_of_range(
                n.span,
                what,
                "between -180deg and 180deg",
                "the paper rotates by 5deg",
            );
            return None;
        }
        Some(n.value)
    }

    /// An upscaling factor: `4x` (a power of two, up to 8).
    pub fn scale(&mut self, value: &Value, what: &str) -> Option<u32> {
        let n = self.number(value, what, "4x")?;
        if !matches!(n.unit, None | Some(Unit::Times)) {
            self.bad_unit(n, what, "a factor", "4x");
            return None;
        }
        if !n.integer || ![2.0, 4.0, 8.0].contains(&n.value) {
            self.out_of_range(
                n.span,
                what,
                "2x, 4x or 8x",
                "super-resolution upsamples by PixelShuffle x2 stages; the paper uses 4x",
            );
            return None;
        }
        Some(n.value as u32)
    }

    /// A duration: `30s` or `500ms`, returned in seconds.
    pub fn seconds(&mut self, value: &Value, what: &str) -> Option<f64> {
        let n = self.number(value, what, "30s")?;
        let seconds = match n.unit {
            Some(Unit::Seconds) => n.value,
            Some(Unit::Milliseconds) => n.value / 1000.0,
            _ => {
                self.bad_unit(n, what, "a duration in `s` or `ms`", "30s");
                return None;
            }
        };
        if seconds <= 0.0 || seconds > 86_400.0 {
            self.out_of_range(
                n.span,
                what,
                "more than 0s and at most a day",
                "for example: 30s",
            );
            return None;
        }
        Some(seconds)
    }

    /// An amount of money in USD: `$0.016`.
    pub fn money(&mut self, value: &Value, what: &str) -> Option<f64> {
        let resolved = self.resolve(value)?;
        match resolved.kind {
            ValueKind::Money(v) if v >= 0.0 => Some(v),
            ValueKind::Money(_) => {
                self.out_of_range(resolved.span, what, "at least $0", "for example: $0.016");
                None
            }
            ValueKind::Number { .. } => {
                self.push(
                    Diagnostic::error(Code::BadUnit, format!("{what} is an amount of money"))
                        .at(resolved.span, "needs `$`")
                        .help("write the price in US dollars with `$`, e.g. `$0.016`"),
                );
                None
            }
            _ => {
                self.wrong_type(&resolved, "an amount of money", what, "$0.016");
                None
            }
        }
    }

    /// A string, with `${variable}` filled in.
    pub fn string(&mut self, value: &Value, what: &str, example: &str) -> Option<String> {
        let resolved = self.resolve(value)?;
        let ValueKind::String(parts) = &resolved.kind else {
            self.wrong_type(&resolved, "a string", what, example);
            return None;
        };
        let mut out = String::new();
        for part in parts {
            match part {
                StringPart::Text(t) => out.push_str(t),
                StringPart::Variable(name) => out.push_str(&self.interpolate(name)?),
            }
        }
        Some(out)
    }

    fn interpolate(&mut self, name: &Ident) -> Option<String> {
        let Some(binding) = self.scope.lets.get(&name.text) else {
            let help = did_you_mean(&name.text, self.scope.lets.keys().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| format!("define it first: let {} = \"...\"", name.text));
            self.push(
                Diagnostic::error(
                    Code::UnknownVariable,
                    format!("there is no variable `{}`", name.text),
                )
                .at(name.span, "unknown variable")
                .help(help),
            );
            return None;
        };
        let reference = Value {
            kind: ValueKind::Reference(vec![name.clone()]),
            span: name.span,
        };
        let value = self.resolve(&reference)?;
        match &value.kind {
            ValueKind::Number { value: v, .. } => Some(format_number(*v)),
            ValueKind::String(_) => {
                if self.resolving.contains(&name.text) {
                    self.push(
                        Diagnostic::error(
                            Code::VariableCycle,
                            format!("the variable `{}` refers to itself", name.text),
                        )
                        .at(binding.name.span, "defined in terms of itself")
                        .help("give it a plain value"),
                    );
                    return None;
                }
                self.resolving.push(name.text.clone());
                let text =
                    self.string(&value, &format!("the variable `{}`", name.text), "\"text\"");
                self.resolving.pop();
                text
            }
            _ => {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!(
                            "`${{{}}}` must be a string or number, found {}",
                            name.text,
                            value.describe()
                        ),
                    )
                    .at(name.span, "cannot be written into a string")
                    .also(binding.value.span, "its value"),
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, value: &Value, what: &str) -> Option<bool> {
        let resolved = self.resolve(value)?;
        match resolved.kind {
            ValueKind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(&resolved, "`true` or `false`", what, "true");
                None
            }
        }
    }

    /// One of a fixed set of words, such as a layout or an augmentation.
    pub fn word<T: Copy>(
        &mut self,
        value: &Value,
        what: &str,
        choices: &[(&'static str, T)],
    ) -> Option<T> {
        let literal = match &value.kind {
            ValueKind::Reference(path) if path.len() == 1 => choices
                .iter()
                .find(|(w, _)| *w == path[0].text)
                .map(|(_, t)| *t),
            _ => None,
        };
        if literal.is_some() {
            return literal;
        }
        let resolved = self.resolve(value)?;
        let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
        let list = words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        match &resolved.kind {
            ValueKind::Reference(path) if path.len() == 1 => {
                if let Some((_, t)) = choices.iter().find(|(w, _)| *w == path[0].text) {
                    return Some(*t);
                }
                let help = match did_you_mean(&path[0].text, words.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`? The choices are {list}"),
                    None => format!("the choices are {list}"),
                };
                self.push(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown {what} `{}`", path[0].text),
                    )
                    .at(resolved.span, format!("not a {what}"))
                    .help(help),
                );
                None
            }
            _ => {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        format!(
                            "{what} must be one of {list}, found {}",
                            resolved.describe()
                        ),
                    )
                    .at(resolved.span, format!("expected a {what}"))
                    .help(format!("write one of {list} without quotes")),
                );
                None
            }
        }
    }

    /// The items of a list; a range expands to its values and a single value is a list of one.
    pub fn list(&mut self, value: &Value, what: &str) -> Option<Vec<Value>> {
        let resolved = self.resolve(value)?;
        match resolved.kind {
            ValueKind::List(items) => Some(items),
            ValueKind::Range { start, end, step } => {
                self.range(&start, &end, step.as_deref(), resolved.span, what)
            }
            _ => Some(vec![resolved]),
        }
    }

    fn range(
        &mut self,
        start: &Value,
        end: &Value,
        step: Option<&Value>,
        span: Span,
        what: &str,
    ) -> Option<Vec<Value>> {
        let a = self.number(start, what, "1..5")?;
        let b = self.number(end, what, "1..5")?;
        let s = match step {
            Some(s) => Some(self.number(s, what, "25%..100% step 25%")?),
            None => None,
        };
        if a.unit != b.unit || s.is_some_and(|s| s.unit != a.unit) {
            self.push(
                Diagnostic::error(
                    Code::BadUnit,
                    "the ends and step of a range must have the same unit",
                )
                .at(span, "mixed units")
                .help("for example: 25%..100% step 25%"),
            );
            return None;
        }
        let step_value = s.map_or(1.0, |s| s.value);
        if step_value <= 0.0 {
            self.out_of_range(
                s.map_or(span, |s| s.span),
                "a range's step",
                "greater than 0",
                "for example: 1..5 step 2",
            );
            return None;
        }
        if b.value < a.value {
            self.push(
                Diagnostic::error(Code::OutOfRange, "a range must not run backwards")
                    .at(span, "end before start")
                    .help(format!(
                        "write {}..{}",
                        format_number(b.value),
                        format_number(a.value)
                    )),
            );
            return None;
        }
        let count = ((b.value - a.value) / step_value + 1e-9).floor() + 1.0;
        if count > MAX_RANGE_LEN as f64 {
            self.out_of_range(
                span,
                "a range",
                &format!("at most {MAX_RANGE_LEN} values long"),
                "use a larger step",
            );
            return None;
        }
        let integer = a.integer && s.is_none_or(|s| s.integer);
        Some(
            (0..count as usize)
                .map(|i| Value {
                    kind: ValueKind::Number {
                        value: round_decimal(a.value + i as f64 * step_value),
                        unit: a.unit,
                        integer,
                    },
                    span,
                })
                .collect(),
        )
    }

    /// The name of a declaration of `kind`.
    pub fn declaration(&mut self, value: &Value, kind: Kind, what: &str) -> Option<String> {
        let resolved = self.resolve(value)?;
        let ValueKind::Reference(path) = &resolved.kind else {
            self.wrong_type(
                &resolved,
                &format!("the name of {}", kind.with_article()),
                what,
                "monet_victim",
            );
            return None;
        };
        let name = &path[0];
        self.check_kind(name, kind)?;
        if path.len() > 1 {
            self.push(
                Diagnostic::error(
                    Code::WrongType,
                    format!("{what} names {} as a whole", kind.with_article()),
                )
                .at(resolved.span, "no parts here")
                .help(format!("write just `{}`", name.text)),
            );
            return None;
        }
        Some(name.text.clone())
    }

    /// Checks that `name` is a declaration of `kind`.
    pub fn check_kind(&mut self, name: &Ident, kind: Kind) -> Option<()> {
        match self.scope.declarations.get(&name.text) {
            Some(d) if d.kind == kind => Some(()),
            Some(d) => {
                let span = d.name.span;
                let found = d.kind;
                self.push(
                    Diagnostic::error(
                        Code::WrongKind,
                        format!(
                            "`{}` is {}, but {} is expected here",
                            name.text,
                            found.with_article(),
                            kind.with_article()
                        ),
                    )
                    .at(name.span, format!("expected {}", kind.with_article()))
                    .also(
                        span,
                        format!(
                            "`{}` is declared here as {}",
                            name.text,
                            found.with_article()
                        ),
                    )
                    .help(self.suggest_of_kind(&name.text, kind)),
                );
                None
            }
            None => {
                let message = if self.scope.lets.contains_key(&name.text) {
                    format!(
                        "`{}` is a variable, but {} is expected here",
                        name.text,
                        kind.with_article()
                    )
                } else {
                    format!(
                        "there is no {} `{}`",
                        kind.keyword().replace('_', " "),
                        name.text
                    )
                };
                self.push(
                    Diagnostic::error(Code::UnknownName, message)
                        .at(name.span, "unknown name")
                        .help(self.suggest_of_kind(&name.text, kind)),
                );
                None
            }
        }
    }

    fn suggest_of_kind(&self, word: &str, kind: Kind) -> String {
        let names: Vec<&str> = self.scope.names_of(kind).collect();
        match did_you_mean(word, names.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if names.is_empty() => format!("declare it: {} {word} ... {{ }}", kind.keyword()),
            None => format!(
                "the {}s declared are {}",
                kind.keyword().replace('_', " "),
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// A block value (`training { ... }` or `pix2pix { ... }`) with its type name if any.
    pub fn object(
        &mut self,
        value: &Value,
        what: &str,
        example: &str,
    ) -> Option<(Option<Ident>, Block)> {
        let resolved = self.resolve(value)?;
        match resolved.kind {
            ValueKind::Object { type_name, block } => Some((type_name, block)),
            _ => {
                self.wrong_type(&resolved, "a block", what, example);
                None
            }
        }
    }

    /// A value of one of several block types: `watermark { ... }`, or a bare `watermark` with
    /// all defaults. Returns the chosen type and a reader over the block's fields.
    pub fn typed<T: Copy>(
        &mut self,
        value: &Value,
        what: &str,
        types: &[(&'static str, T)],
        example: &str,
    ) -> Option<(T, Fields)> {
        let resolved = self.resolve(value)?;
        let (type_name, block) = match &resolved.kind {
            ValueKind::Object {
                type_name: Some(t),
                block,
            } => (t.clone(), block.clone()),
            ValueKind::Reference(p) if p.len() == 1 => (
                p[0].clone(),
                Block {
                    fields: Vec::new(),
                    span: resolved.span,
                },
            ),
            _ => {
                self.wrong_type(&resolved, &format!("a {what}"), what, example);
                return None;
            }
        };
        let word = Value {
            kind: ValueKind::Reference(vec![type_name.clone()]),
            span: type_name.span,
        };
        let chosen = self.word(&word, what, types)?;
        let fields = self.fields(
            &block,
            type_name.span,
            &format!("the `{}` {what}", type_name.text),
        );
        Some((chosen, fields))
    }

    /// Starts reading the fields of a block.
    pub fn fields(&mut self, block: &Block, anchor: Span, what: &str) -> Fields {
        let mut seen: Vec<&Ident> = Vec::new();
        for field in &block.fields {
            if let Some(colon) = field.colon {
                self.push(
                    Diagnostic::error(
                        Code::Syntax,
                        format!("`{}:` should be `{} =`", field.name.text, field.name.text),
                    )
                    .at(colon, "use `=`")
                    .help("fields are written `name = value`"),
                );
            }
            if let Some(first) = seen.iter().find(|i| i.text == field.name.text) {
                self.push(
                    Diagnostic::error(
                        Code::DuplicateField,
                        format!("`{}` is set twice in {what}", field.name.text),
                    )
                    .at(field.name.span, "set again here")
                    .also(first.span, "first set here")
                    .help("keep one of them"),
                );
            }
            seen.push(&field.name);
        }
        Fields {
            block: block.clone(),
            anchor,
            what: what.to_string(),
            known: Vec::new(),
        }
    }

    /// Matches call arguments to parameter names (positional first, then `name = value`).
    pub fn arguments(
        &mut self,
        call: &Ident,
        args: &[Argument],
        params: &[&'static str],
    ) -> Option<Vec<Option<Value>>> {
        let mut out: Vec<Option<Value>> = vec![None; params.len()];
        let mut ok = true;
        for (i, arg) in args.iter().enumerate() {
            let slot = match &arg.name {
                None if i < params.len() => Some(i),
                None => {
                    self.push(
                        Diagnostic::error(
                            Code::WrongType,
                            format!("`{}` takes at most {} argument(s)", call.text, params.len()),
                        )
                        .at(arg.value.span, "one too many")
                        .help(signature(call, params)),
                    );
                    None
                }
                Some(name) => match params.iter().position(|p| *p == name.text) {
                    Some(p) => Some(p),
                    None => {
                        let help = did_you_mean(&name.text, params.iter().copied())
                            .map(|c| format!("did you mean `{c}`? {}", signature(call, params)))
                            .unwrap_or_else(|| signature(call, params));
                        self.push(
                            Diagnostic::error(
                                Code::UnknownField,
                                format!("`{}` has no argument `{}`", call.text, name.text),
                            )
                            .at(name.span, "unknown argument")
                            .help(help),
                        );
                        None
                    }
                },
            };
            match slot {
                Some(s) if out[s].is_some() => {
                    self.push(
                        Diagnostic::error(
                            Code::DuplicateField,
                            format!("`{}` is given twice to `{}`", params[s], call.text),
                        )
                        .at(arg.value.span, "given again")
                        .help(signature(call, params)),
                    );
                    ok = false;
                }
                Some(s) => out[s] = Some(arg.value.clone()),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

fn signature(call: &Ident, params: &[&str]) -> String {
    format!("write `{}({})`", call.text, params.join(", "))
}

/// Numbers as a user would write them (no trailing `.0`).
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Removes binary noise from stepped ranges (0.1 * 3 = 0.30000000000000004).
fn round_decimal(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

/// The fields of one block being read: records which names were asked for, so that the rest
/// can be reported as unknown with a "did you mean".
pub struct Fields {
    block: Block,
    anchor: Span,
    what: String,
    known: Vec<&'static str>,
}

impl Fields {
    /// The value of an optional field.
    pub fn get(&mut self, name: &'static str) -> Option<Value> {
        self.known.push(name);
        self.block.get(name).map(|f| f.value.clone())
    }

    /// The value of a required field, or a "missing field" diagnostic with an example.
    pub fn required(&mut self, cx: &mut Cx, name: &'static str, example: &str) -> Option<Value> {
        let value = self.get(name);
        if value.is_none() {
            cx.push(
                Diagnostic::error(Code::MissingField, format!("{} needs `{name}`", self.what))
                    .at(self.anchor, format!("`{name}` is missing"))
                    .help(format!("add a line `{example}`")),
            );
        }
        value
    }

    /// Reads the optional nested block `name { ... }` with `read`, reporting its unknown fields.
    pub fn nested(
        &mut self,
        cx: &mut Cx,
        name: &'static str,
        what: &str,
        example: &str,
        read: impl FnOnce(&mut Cx, &mut Fields),
    ) {
        let Some(value) = self.get(name) else {
            return;
        };
        if let Some((_, block)) = cx.object(&value, &format!("`{name}`"), example) {
            let mut inner = cx.fields(&block, value.span, what);
            read(cx, &mut inner);
            inner.finish(cx);
        }
    }

    /// The span of a field's name, when set.
    pub fn span_of(&self, name: &str) -> Option<Span> {
        self.block.get(name).map(|f| f.name.span)
    }

    pub fn anchor(&self) -> Span {
        self.anchor
    }

    /// Reports every field that no reader asked for.
    pub fn finish(self, cx: &mut Cx) {
        for field in &self.block.fields {
            if self.known.contains(&field.name.text.as_str()) {
                continue;
            }
            let mut known = self.known.clone();
            known.sort_unstable();
            known.dedup();
            let list = known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let help = match did_you_mean(&field.name.text, known.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None if known.is_empty() => format!("{} has no fields", self.what),
                None => format!("the fields of {} are {list}", self.what),
            };
            cx.push(
                Diagnostic::error(
                    Code::UnknownField,
                    format!("{} has no field `{}`", self.what, field.name.text),
                )
                .at(field.name.span, "unknown field")
                .help(help),
            );
        }
    }
}
