//! Name resolution and type checking: AST modules -> HIR `Program`.
//!
//! Runs in passes over all modules of the import closure: declare type names, resolve
//! struct fields and enum values, declare functions and globals, then check bodies. Every
//! error is a diagnostic; an erroneous expression gets `Ty::Error` so it does not cascade.

mod calls;
mod consts;
mod expr;
mod items;
mod print;
mod stmt;
mod suggest;
mod types;

/// The checker's maps, keyed by names and small ids: FxHash (rustc's), several times
/// cheaper than SipHash on short keys (no map here is iterated into output).
type HashMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
type HashSet<T> = std::collections::HashSet<T, std::hash::BuildHasherDefault<FxHasher>>;

#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(n as u64);
    }
    fn write_u32(&mut self, n: u32) {
        self.add(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

use super::ty::*;
use super::*;
use crate::diag::{Diagnostic, Span};
use crate::syntax::ast;

pub use consts::{fold_const, wrap_int};

/// What a module-level name stands for.
#[derive(Clone, Copy, Debug)]
enum Item {
    Struct(StructId),
    Enum(EnumId),
    Func(FuncId),
    Global(GlobalId),
}

/// Per-function state while checking a body.
#[derive(Default)]
struct FnCtx {
    locals: Vec<Local>,
    scopes: Vec<HashMap<String, LocalId>>,
    /// Locals declared `const`: assignment to them is an error.
    consts: Vec<LocalId>,
    ret: Ty,
    loop_depth: u32,
    /// Nested inside a `defer`: `return`/`break`/`continue` may not leave it.
    defer_depth: u32,
    truk_variadic: bool,
    /// Locals named by some expression: the others are reported unused.
    used: HashSet<LocalId>,
}

pub struct Checker<'a> {
    modules: &'a [ast::Module],
    pub(super) prog: Program,
    diags: Vec<Diagnostic>,
    /// Public names, visible from every file.
    names: HashMap<String, Item>,
    /// Private (`_`-prefixed) names, per privacy domain: the file, or its shard.
    private: HashMap<(u32, String), Item>,
    /// Privacy domain of each file id.
    domain_of: HashMap<u32, u32>,
    /// The file whose code is being checked.
    cur_file: u32,
    fcx: FnCtx,
    lambda_count: u32,
    /// AST of each non-extern function, by FuncId, for the body pass.
    bodies: Vec<(FuncId, &'a ast::FnDecl, u32)>,
    /// Channel element types to check once every struct is known (`chan.rs`).
    pub(super) chan_elems: Vec<(Ty, Span)>,
    /// Table keys and values to check once every struct is known (`table.rs`).
    pub(super) table_elems: Vec<(Ty, Span, Ty, Span)>,
    /// The predeclared `Ordering` of the atomics (`fleet.rs`), unless the program has its own.
    pub(super) ordering_enum: Option<EnumId>,
    /// Inside an explicit cast, where an integer literal may wrap.
    wrapping_literals: u32,
}

pub fn check(modules: &[ast::Module]) -> (Program, Vec<Diagnostic>) {
    let mut c = Checker {
        modules,
        prog: Program::default(),
        diags: vec![],
        names: HashMap::default(),
        private: HashMap::default(),
        domain_of: HashMap::default(),
        cur_file: 0,
        fcx: FnCtx::default(),
        lambda_count: 0,
        bodies: vec![],
        chan_elems: vec![],
        table_elems: vec![],
        ordering_enum: None,
        wrapping_literals: 0,
    };
    c.run();
    // Warnings wait until the errors are fixed: they would only add noise to them.
    if c.diags.iter().any(|d| d.severity == crate::diag::Severity::Error) {
        c.diags.retain(|d| d.severity == crate::diag::Severity::Error);
    }
    (c.prog, c.diags)
}

fn is_private(name: &str) -> bool {
    name.starts_with('_') && !name.starts_with("__")
}

impl<'a> Checker<'a> {
    pub(super) fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    pub(super) fn warn(&mut self, d: Diagnostic) {
        self.diags.push(Diagnostic { severity: crate::diag::Severity::Warning, ..d });
    }

    pub(super) fn show(&self, ty: &Ty) -> String {
        let sn = |id: StructId| self.prog.structs[id as usize].name.clone();
        let en = |id: EnumId| self.prog.enums[id as usize].name.clone();
        TyDisplay { ty, struct_names: &sn, enum_names: &en }.to_string()
    }

    fn run(&mut self) {
        // Privacy domains: files that name the same shard share their private names.
        let mut shards: HashMap<&str, u32> = HashMap::default();
        for m in self.modules {
            let mut domain = m.file;
            for item in &m.items {
                if let ast::Item::Shard { name, .. } = item {
                    domain = *shards.entry(name.as_str()).or_insert(m.file);
                }
            }
            self.domain_of.insert(m.file, domain);
            // A shard is a library split over files; the program's entry is not part of one.
            let shard = m.items.iter().find_map(|i| if let ast::Item::Shard { span, .. } = i { Some(*span) } else { None });
            let has_main = m.items.iter().any(|i| matches!(i, ast::Item::Fn(f) if f.name.name == "main"));
            if let (Some(span), true) = (shard, has_main) {
                self.err(span, "a file that defines `main` cannot belong to a shard");
            }
        }
        self.declare_types();
        self.predeclare_ordering();
        self.resolve_types();
        self.declare_values();
        let bodies = std::mem::take(&mut self.bodies);
        for (id, decl, file) in bodies {
            self.cur_file = file;
            self.check_body(id, decl);
        }
        self.check_chan_elements();
        self.check_table_elements();
        self.find_entry_points();
    }

    // ---- names ---------------------------------------------------------------------------

    fn define(&mut self, name: &ast::Ident, item: Item) {
        let key = name.name.clone();
        let prev = if is_private(&key) {
            let d = self.domain_of[&self.cur_file];
            self.private.insert((d, key.clone()), item)
        } else {
            self.names.insert(key.clone(), item)
        };
        if prev.is_some() {
            self.err(name.span, format!("`{key}` is defined more than once"));
        }
    }

    /// Whether the program defines `name` anywhere (a predeclared name then stays out).
    pub(super) fn has_item(&self, name: &str) -> bool {
        self.modules.iter().flat_map(|m| &m.items).any(|i| match i {
            ast::Item::Fn(f) | ast::Item::ExternFn(f) => f.name.name == name,
            ast::Item::Struct(s) | ast::Item::ExternStruct(s) => s.name.name == name,
            ast::Item::Enum(e) | ast::Item::ExternEnum(e) => e.name.name == name,
            ast::Item::Global(v) | ast::Item::ExternVar(v) => v.name.name == name,
            _ => false,
        })
    }

    pub(super) fn predefine(&mut self, name: &str, id: EnumId) {
        self.names.insert(name.to_string(), Item::Enum(id));
    }

    fn lookup(&self, name: &str) -> Option<Item> {
        if is_private(name) {
            let d = self.domain_of.get(&self.cur_file).copied().unwrap_or(self.cur_file);
            self.private.get(&(d, name.to_string())).copied()
        } else {
            self.names.get(name).copied()
        }
    }

    /// A private name used from a file that cannot see it: a clearer error than "undefined".
    fn private_elsewhere(&self, name: &str) -> bool {
        is_private(name) && self.private.keys().any(|(_, n)| n == name)
    }

    fn undefined(&mut self, span: Span, name: &str) {
        if self.private_elsewhere(name) {
            self.err(span, format!("`{name}` is private to the file (or shard) that defines it"));
        } else {
            let names = self.value_names();
            self.err_suggest(span, format!("Undefined identifier: {name}"), name, names.iter().map(String::as_str));
        }
    }
}

pub fn is_place(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Local(_) | ExprKind::Global(_) | ExprKind::Deref(_) => true,
        ExprKind::Field(b, _) => is_place(b),
        ExprKind::Index(b, _) => matches!(b.ty, Ty::Slice(_) | Ty::Ptr(_)) || is_place(b),
        _ => false,
    }
}

pub(super) fn err_expr(span: Span) -> Expr {
    Expr { kind: ExprKind::Int(0), ty: Ty::Error, span }
}
