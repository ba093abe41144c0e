//! Names: variables and declarations in one namespace, `--set` overrides applied to them, and
//! `extends` resolved into plain declarations.

use std::collections::BTreeMap;

use crate::diagnostics::{did_you_mean, Code, Diagnostic, Diagnostics};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{
    self, Block, Declaration, Field, Head, Ident, Kind, Let, Statement, Value, ValueKind,
};
use crate::syntax::{is_name, parse_value};

/// Words with a fixed meaning that cannot name a variable or declaration.
pub const RESERVED: &[&str] = &[
    "dataset",
    "victim",
    "attack",
    "evaluation",
    "user_study",
    "comparison",
    "report",
    "experiment",
    "include",
    "let",
    "extends",
    "step",
    "true",
    "false",
    "none",
    "folder",
    "synthetic",
    "cyclegan",
    "ugatit",
    "srgan",
    "pix2pix",
    "srresnet",
    "external",
];

/// Every name of a program, after overrides and `extends`.
#[derive(Debug, Default)]
pub struct Scope {
    pub lets: BTreeMap<String, Let>,
    pub declarations: BTreeMap<String, Declaration>,
    /// `experiment` declarations: they name the whole run and are never referred to, so their
    /// names do not take part in the shared namespace.
    pub experiments: Vec<Declaration>,
}

impl Scope {
    pub fn kind_of(&self, name: &str) -> Option<Kind> {
        self.declarations.get(name).map(|d| d.kind)
    }

    /// Declaration names of one kind, for "did you mean".
    pub fn names_of(&self, kind: Kind) -> impl Iterator<Item = &str> {
        self.declarations
            .values()
            .filter(move |d| d.kind == kind)
            .map(|d| d.name.text.as_str())
    }
}

/// A `--set KEY=VALUE` from the command line.
#[derive(Debug, Clone)]
pub struct Override {
    pub text: String,
}

/// Collects names, reporting duplicates and reserved words.
pub fn collect(statements: Vec<Statement>, diagnostics: &mut Diagnostics) -> Scope {
    let mut scope = Scope::default();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for statement in statements {
        if let Statement::Declaration(d) = &statement {
            if d.kind == Kind::Experiment {
                if let Statement::Declaration(d) = statement {
                    scope.experiments.push(d);
                }
                continue;
            }
        }
        let (name, what) = match &statement {
            Statement::Let(l) => (l.name.clone(), "variable"),
            Statement::Declaration(d) => (d.name.clone(), d.kind.keyword()),
            Statement::Include(_) => continue,
        };
        if RESERVED.contains(&name.text.as_str()) {
            diagnostics.push(
                Diagnostic::error(
                    Code::ReservedName,
                    format!("`{}` is a reserved word", name.text),
                )
                .at(name.span, "reserved")
                .help(format!(
                    "choose another name for this {what}, for example `my_{}`",
                    name.text
                )),
            );
            continue;
        }
        if let Some(first) = seen.get(&name.text) {
            diagnostics.push(
                Diagnostic::error(Code::DuplicateName, format!("`{}` is defined twice", name.text))
                    .at(name.span, "defined again here")
                    .also(*first, "first defined here")
                    .help("names are shared by all variables and declarations, includes too; rename one of them"),
            );
            continue;
        }
        seen.insert(name.text.clone(), name.span);
        match statement {
            Statement::Let(l) => {
                scope.lets.insert(l.name.text.clone(), l);
            }
            Statement::Declaration(d) => {
                scope.declarations.insert(d.name.text.clone(), d);
            }
            Statement::Include(_) => {}
        }
    }
    scope
}

/// Applies `--set` overrides: `VAR=V` replaces a variable, `NAME.field...=V` a field of one
/// declaration and `KIND.field...=V` that field of every declaration of a kind.
pub fn apply_overrides(
    scope: &mut Scope,
    overrides: &[Override],
    sources: &mut SourceMap,
    diagnostics: &mut Diagnostics,
) {
    for (index, o) in overrides.iter().enumerate() {
        let id = sources.add(format!("--set #{}", index + 1), None, o.text.clone());
        let text = &sources.get(id).text;
        let Some(eq) = text.find('=') else {
            diagnostics.push(
                Diagnostic::error(Code::BadOverride, format!("`--set {}` has no `=`", o.text))
                    .at(Span::new(id, 0, text.len()), "expected KEY=VALUE")
                    .help("write --set name=value, e.g. --set root=\"/data\" or --set steal.fractions=[50%]"),
            );
            continue;
        };
        let key_text = text[..eq].trim_end();
        let mut path = Vec::new();
        let mut offset = 0;
        let mut valid = !key_text.is_empty();
        for segment in key_text.split('.') {
            let start = offset + (segment.len() - segment.trim_start().len());
            let segment = segment.trim();
            valid &= is_name(segment);
            path.push(Ident {
                text: segment.to_string(),
                span: Span::new(id, start, start + segment.len()),
            });
            offset += segment.len() + 1;
        }
        if !valid {
            diagnostics.push(
                Diagnostic::error(
                    Code::BadOverride,
                    format!("`{key_text}` is not a valid key"),
                )
                .at(Span::new(id, 0, eq), "not a name or dotted path")
                .help("a key is a variable name or `declaration.field`, e.g. `steal.fractions`"),
            );
            continue;
        }
        let value = match override_value(id, text, eq + 1) {
            Ok(v) => v,
            Err(errors) => {
                diagnostics.extend(errors);
                continue;
            }
        };
        let value = bare_word_as_string(scope, &path, value);
        apply_one(scope, &path, value, diagnostics);
    }
}

/// `--set data=good` where `data` is a string variable and `good` names nothing: the word is
/// the string (as the docs promise), not a reference to a missing name.
fn bare_word_as_string(scope: &Scope, path: &[Ident], value: Value) -> Value {
    let [key] = path else {
        return value;
    };
    let is_string = |v: &Value| matches!(v.kind, ValueKind::String(_));
    let ValueKind::Reference(words) = &value.kind else {
        return value;
    };
    let [word] = words.as_slice() else {
        return value;
    };
    let names_something =
        scope.lets.contains_key(&word.text) || scope.declarations.contains_key(&word.text);
    match scope.lets.get(&key.text) {
        Some(binding) if is_string(&binding.value) && !names_something => Value {
            kind: ValueKind::String(vec![ast::StringPart::Text(word.text.clone())]),
            span: value.span,
        },
        _ => value,
    }
}

/// Parses the value of an override; a bare word that is no value (a path, say) is a string.
fn override_value(
    id: crate::source::FileId,
    text: &str,
    start: usize,
) -> Result<Value, Diagnostics> {
    let raw = &text[start..];
    let looks_structured = raw
        .trim_start()
        .starts_with(|c: char| "[{(\"$+-".contains(c) || c.is_ascii_digit());
    match parse_value(id, raw) {
        Ok(value) => Ok(shift(value, start)),
        Err(_) if !looks_structured && !raw.trim().is_empty() => Ok(Value {
            kind: ValueKind::String(vec![ast::StringPart::Text(raw.to_string())]),
            span: Span::new(id, start, text.len()),
        }),
        Err(errors) => Err(shift_diagnostics(errors, start)),
    }
}

fn shift_diagnostics(errors: Diagnostics, by: usize) -> Diagnostics {
    let mut shifted = Diagnostics::new();
    for mut d in errors.into_vec() {
        for label in d.primary.iter_mut().chain(d.secondary.iter_mut()) {
            label.span.start += by;
            label.span.end += by;
        }
        shifted.push(d);
    }
    shifted
}

/// Moves every span of a value parsed from a substring to its place in the whole text.
fn shift(mut value: Value, by: usize) -> Value {
    fn span(s: &mut Span, by: usize) {
        s.start += by;
        s.end += by;
    }
    fn ident(i: &mut Ident, by: usize) {
        span(&mut i.span, by);
    }
    fn block(b: &mut Block, by: usize) {
        span(&mut b.span, by);
        for f in &mut b.fields {
            ident(&mut f.name, by);
            span(&mut f.span, by);
            if let Some(c) = &mut f.colon {
                span(c, by);
            }
            walk(&mut f.value, by);
        }
    }
    fn walk(v: &mut Value, by: usize) {
        span(&mut v.span, by);
        match &mut v.kind {
            ValueKind::String(parts) => {
                for p in parts {
                    if let ast::StringPart::Variable(i) = p {
                        ident(i, by);
                    }
                }
            }
            ValueKind::Reference(path) => path.iter_mut().for_each(|i| ident(i, by)),
            ValueKind::List(items) => items.iter_mut().for_each(|i| walk(i, by)),
            ValueKind::Object {
                type_name,
                block: b,
            } => {
                if let Some(t) = type_name {
                    ident(t, by);
                }
                block(b, by);
            }
            ValueKind::Call { name, args } => {
                ident(name, by);
                for a in args {
                    if let Some(n) = &mut a.name {
                        ident(n, by);
                    }
                    walk(&mut a.value, by);
                }
            }
            ValueKind::Range { start, end, step } => {
                walk(start, by);
                walk(end, by);
                if let Some(s) = step {
                    walk(s, by);
                }
            }
            ValueKind::Number { .. } | ValueKind::Money(_) | ValueKind::Bool(_) => {}
        }
    }
    walk(&mut value, by);
    value
}

fn apply_one(scope: &mut Scope, path: &[Ident], value: Value, diagnostics: &mut Diagnostics) {
    let head = &path[0];
    if path.len() == 1 {
        if let Some(l) = scope.lets.get_mut(&head.text) {
            l.value = value;
            return;
        }
        let message = if scope.declarations.contains_key(&head.text)
            || Kind::from_keyword(&head.text).is_some()
        {
            format!("`--set {}` needs a field", head.text)
        } else {
            format!("there is no variable `{}`", head.text)
        };
        let help = if scope.declarations.contains_key(&head.text)
            || Kind::from_keyword(&head.text).is_some()
        {
            format!("name the field to change: --set {}.FIELD=VALUE", head.text)
        } else {
            suggest(&head.text, scope.lets.keys().map(String::as_str))
                .unwrap_or_else(|| "a key is a `let` variable or `declaration.field`".into())
        };
        diagnostics.push(
            Diagnostic::error(Code::BadOverride, message)
                .at(head.span, "unknown key")
                .help(help),
        );
        return;
    }
    if let Some(binding) = scope.lets.get_mut(&head.text) {
        match &mut binding.value.kind {
            ValueKind::Object { block, .. } => set_field(block, &path[1..], value, diagnostics),
            _ => diagnostics.push(
                Diagnostic::error(
                    Code::BadOverride,
                    format!("the variable `{}` is not a block", head.text),
                )
                .at(head.span, "has no fields")
                .also(binding.value.span, "its value")
                .help(format!("set it whole: --set {}=VALUE", head.text)),
            ),
        }
        return;
    }
    let targets: Vec<String> = if let Some(kind) = Kind::from_keyword(&head.text) {
        scope.names_of(kind).map(str::to_string).collect()
    } else if scope.declarations.contains_key(&head.text) {
        vec![head.text.clone()]
    } else {
        let help = suggest(&head.text, scope.declarations.keys().map(String::as_str))
            .unwrap_or_else(|| {
                "the first part of a key names a declaration or a kind (`attack`, `victim`, ...)"
                    .into()
            });
        diagnostics.push(
            Diagnostic::error(
                Code::BadOverride,
                format!("there is no declaration `{}`", head.text),
            )
            .at(head.span, "unknown name")
            .help(help),
        );
        return;
    };
    if head.text == Kind::Experiment.keyword() {
        if scope.experiments.is_empty() {
            diagnostics.push(
                Diagnostic::error(Code::BadOverride, "the file declares no experiment")
                    .at(head.span, "nothing to change")
                    .help("add `experiment NAME { ... }` to the file"),
            );
        }
        for experiment in &mut scope.experiments {
            set_field(&mut experiment.body, &path[1..], value.clone(), diagnostics);
        }
        return;
    }
    if targets.is_empty() {
        diagnostics.push(
            Diagnostic::error(
                Code::BadOverride,
                format!("the experiment declares no {}", head.text),
            )
            .at(head.span, "nothing to change"),
        );
        return;
    }
    for target in targets {
        let declaration = scope.declarations.get_mut(&target).expect("target exists");
        set_field(
            &mut declaration.body,
            &path[1..],
            value.clone(),
            diagnostics,
        );
    }
}

/// Sets `path` inside `block`, creating intermediate blocks as needed. Unknown field names are
/// left for the checker to report, with the span in the `--set` text.
fn set_field(block: &mut Block, path: &[Ident], value: Value, diagnostics: &mut Diagnostics) {
    let name = &path[0];
    let position = block.fields.iter().position(|f| f.name.text == name.text);
    if path.len() == 1 {
        let field = Field {
            name: name.clone(),
            span: name.span.to(value.span),
            value,
            colon: None,
        };
        match position {
            Some(i) => block.fields[i] = field,
            None => block.fields.push(field),
        }
        return;
    }
    let i = match position {
        Some(i) => i,
        None => {
            block.fields.push(Field {
                name: name.clone(),
                value: Value {
                    kind: ValueKind::Object {
                        type_name: None,
                        block: Block {
                            fields: Vec::new(),
                            span: name.span,
                        },
                    },
                    span: name.span,
                },
                colon: None,
                span: name.span,
            });
            block.fields.len() - 1
        }
    };
    match &mut block.fields[i].value.kind {
        ValueKind::Object { block: inner, .. } => set_field(inner, &path[1..], value, diagnostics),
        _ => diagnostics.push(
            Diagnostic::error(Code::BadOverride, format!("`{}` is not a block", name.text))
                .at(name.span, "has no fields")
                .also(block.fields[i].value.span, "its value")
                .help(format!("set `{}` itself instead", name.text)),
        ),
    }
}

fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    did_you_mean(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// Replaces every `extends` by the merged declaration it stands for.
pub fn resolve_extends(scope: &mut Scope, diagnostics: &mut Diagnostics) {
    let names: Vec<String> = scope.declarations.keys().cloned().collect();
    let mut resolved: BTreeMap<String, Declaration> = BTreeMap::new();
    for name in &names {
        let mut chain = Vec::new();
        if let Some(d) = resolve_one(scope, name, &mut chain, &mut resolved, diagnostics) {
            resolved.insert(name.clone(), d);
        }
    }
    scope.declarations = resolved;
}

/// The longest chain of `extends` that is followed (recursion, so it is bounded).
const MAX_EXTENDS: usize = 256;

fn resolve_one(
    scope: &Scope,
    name: &str,
    chain: &mut Vec<String>,
    done: &mut BTreeMap<String, Declaration>,
    diagnostics: &mut Diagnostics,
) -> Option<Declaration> {
    if let Some(d) = done.get(name) {
        return Some(d.clone());
    }
    let declaration = scope.declarations.get(name)?;
    let Head::Extends(parent) = &declaration.head else {
        return Some(declaration.clone());
    };
    if chain.iter().any(|n| n == name) {
        chain.push(name.to_string());
        diagnostics.push(
            Diagnostic::error(Code::ExtendsCycle, format!("`{name}` extends itself"))
                .at(parent.span, "this `extends` closes a cycle")
                .help(format!(
                    "the chain is {}; one of them must stand on its own",
                    chain.join(" -> ")
                )),
        );
        return None;
    }
    let Some(parent_declaration) = scope.declarations.get(&parent.text) else {
        let candidates = scope.names_of(declaration.kind);
        let help = suggest(&parent.text, candidates).unwrap_or_else(|| {
            format!(
                "`extends` names another {} of this experiment",
                declaration.kind.keyword()
            )
        });
        diagnostics.push(
            Diagnostic::error(
                Code::UnknownName,
                format!(
                    "there is no {} `{}`",
                    declaration.kind.keyword(),
                    parent.text
                ),
            )
            .at(parent.span, "unknown name")
            .help(help),
        );
        return None;
    };
    if parent_declaration.kind != declaration.kind {
        diagnostics.push(
            Diagnostic::error(
                Code::WrongKind,
                format!(
                    "{} `{name}` cannot extend {} `{}`",
                    declaration.kind.with_article(),
                    parent_declaration.kind.with_article(),
                    parent.text
                ),
            )
            .at(
                parent.span,
                format!("this is {}", parent_declaration.kind.with_article()),
            )
            .also(parent_declaration.name.span, "declared here")
            .help(format!("extend another {}", declaration.kind.keyword())),
        );
        return None;
    }
    if chain.len() >= MAX_EXTENDS {
        diagnostics.push(
            Diagnostic::error(
                Code::TooDeep,
                format!("`{name}` is more than {MAX_EXTENDS} `extends` away from a declaration that stands on its own"),
            )
            .at(parent.span, "one `extends` too many")
            .help("let a declaration of the chain stand on its own, without `extends`"),
        );
        return None;
    }
    chain.push(name.to_string());
    let base = resolve_one(scope, &parent.text, chain, done, diagnostics)?;
    chain.pop();
    let mut merged = declaration.clone();
    merged.head = base.head.clone();
    merged.body = merge_blocks(&base.body, &declaration.body);
    done.insert(name.to_string(), merged.clone());
    Some(merged)
}

/// Child fields replace parent fields; nested blocks of the same type merge field by field.
fn merge_blocks(parent: &Block, child: &Block) -> Block {
    let mut fields = parent.fields.clone();
    for field in &child.fields {
        match fields.iter_mut().find(|f| f.name.text == field.name.text) {
            Some(existing) => {
                let merged = match (&existing.value.kind, &field.value.kind) {
                    (
                        ValueKind::Object {
                            type_name: parent_type,
                            block: parent_block,
                        },
                        ValueKind::Object {
                            type_name: child_type,
                            block: child_block,
                        },
                    ) if child_type.is_none()
                        || child_type.as_ref().map(|t| &t.text)
                            == parent_type.as_ref().map(|t| &t.text) =>
                    {
                        Some(Value {
                            kind: ValueKind::Object {
                                type_name: parent_type.clone(),
                                block: merge_blocks(parent_block, child_block),
                            },
                            span: field.value.span,
                        })
                    }
                    _ => None,
                };
                *existing = Field {
                    value: merged.unwrap_or_else(|| field.value.clone()),
                    ..field.clone()
                };
            }
            None => fields.push(field.clone()),
        }
    }
    Block {
        fields,
        span: child.span,
    }
}
