//! The pest parser (`grammar/heist.pest`) and the lowering of its parse tree into the AST.

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/heist.pest"]
struct Grammar;

/// Deeper nesting than this is refused before parsing, so that no input can exhaust the stack.
pub const MAX_NESTING: usize = 32;

/// Numbers beyond this magnitude are refused: integers stay exact in an f64.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Parses one file's text into its AST, or reports every syntax problem found.
pub fn parse(file: FileId, text: &str) -> Result<File, Diagnostics> {
    check_nesting(file, text)?;
    let pairs = Grammar::parse(Rule::file, text).map_err(|e| {
        let mut diagnostics = Diagnostics::new();
        diagnostics.push(syntax_error(file, text, &e, "the end of the file"));
        diagnostics
    })?;
    let mut lowering = Lowering {
        file,
        diagnostics: Diagnostics::new(),
    };
    let mut statements = Vec::new();
    for pair in pairs.flatten().filter(|p| p.as_rule() == Rule::file) {
        for statement in pair.into_inner() {
            if let Some(s) = lowering.statement(statement) {
                statements.push(s);
            }
        }
    }
    if lowering.diagnostics.has_errors() {
        return Err(lowering.diagnostics);
    }
    Ok(File { statements })
}

/// Parses a single value (the right-hand side of `--set key=value`).
pub fn parse_value(file: FileId, text: &str) -> Result<Value, Diagnostics> {
    check_nesting(file, text)?;
    let mut pairs = Grammar::parse(Rule::value, text).map_err(|e| {
        let mut diagnostics = Diagnostics::new();
        diagnostics.push(syntax_error(file, text, &e, "the end of the value"));
        diagnostics
    })?;
    let pair = pairs.next().expect("a value rule yields one pair");
    let end = pair.as_span().end();
    let mut lowering = Lowering {
        file,
        diagnostics: Diagnostics::new(),
    };
    if !text[end..].trim().is_empty() {
        lowering.diagnostics.push(
            Diagnostic::error(Code::Syntax, "unexpected text after the value")
                .at(Span::new(file, end, text.len()), "not part of the value")
                .help("quote the value if it is a string: --set key='\"text\"'"),
        );
        return Err(lowering.diagnostics);
    }
    let value = lowering.value(pair);
    if lowering.diagnostics.has_errors() {
        return Err(lowering.diagnostics);
    }
    Ok(value)
}

/// Refuses brackets nested deeper than [`MAX_NESTING`], outside strings and comments.
fn check_nesting(file: FileId, text: &str) -> Result<(), Diagnostics> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    for (offset, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
            continue;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') | (false, '\n') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '#' => in_comment = true,
            '"' => in_string = true,
            '{' | '[' | '(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    let mut diagnostics = Diagnostics::new();
                    diagnostics.push(
                        Diagnostic::error(
                            Code::TooDeep,
                            format!("brackets are nested more than {MAX_NESTING} levels deep"),
                        )
                        .at(Span::new(file, offset, offset + 1), "too deep")
                        .help("an experiment never needs this much nesting; close the brackets above or split the value into `let` variables"),
                    );
                    return Err(diagnostics);
                }
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Turns pest's error into a diagnostic that says what was expected in words.
fn syntax_error(
    file: FileId,
    text: &str,
    error: &pest::error::Error<Rule>,
    end: &str,
) -> Diagnostic {
    let offset = match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
    .min(text.len());
    let found = found_token(text, offset, end);
    let mut expected: Vec<&str> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            let words = describe_rule(*rule);
            if !expected.contains(&words) {
                expected.push(words);
            }
        }
    }
    // Inside a block the next thing is a field (which starts with a name) or the closing brace.
    if expected.contains(&"`}`") {
        for e in expected.iter_mut() {
            if *e == "a name" {
                *e = "a field (`name = value`)";
            }
        }
        expected.dedup();
    }
    let message = match expected.as_slice() {
        [] => format!("unexpected {found}"),
        [one] => format!("expected {one}, found {found}"),
        many => {
            let (last, rest) = many.split_last().expect("many has items");
            format!("expected {} or {last}, found {found}", rest.join(", "))
        }
    };
    let end = offset + found_len(text, offset);
    let mut diagnostic =
        Diagnostic::error(Code::Syntax, message).at(Span::new(file, offset, end), "here");
    if let Some(help) = syntax_help(text, offset, &expected) {
        diagnostic = diagnostic.help(help);
    }
    if offset >= text.trim_end().len() {
        if let Some(open) = unclosed_bracket(text) {
            diagnostic = diagnostic.also(
                Span::new(file, open, open + 1),
                "opened here and never closed",
            );
        }
    }
    diagnostic
}

fn describe_rule(rule: Rule) -> &'static str {
    match rule {
        Rule::file | Rule::include | Rule::let_binding | Rule::declaration | Rule::kind => {
            "a declaration (`dataset`, `victim`, `attack`, `evaluation`, `user_study`, `comparison`, `report`, `experiment`), `let` or `include`"
        }
        Rule::EOI => "the end of the file",
        Rule::name | Rule::reference => "a name",
        Rule::block => "`{`",
        Rule::block_end => "`}`",
        Rule::field => "a field (`name = value`)",
        Rule::extends_clause | Rule::type_clause => "`= TYPE` or `extends NAME`",
        Rule::value | Rule::argument => "a value",
        Rule::list_end => "`]`",
        Rule::call_end => "`)`",
        Rule::string_end => "a closing `\"` on the same line",
        Rule::number | Rule::quantity | Rule::money => "a number",
        Rule::unit => "a unit",
        Rule::string | Rule::string_inner => "a string",
        Rule::assign | Rule::stray_colon => "`=`",
        _ => "something else",
    }
}

fn found_len(text: &str, offset: usize) -> usize {
    let rest = &text[offset..];
    let word: usize = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    if word > 0 {
        word
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    }
}

fn found_token(text: &str, offset: usize, end: &str) -> String {
    let len = found_len(text, offset);
    if len == 0 {
        return end.to_string();
    }
    let token = &text[offset..offset + len];
    match token.chars().next() {
        Some('\n') | Some('\r') => "the end of the line".into(),
        Some(c) if c.is_control() => format!("the control character U+{:04X}", c as u32),
        _ => format!("`{token}`"),
    }
}

/// Extra advice for the mistakes people make most.
fn syntax_help(text: &str, offset: usize, expected: &[&str]) -> Option<String> {
    let before = text[..offset].trim_end();
    let previous_word = before
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    let next = text[offset..].chars().next();
    if expected.contains(&"`=`") && Kind::from_keyword(previous_word).is_some() {
        return Some(format!(
            "`{previous_word}` starts a new declaration: the block before it is missing its closing `}}`"
        ));
    }
    if next == Some(':') {
        return Some("fields are written `name = value`".into());
    }
    if expected.contains(&"a closing `\"` on the same line") {
        return Some("strings cannot span lines; close the string with `\"`".into());
    }
    if next.is_none() && expected.contains(&"`}`") {
        return Some("a `{` is not closed: add `}` at the end of its block".into());
    }
    if expected.iter().any(|e| e.starts_with("a declaration")) {
        let word: String = text[offset..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let keywords = Kind::ALL
            .map(Kind::keyword)
            .into_iter()
            .chain(["let", "include"]);
        if let Some(keyword) = crate::diagnostics::did_you_mean(&word, keywords) {
            return Some(format!("did you mean `{keyword}`?"));
        }
        if next.is_some_and(char::is_alphabetic) {
            return Some(
                "a file holds declarations such as `victim NAME = cyclegan { ... }`; fields go inside a declaration's `{ }`".into(),
            );
        }
    }
    None
}

/// The offset of the innermost bracket left open at the end of `text` (outside strings and
/// comments), to point at when the file ends too early.
fn unclosed_bracket(text: &str) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let (mut in_string, mut in_comment, mut escaped) = (false, false, false);
    for (offset, c) in text.char_indices() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') | (false, '\n') => in_string = false,
                _ => {}
            }
        } else {
            match c {
                '#' => in_comment = true,
                '"' => in_string = true,
                '{' | '[' | '(' => open.push(offset),
                '}' | ']' | ')' => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    open.pop()
}

struct Lowering {
    file: FileId,
    diagnostics: Diagnostics,
}

impl Lowering {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident {
            span: self.span(&pair),
            text: pair.as_str().to_string(),
        }
    }

    fn statement(&mut self, pair: Pair<Rule>) -> Option<Statement> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::include => {
                let string = pair.into_inner().next()?;
                let string_span = self.span(&string);
                let parts = self.string(string);
                let mut path = String::new();
                for part in parts {
                    match part {
                        StringPart::Text(t) => path.push_str(&t),
                        StringPart::Variable(v) => {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    Code::WrongType,
                                    "an include path cannot use variables",
                                )
                                .at(v.span, "variable here")
                                .help("write the path literally, relative to this file"),
                            );
                        }
                    }
                }
                let _ = string_span;
                Some(Statement::Include(Include { path, span }))
            }
            Rule::let_binding => {
                let mut inner = pair.into_inner();
                let name = self.ident(inner.next()?);
                let value = self.value(inner.next()?);
                Some(Statement::Let(Let { name, value, span }))
            }
            Rule::declaration => Some(Statement::Declaration(self.declaration(pair))),
            _ => None,
        }
    }

    fn declaration(&mut self, pair: Pair<Rule>) -> Declaration {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let kind_pair = inner.next().expect("grammar: kind");
        let kind_span = self.span(&kind_pair);
        let kind = Kind::from_keyword(kind_pair.as_str()).expect("grammar: known kind");
        let name = self.ident(inner.next().expect("grammar: name"));
        let mut head = Head::Plain;
        let mut body = None;
        for part in inner {
            match part.as_rule() {
                Rule::extends_clause => {
                    head =
                        Head::Extends(self.ident(part.into_inner().next().expect("grammar: name")))
                }
                Rule::type_clause => {
                    head = Head::Typed(self.ident(part.into_inner().next().expect("grammar: name")))
                }
                Rule::block => body = Some(self.block(part)),
                _ => {}
            }
        }
        Declaration {
            kind,
            kind_span,
            name,
            head,
            body: body.expect("grammar: block"),
            span,
        }
    }

    fn block(&mut self, pair: Pair<Rule>) -> Block {
        let span = self.span(&pair);
        let fields = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::field)
            .map(|p| self.field(p))
            .collect();
        Block { fields, span }
    }

    fn field(&mut self, pair: Pair<Rule>) -> Field {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: field name"));
        let next = inner.next().expect("grammar: field body");
        let mut colon = None;
        let value = if next.as_rule() == Rule::block {
            let block = self.block(next);
            Value {
                span: block.span,
                kind: ValueKind::Object {
                    type_name: None,
                    block,
                },
            }
        } else {
            if next.as_str() == ":" {
                colon = Some(self.span(&next));
            }
            self.value(inner.next().expect("grammar: field value"))
        };
        Field {
            name,
            value,
            colon,
            span,
        }
    }

    fn value(&mut self, pair: Pair<Rule>) -> Value {
        let span = self.span(&pair);
        let inner = if pair.as_rule() == Rule::value {
            pair.into_inner()
                .next()
                .expect("grammar: value alternative")
        } else {
            pair
        };
        let kind = match inner.as_rule() {
            Rule::list => ValueKind::List(
                inner
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::value)
                    .map(|p| self.value(p))
                    .collect(),
            ),
            Rule::typed_block => {
                let mut parts = inner.into_inner();
                let type_name = self.ident(parts.next().expect("grammar: type name"));
                let block = self.block(parts.next().expect("grammar: block"));
                ValueKind::Object {
                    type_name: Some(type_name),
                    block,
                }
            }
            Rule::block => ValueKind::Object {
                type_name: None,
                block: self.block(inner),
            },
            Rule::call => {
                let mut parts = inner.into_inner();
                let name = self.ident(parts.next().expect("grammar: call name"));
                let args = parts
                    .filter(|p| p.as_rule() == Rule::argument)
                    .map(|p| self.argument(p))
                    .collect();
                ValueKind::Call { name, args }
            }
            Rule::range => {
                let mut parts = inner.into_inner().map(|p| Box::new(self.value(p)));
                let start = parts.next().expect("grammar: range start");
                let end = parts.next().expect("grammar: range end");
                ValueKind::Range {
                    start,
                    end,
                    step: parts.next(),
                }
            }
            Rule::money => {
                let number = inner.into_inner().next().expect("grammar: money number");
                let (value, _) = self.number(&number);
                ValueKind::Money(value)
            }
            Rule::quantity => return self.quantity(inner),
            Rule::string => ValueKind::String(self.string(inner)),
            Rule::boolean => ValueKind::Bool(inner.as_str() == "true"),
            Rule::reference => {
                ValueKind::Reference(inner.into_inner().map(|p| self.ident(p)).collect())
            }
            other => unreachable!("grammar: unexpected value rule {other:?}"),
        };
        Value { kind, span }
    }

    fn argument(&mut self, pair: Pair<Rule>) -> Argument {
        let mut name = None;
        let mut value = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::name => name = Some(self.ident(part)),
                _ => value = Some(self.value(part)),
            }
        }
        Argument {
            name,
            value: value.expect("grammar: argument value"),
        }
    }

    fn quantity(&mut self, pair: Pair<Rule>) -> Value {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let number = parts.next().expect("grammar: number");
        let (value, integer) = self.number(&number);
        let unit = parts.next().map(|u| match u.as_str() {
            "%" => Unit::Percent,
            "px" => Unit::Pixels,
            "deg" => Unit::Degrees,
            "x" => Unit::Times,
            "s" => Unit::Seconds,
            _ => Unit::Milliseconds,
        });
        Value {
            kind: ValueKind::Number {
                value,
                unit,
                integer,
            },
            span,
        }
    }

    fn number(&mut self, pair: &Pair<Rule>) -> (f64, bool) {
        let text = pair.as_str();
        let integer = !text.contains(['.', 'e', 'E']);
        let value: f64 = text.parse().unwrap_or(f64::INFINITY);
        let too_large = !value.is_finite() || (integer && value.abs() > MAX_EXACT_INTEGER);
        if too_large {
            self.diagnostics.push(
                Diagnostic::error(Code::OutOfRange, format!("the number `{text}` is too large"))
                    .at(self.span(pair), "too large")
                    .help(format!(
                        "numbers in an experiment are at most {MAX_EXACT_INTEGER} (integers) or about 1e308"
                    )),
            );
            return (0.0, integer);
        }
        (value, integer)
    }

    /// Decodes escapes and splits out `${variable}` references.
    fn string(&mut self, pair: Pair<Rule>) -> Vec<StringPart> {
        let inner = pair
            .into_inner()
            .find(|p| p.as_rule() == Rule::string_inner)
            .expect("grammar: string body");
        let base = inner.as_span().start();
        let raw = inner.as_str();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    let (j, e) = chars.next().unwrap_or((i, '\\'));
                    match e {
                        '"' => text.push('"'),
                        '\\' => text.push('\\'),
                        'n' => text.push('\n'),
                        't' => text.push('\t'),
                        '$' => text.push('$'),
                        other => self.diagnostics.push(
                            Diagnostic::error(
                                Code::Syntax,
                                format!("unknown escape `\\{other}` in a string"),
                            )
                            .at(
                                Span::new(self.file, base + i, base + j + other.len_utf8()),
                                "unknown escape",
                            )
                            .help(
                                r#"the escapes are \" \\ \n \t and \$; write \\ for a backslash"#,
                            ),
                        ),
                    }
                }
                '$' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    let start = i + 2;
                    let close = raw[start..].find('}').map(|k| start + k);
                    match close {
                        Some(end) if is_name(&raw[start..end]) => {
                            if !text.is_empty() {
                                parts.push(StringPart::Text(std::mem::take(&mut text)));
                            }
                            parts.push(StringPart::Variable(Ident {
                                text: raw[start..end].to_string(),
                                span: Span::new(self.file, base + start, base + end),
                            }));
                            while chars.peek().is_some_and(|(k, _)| *k <= end) {
                                chars.next();
                            }
                        }
                        _ => {
                            let end = close.map_or(raw.len(), |e| e + 1);
                            self.diagnostics.push(
                                Diagnostic::error(Code::Syntax, "malformed `${...}` in a string")
                                    .at(Span::new(self.file, base + i, base + end), "expected `${name}`")
                                    .help(r"write `${variable}` with a variable name, or `\$` for a literal dollar sign"),
                            );
                            break;
                        }
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(StringPart::Text(text));
        }
        parts
    }
}

/// Whether `text` is a valid name (letters, digits, `_`, not starting with a digit).
pub fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> ValueKind {
        parse_value(FileId(0), text).expect("parses").kind
    }

    #[test]
    fn numbers_carry_their_units() {
        assert!(matches!(
            value("64px"),
            ValueKind::Number {
                value: 64.0,
                unit: Some(Unit::Pixels),
                integer: true
            }
        ));
        assert!(matches!(
            value("2e-4"),
            ValueKind::Number {
                integer: false,
                unit: None,
                ..
            }
        ));
        assert!(matches!(
            value("+20%"),
            ValueKind::Number {
                value: 20.0,
                unit: Some(Unit::Percent),
                ..
            }
        ));
        assert!(matches!(
            value("250ms"),
            ValueKind::Number {
                unit: Some(Unit::Milliseconds),
                ..
            }
        ));
        assert!(matches!(value("$0.016"), ValueKind::Money(m) if m == 0.016));
    }

    #[test]
    fn a_unit_must_touch_its_number() {
        assert!(parse_value(FileId(0), "64 px").is_err());
        assert!(parse_value(FileId(0), "4xl").is_err());
    }

    #[test]
    fn strings_decode_escapes_and_split_out_variables() {
        let ValueKind::String(parts) = value(r#""${root}/a\"b\\c""#) else {
            panic!("a string")
        };
        assert!(matches!(&parts[0], StringPart::Variable(v) if v.text == "root"));
        assert!(matches!(&parts[1], StringPart::Text(t) if t == "/a\"b\\c"));
    }

    #[test]
    fn ranges_take_an_optional_step() {
        assert!(matches!(value("1..5"), ValueKind::Range { step: None, .. }));
        assert!(matches!(
            value("25%..100% step 25%"),
            ValueKind::Range { step: Some(_), .. }
        ));
    }

    #[test]
    fn nesting_is_bounded_before_parsing() {
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING + 1),
            "]".repeat(MAX_NESTING + 1)
        );
        let errors = parse_value(FileId(0), &deep).expect_err("too deep");
        assert_eq!(errors.iter().next().map(|d| d.code), Some(Code::TooDeep));
        let fine = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(parse_value(FileId(0), &fine).is_ok());
    }
}
