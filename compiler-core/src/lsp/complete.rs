//! Completion: struct fields (or enum values) after `.` and `->`, otherwise the names in
//! scope, the keywords, the primitive types and the builtins.

use serde_json::{json, Value};

use super::analysis::{show, Analysis};
use crate::hir::ty::Ty;
use crate::hir::Program;

const KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "var", "const", "let", "extern", "import", "cimport", "shard", "shared", "if", "else", "while",
    "for", "return", "break", "continue", "defer", "match", "case", "as", "map", "true", "false", "nil",
];
const TYPES: &[&str] = &["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "bool", "void", "Mutex"];
const BUILTINS: &[&str] = &[
    "make", "delete", "len", "sizeof", "panic", "each", "print", "println", "atomic_load", "atomic_store", "atomic_add", "atomic_sub",
    "atomic_swap", "atomic_cas", "lock", "try_lock", "unlock", "wait_on", "wake", "fleet_self", "fleet_size",
    "fleet_first", "fleet_generation", "spawn", "wait_child", "spawn_linked", "wait_any_child", "fleet_wait_exit",
    "chan_send", "chan_recv", "chan_close", "chan_len", "chan_select", "table_put", "table_get", "table_del",
    "table_len", "table_clear", "table_each",
];

// CompletionItemKind values of the protocol.
const FIELD: u32 = 5;
const VARIABLE: u32 = 6;
const FUNCTION: u32 = 3;
const STRUCT: u32 = 22;
const ENUM: u32 = 13;
const ENUM_MEMBER: u32 = 20;
const KEYWORD: u32 = 14;

fn item(label: &str, kind: u32, detail: String) -> Value {
    json!({ "label": label, "kind": kind, "detail": detail })
}

/// The completions at byte `offset` of `text`; `a` is the latest analysis with a program.
pub fn complete(text: &str, offset: usize, a: &Analysis) -> Vec<Value> {
    let Some(p) = &a.prog else { return vec![] };
    let before = &text[..offset.min(text.len())];
    let typed = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if let Some(chain) = typed.strip_suffix('.').or_else(|| typed.strip_suffix("->")) {
        return members(chain, offset as u32, p);
    }
    let mut out: Vec<Value> = vec![];
    let here = p.funcs.iter().filter(|f| f.span.file == 0 && f.span.lo as usize <= offset && offset <= f.span.hi as usize);
    for f in here {
        for l in f.locals.iter().filter(|l| (l.span.lo as usize) < offset) {
            out.push(item(&l.name, VARIABLE, show(p, &l.ty)));
        }
    }
    for f in p.funcs.iter().filter(|f| !f.name.contains('#')) {
        out.push(item(&f.name, FUNCTION, show(p, &f.fn_ty())));
    }
    for g in &p.globals {
        out.push(item(&g.name, VARIABLE, show(p, &g.ty)));
    }
    for s in &p.structs {
        out.push(item(&s.name, STRUCT, "struct".into()));
    }
    for e in &p.enums {
        out.push(item(&e.name, ENUM, "enum".into()));
    }
    out.extend(BUILTINS.iter().map(|b| item(b, FUNCTION, "builtin".into())));
    out.extend(KEYWORDS.iter().chain(TYPES).map(|k| item(k, KEYWORD, "keyword".into())));
    out
}

/// The fields of what `chain` (the text before `.` or `->`) names: `p`, `a.b->c`, `xs[i].d`.
fn members(chain: &str, offset: u32, p: &Program) -> Vec<Value> {
    let steps = parse_chain(chain);
    let Some((first, rest)) = steps.split_first() else { return vec![] };
    if rest.is_empty() {
        if let Some(e) = p.enums.iter().find(|e| &e.name == first) {
            return e.variants.iter().map(|(v, n)| item(v, ENUM_MEMBER, format!("{} = {n}", e.name))).collect();
        }
    }
    let Some(mut ty) = variable(first, offset, p) else { return vec![] };
    for step in rest {
        ty = deref(ty);
        ty = if step == "[]" {
            match ty {
                Ty::Array(_, t) | Ty::Slice(t) => *t,
                _ => return vec![],
            }
        } else {
            match field(p, &ty, step) {
                Some(t) => t,
                None => return vec![],
            }
        };
    }
    match deref(ty) {
        Ty::Struct(id) => p.structs[id as usize]
            .fields
            .iter()
            .flatten()
            .map(|(n, t)| item(n, FIELD, show(p, t)))
            .collect(),
        _ => vec![],
    }
}

fn deref(ty: Ty) -> Ty {
    match ty {
        Ty::Ptr(t) => *t,
        t => t,
    }
}

fn field(p: &Program, ty: &Ty, name: &str) -> Option<Ty> {
    match ty {
        Ty::Struct(id) => p.structs[*id as usize].fields.as_ref()?.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone()),
        _ => None,
    }
}

/// The type of the variable `name` seen at `offset`: a local of the function there (or of
/// any function, when the edit moved things), else a global.
fn variable(name: &str, offset: u32, p: &Program) -> Option<Ty> {
    let local = |f: &crate::hir::Function| f.locals.iter().rev().find(|l| l.name == name).map(|l| l.ty.clone());
    let inside = |f: &&crate::hir::Function| f.span.file == 0 && f.span.lo <= offset && offset <= f.span.hi;
    p.funcs
        .iter()
        .filter(inside)
        .find_map(local)
        .or_else(|| p.funcs.iter().find_map(local))
        .or_else(|| p.globals.iter().find(|g| g.name == name).map(|g| g.ty.clone()))
}

/// `a.b->c[i]` as steps `a`, `b`, `c`, `[]`, read backwards from the end of `chain`.
fn parse_chain(chain: &str) -> Vec<String> {
    let b = chain.as_bytes();
    let mut i = b.len();
    let mut steps = vec![];
    loop {
        while i > 0 && b[i - 1] == b']' {
            // Skip a balanced index.
            let mut depth = 0;
            while i > 0 {
                i -= 1;
                match b[i] {
                    b']' => depth += 1,
                    b'[' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
            steps.push("[]".to_string());
        }
        let end = i;
        while i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
            i -= 1;
        }
        if i == end {
            return vec![];
        }
        steps.push(chain[i..end].to_string());
        if i > 0 && b[i - 1] == b'.' {
            i -= 1;
        } else if i > 1 && &b[i - 2..i] == b"->" {
            i -= 2;
        } else {
            break;
        }
    }
    steps.reverse();
    steps
}
