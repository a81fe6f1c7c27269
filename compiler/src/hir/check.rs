//! Name resolution and type checking: AST modules -> HIR `Program`.
//!
//! Runs in passes over all modules of the import closure: declare type names, resolve
//! struct fields and enum values, declare functions and globals, then check bodies. Every
//! error is a diagnostic; an erroneous expression gets `Ty::Error` so it does not cascade.

use std::collections::HashMap;

use super::ty::*;
use super::*;
use crate::diag::{Diagnostic, Span};
use crate::syntax::ast;

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
}

pub fn check(modules: &[ast::Module]) -> (Program, Vec<Diagnostic>) {
    let mut c = Checker {
        modules,
        prog: Program::default(),
        diags: vec![],
        names: HashMap::new(),
        private: HashMap::new(),
        domain_of: HashMap::new(),
        cur_file: 0,
        fcx: FnCtx::default(),
        lambda_count: 0,
        bodies: vec![],
        chan_elems: vec![],
        table_elems: vec![],
        ordering_enum: None,
    };
    c.run();
    (c.prog, c.diags)
}

fn is_private(name: &str) -> bool {
    name.starts_with('_') && !name.starts_with("__")
}

impl<'a> Checker<'a> {
    pub(super) fn err(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    pub(super) fn show(&self, ty: &Ty) -> String {
        let sn = |id: StructId| self.prog.structs[id as usize].name.clone();
        let en = |id: EnumId| self.prog.enums[id as usize].name.clone();
        TyDisplay { ty, struct_names: &sn, enum_names: &en }.to_string()
    }

    fn run(&mut self) {
        // Privacy domains: files that name the same shard share their private names.
        let mut shards: HashMap<&str, u32> = HashMap::new();
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
            self.err(span, format!("Undefined identifier: {name}"));
        }
    }

    // ---- pass 1 and 2: types -------------------------------------------------------------

    fn declare_types(&mut self) {
        for m in self.modules {
            self.cur_file = m.file;
            for item in &m.items {
                match item {
                    ast::Item::Struct(s) | ast::Item::ExternStruct(s) => {
                        let id = self.prog.structs.len() as StructId;
                        self.prog.structs.push(StructDef {
                            name: s.name.name.clone(),
                            fields: None,
                            is_extern: matches!(item, ast::Item::ExternStruct(_)),
                            domain: self.domain_of[&m.file],
                            span: s.span,
                        });
                        self.reserved_check(&s.name);
                        self.define(&s.name, Item::Struct(id));
                    }
                    ast::Item::Enum(e) | ast::Item::ExternEnum(e) => {
                        let id = self.prog.enums.len() as EnumId;
                        self.prog.enums.push(EnumDef {
                            name: e.name.name.clone(),
                            base: I32,
                            variants: vec![],
                            domain: self.domain_of[&m.file],
                            span: e.span,
                        });
                        self.reserved_check(&e.name);
                        self.define(&e.name, Item::Enum(id));
                    }
                    _ => {}
                }
            }
        }
    }

    fn reserved_check(&mut self, name: &ast::Ident) {
        if Ty::from_prim_name(&name.name).is_some() || name.name == "Mutex" {
            self.err(name.span, format!("`{}` is a reserved type name", name.name));
        }
    }

    fn resolve_types(&mut self) {
        let (mut sid, mut eid) = (0usize, 0usize);
        for m in self.modules {
            self.cur_file = m.file;
            for item in &m.items {
                match item {
                    ast::Item::Struct(s) | ast::Item::ExternStruct(s) => {
                        if let Some(fields) = &s.fields {
                            let mut out: Vec<(String, Ty)> = vec![];
                            for f in fields {
                                let ty = self.resolve_type(&f.ty);
                                if out.iter().any(|(n, _)| *n == f.name.name) {
                                    self.err(f.name.span, format!("duplicate field `{}`", f.name.name));
                                }
                                if ty.is_void() {
                                    self.err(f.ty.span, "a field cannot have type void");
                                }
                                out.push((f.name.name.clone(), ty));
                            }
                            self.prog.structs[sid].fields = Some(out);
                        }
                        sid += 1;
                    }
                    ast::Item::Enum(e) | ast::Item::ExternEnum(e) => {
                        let base = self.resolve_type(&e.base);
                        if !base.is_int() && !base.is_error() {
                            self.err(
                                e.span,
                                "Enum backing type must be an integer type (i8, i16, i32, i64, u8, u16, u32, u64)",
                            );
                        }
                        let mut next: i128 = 0;
                        let mut vals = vec![];
                        for v in &e.variants {
                            if let Some(x) = &v.value {
                                match self.const_int(x) {
                                    Some(n) => next = n,
                                    None => self.err(x.span, "enum value must be a constant integer"),
                                }
                            }
                            if vals.iter().any(|(n, _): &(String, i128)| *n == v.name.name) {
                                self.err(v.name.span, format!("duplicate enum variant `{}`", v.name.name));
                            }
                            if let Some((lo, hi)) = base.int_range().filter(|(lo, hi)| !(*lo..=*hi).contains(&next)) {
                                let at = v.value.as_ref().map_or(v.name.span, |x| x.span);
                                let b = self.show(&base);
                                self.err(at, format!("enum value {next} of `{}` does not fit in {b} ({lo}..={hi})", v.name.name));
                            }
                            vals.push((v.name.name.clone(), next));
                            next += 1;
                        }
                        self.prog.enums[eid].base = if base.is_int() { base } else { I32 };
                        self.prog.enums[eid].variants = vals;
                        eid += 1;
                    }
                    _ => {}
                }
            }
        }
        // A struct that contains itself by value has no finite size.
        for id in 0..self.prog.structs.len() {
            if self.contains_struct(&Ty::Struct(id as StructId), id as StructId, 0) {
                let span = self.prog.structs[id].span;
                let name = self.prog.structs[id].name.clone();
                self.err(span, format!("struct `{name}` contains itself (use a pointer)"));
                self.prog.structs[id].fields = Some(vec![]);
            }
        }
    }

    fn contains_struct(&self, ty: &Ty, target: StructId, depth: u32) -> bool {
        if depth > 64 {
            return true;
        }
        match ty {
            Ty::Struct(id) => {
                let fields = match &self.prog.structs[*id as usize].fields {
                    Some(f) => f,
                    None => return false,
                };
                fields.iter().any(|(_, t)| {
                    matches!(t, Ty::Struct(x) if *x == target) || self.contains_struct(t, target, depth + 1)
                })
            }
            Ty::Array(_, t) => matches!(**t, Ty::Struct(x) if x == target) || self.contains_struct(t, target, depth + 1),
            Ty::Tuple(ts) => ts.iter().any(|t| self.contains_struct(t, target, depth + 1)),
            _ => false,
        }
    }

    fn resolve_type(&mut self, t: &ast::Type) -> Ty {
        match &t.kind {
            ast::TypeKind::Named(n) => {
                if let Some(p) = Ty::from_prim_name(n) {
                    return p;
                }
                if n == "Mutex" {
                    return Ty::Mutex;
                }
                match self.lookup(n) {
                    Some(Item::Struct(id)) => Ty::Struct(id),
                    Some(Item::Enum(id)) => Ty::Enum(id),
                    _ => {
                        if self.private_elsewhere(n) {
                            self.err(t.span, format!("type `{n}` is private to the file (or shard) that defines it"));
                        } else {
                            self.err(t.span, format!("Unknown type: {n}"));
                        }
                        Ty::Error
                    }
                }
            }
            ast::TypeKind::Ptr(inner) => Ty::ptr(self.resolve_type(inner)),
            ast::TypeKind::Array(n, inner) => {
                let elem = self.resolve_type(inner);
                match self.const_int(n) {
                    Some(v) if v >= 0 && v <= u32::MAX as i128 => {
                        let ty = Ty::Array(v as u64, Box::new(elem));
                        self.prog.written_types.push((ty.clone(), t.span));
                        ty
                    }
                    Some(_) => {
                        self.err(n.span, "array size must be between 0 and 4294967295");
                        Ty::Error
                    }
                    None => {
                        self.err(n.span, "array size must be a constant integer");
                        Ty::Error
                    }
                }
            }
            ast::TypeKind::Slice(inner) => Ty::Slice(Box::new(self.resolve_type(inner))),
            ast::TypeKind::Map(k, v) => {
                let kt = self.resolve_type(k);
                let vt = self.resolve_type(v);
                if !self.valid_map_key(&kt) {
                    let shown = self.show(&kt);
                    self.err(k.span, format!("Invalid map key type `{shown}`: keys must be primitive types or strings (*u8, *i8)"));
                }
                Ty::Map(Box::new(kt), Box::new(vt))
            }
            ast::TypeKind::Chan(el, n) => {
                let elem = self.resolve_type(el);
                self.chan_type(el, n, elem)
            }
            ast::TypeKind::Table(k, v, n) => {
                let (kt, vt) = (self.resolve_type(k), self.resolve_type(v));
                self.table_type(k, v, n, kt, vt)
            }
            ast::TypeKind::Tuple(ts) => {
                let ty = Ty::Tuple(ts.iter().map(|t| self.resolve_type(t)).collect());
                self.prog.written_types.push((ty.clone(), t.span));
                ty
            }
            ast::TypeKind::Fn(ps, r) => Ty::Fn {
                params: ps.iter().map(|t| self.resolve_type(t)).collect(),
                ret: Box::new(r.as_ref().map(|r| self.resolve_type(r)).unwrap_or(Ty::Void)),
                c_variadic: false,
            },
        }
    }

    fn valid_map_key(&self, t: &Ty) -> bool {
        match t {
            Ty::Int { .. } | Ty::Float { .. } | Ty::Bool | Ty::Enum(_) | Ty::Error => true,
            Ty::Ptr(inner) => matches!(**inner, Ty::Int { bits: 8, .. }),
            _ => false,
        }
    }

    /// Evaluate a constant integer expression (array sizes, enum values).
    pub(super) fn const_int(&mut self, e: &ast::Expr) -> Option<i128> {
        match &e.kind {
            ast::ExprKind::Int(v) => Some(*v as i128),
            ast::ExprKind::Char(c) => Some(*c as i8 as i128),
            ast::ExprKind::Unary(ast::UnOp::Neg, x) => self.const_int(x).map(|v| -v),
            ast::ExprKind::Unary(ast::UnOp::BitNot, x) => self.const_int(x).map(|v| !v),
            ast::ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.const_int(a)?, self.const_int(b)?);
                use ast::BinOp::*;
                Some(match op {
                    Add => a.checked_add(b)?,
                    Sub => a.checked_sub(b)?,
                    Mul => a.checked_mul(b)?,
                    Div => a.checked_div(b)?,
                    Rem => a.checked_rem(b)?,
                    Shl => a.checked_shl(u32::try_from(b).ok()?)?,
                    Shr => a.checked_shr(u32::try_from(b).ok()?)?,
                    BitAnd => a & b,
                    BitOr => a | b,
                    BitXor => a ^ b,
                    _ => return None,
                })
            }
            ast::ExprKind::Cast(x, _) => self.const_int(x),
            ast::ExprKind::Ident(n) => match self.lookup(n) {
                Some(Item::Global(g)) => match (&self.prog.globals[g as usize].kind, &self.prog.globals[g as usize].init) {
                    (ast::VarKind::Const, Some(Const::Int(v))) => Some(*v),
                    _ => None,
                },
                _ => None,
            },
            ast::ExprKind::Field(base, variant) => {
                if let ast::ExprKind::Ident(n) = &base.kind {
                    if let Some(Item::Enum(id)) = self.lookup(n) {
                        return self.prog.enums[id as usize].variants.iter().find(|(v, _)| *v == variant.name).map(|(_, x)| *x);
                    }
                }
                None
            }
            _ => None,
        }
    }

    // ---- pass 3: functions and globals ----------------------------------------------------

    fn declare_values(&mut self) {
        for m in self.modules {
            self.cur_file = m.file;
            let has_local_cimport = m.items.iter().any(|i| matches!(i, ast::Item::CImport { system: false, .. }));
            let has_cimport = m.items.iter().any(|i| matches!(i, ast::Item::CImport { .. }));
            for item in &m.items {
                match item {
                    ast::Item::Fn(f) | ast::Item::ExternFn(f) => {
                        let is_extern = matches!(item, ast::Item::ExternFn(_));
                        if Ty::from_prim_name(&f.name.name).is_some() {
                            self.err(f.name.span, format!("`{}` is a reserved type name and cannot name a function", f.name.name));
                        }
                        let id = self.declare_fn(f, is_extern, has_local_cimport);
                        self.define(&f.name, Item::Func(id));
                        if !is_extern {
                            self.bodies.push((id, f, m.file));
                        }
                    }
                    ast::Item::Global(v) | ast::Item::ExternVar(v) => {
                        let is_extern = matches!(item, ast::Item::ExternVar(_));
                        let id = self.declare_global(v, is_extern);
                        self.prog.globals[id as usize].via_c_shim = is_extern && has_cimport;
                        self.define(&v.name, Item::Global(id));
                    }
                    _ => {}
                }
            }
        }
    }

    fn declare_fn(&mut self, f: &ast::FnDecl, is_extern: bool, via_c_shim: bool) -> FuncId {
        let mut locals = vec![];
        let mut params = vec![];
        for p in &f.params {
            let ty = self.resolve_type(&p.ty);
            if ty.is_void() {
                self.err(p.ty.span, "a parameter cannot have type void");
            }
            params.push(locals.len() as LocalId);
            locals.push(Local { name: p.name.name.clone(), ty, span: p.name.span });
        }
        let ret = f.ret.as_ref().map(|t| self.resolve_type(t)).unwrap_or(Ty::Void);
        let variadic = match (&f.variadic, is_extern) {
            (None, _) => Variadic::None,
            (Some(_), true) => Variadic::C,
            (Some(_), false) => Variadic::Truk,
        };
        let id = self.prog.funcs.len() as FuncId;
        // An extern of a file with a local header may be a `static inline` there: call it
        // through a C wrapper (C varargs cannot be forwarded, so those are called directly).
        let via_c_shim = is_extern && via_c_shim && variadic != Variadic::C;
        let symbol = if f.name.name == "main" && !is_extern {
            "truk_main".to_string()
        } else if via_c_shim {
            format!("__truk_shim_{}", f.name.name)
        } else {
            f.name.name.clone()
        };
        self.prog.funcs.push(Function {
            name: f.name.name.clone(),
            symbol,
            params,
            ret,
            variadic,
            is_extern,
            via_c_shim,
            locals,
            body: None,
            span: f.span,
        });
        id
    }

    fn declare_global(&mut self, v: &ast::VarDecl, is_extern: bool) -> GlobalId {
        let ty = match &v.ty {
            Some(t) => self.resolve_type(t),
            None => Ty::Error,
        };
        if ty.is_void() {
            self.err(v.span, "a variable cannot have type void");
        }
        if v.kind == ast::VarKind::Shared {
            self.check_shared_type(&v.name.name, &ty, v.span);
        }
        let mut init = None;
        if let Some(e) = &v.init {
            self.fcx = FnCtx { ret: Ty::Void, ..Default::default() };
            self.fcx.scopes.push(HashMap::new());
            let ex = self.expr(e, Some(&ty));
            let ex = self.coerce(ex, &ty, "Type mismatch in variable initialization", v.span);
            match fold_const(&ex) {
                Some(c) => init = Some(c),
                None if ex.ty.is_error() => {}
                None => self.err(e.span, "a global initializer must be a constant expression"),
            }
        } else if v.kind == ast::VarKind::Const {
            self.err(v.span, "a constant needs a value");
        }
        let id = self.prog.globals.len() as GlobalId;
        self.prog.globals.push(Global {
            name: v.name.name.clone(),
            symbol: v.name.name.clone(),
            ty,
            kind: v.kind,
            is_extern,
            via_c_shim: false,
            init,
            span: v.span,
        });
        id
    }

    fn find_entry_points(&mut self) {
        for (i, f) in self.prog.funcs.iter().enumerate() {
            if f.is_extern {
                continue;
            }
            match f.name.as_str() {
                "main" => self.prog.main = Some(i as FuncId),
                "test_setup" => self.prog.test_setup = Some(i as FuncId),
                "test_teardown" => self.prog.test_teardown = Some(i as FuncId),
                n if n.starts_with("test_") => self.prog.tests.push(i as FuncId),
                _ => {}
            }
        }
        if let Some(m) = self.prog.main {
            let f = &self.prog.funcs[m as usize];
            let ok_ret = matches!(f.ret, Ty::Int { .. } | Ty::Void);
            let ok_params = f.params.is_empty()
                || (f.params.len() == 2 && f.locals[0].ty.is_int() && matches!(&f.locals[1].ty, Ty::Ptr(p) if p.is_ptr()));
            let span = f.span;
            if !ok_ret || !ok_params {
                self.err(span, "`main` must be `fn main() : i32` or `fn main(argc: i32, argv: **i8) : i32`");
            }
        }
    }

    // ---- pass 4: bodies --------------------------------------------------------------------

    fn check_body(&mut self, id: FuncId, decl: &ast::FnDecl) {
        let f = &self.prog.funcs[id as usize];
        let mut scope = HashMap::new();
        for &p in &f.params {
            scope.insert(f.locals[p as usize].name.clone(), p);
        }
        self.fcx = FnCtx {
            locals: f.locals.clone(),
            scopes: vec![scope],
            consts: vec![],
            ret: f.ret.clone(),
            loop_depth: 0,
            defer_depth: 0,
            truk_variadic: f.variadic == Variadic::Truk,
        };
        let body = self.block(decl.body.as_ref().unwrap());
        if !self.fcx.ret.is_void() && !self.fcx.ret.is_error() && !block_returns(&body) {
            let name = &decl.name.name;
            if name == "main" {
                // `main` falling off its end returns 0, as in C.
            } else {
                self.err(decl.name.span, format!("function `{name}` does not return a value on every path"));
            }
        }
        let fcx = std::mem::take(&mut self.fcx);
        let f = &mut self.prog.funcs[id as usize];
        f.locals = fcx.locals;
        f.body = Some(body);
    }

    fn new_local(&mut self, name: &ast::Ident, ty: Ty) -> LocalId {
        let id = self.fcx.locals.len() as LocalId;
        self.fcx.locals.push(Local { name: name.name.clone(), ty, span: name.span });
        if name.name != "_" {
            self.fcx.scopes.last_mut().unwrap().insert(name.name.clone(), id);
        }
        id
    }

    fn block(&mut self, b: &ast::Block) -> Block {
        self.fcx.scopes.push(HashMap::new());
        let stmts = b.stmts.iter().map(|s| self.stmt(s)).collect();
        self.fcx.scopes.pop();
        Block { stmts, span: b.span }
    }

    fn stmt(&mut self, s: &ast::Stmt) -> Stmt {
        let kind = match &s.kind {
            ast::StmtKind::Var(v) => self.local_var(v),
            ast::StmtKind::Let { names, init } => self.let_stmt(names, init.as_ref(), s.span),
            ast::StmtKind::Expr(e) => {
                let ex = self.expr(e, None);
                StmtKind::Expr(ex)
            }
            ast::StmtKind::Assign { op, target, value } => self.assign(*op, target, value, s.span),
            ast::StmtKind::If { cond, then, els } => {
                let cond = self.condition(cond);
                let then = self.block(then);
                let els = els.as_ref().map(|e| Box::new(self.stmt(e)));
                StmtKind::If { cond, then, els }
            }
            ast::StmtKind::While { cond, body } => {
                let cond = self.condition(cond);
                self.fcx.loop_depth += 1;
                let body = self.block(body);
                self.fcx.loop_depth -= 1;
                StmtKind::Loop { cond: Some(cond), body, step: None }
            }
            ast::StmtKind::For { init, cond, step, body } => {
                // The init's declarations are scoped to the loop: wrap it all in a block.
                self.fcx.scopes.push(HashMap::new());
                let init = init.as_ref().map(|i| self.stmt(i));
                let cond = cond.as_ref().map(|c| self.condition(c));
                let step = step.as_ref().map(|st| Box::new(self.stmt(st)));
                self.fcx.loop_depth += 1;
                let body = self.block(body);
                self.fcx.loop_depth -= 1;
                self.fcx.scopes.pop();
                let lp = Stmt { kind: StmtKind::Loop { cond, body, step }, span: s.span };
                let mut stmts = vec![];
                stmts.extend(init);
                stmts.push(lp);
                StmtKind::Block(Block { stmts, span: s.span })
            }
            ast::StmtKind::Return(vals) => self.ret(vals, s.span),
            ast::StmtKind::Break | ast::StmtKind::Continue => {
                let word = if matches!(s.kind, ast::StmtKind::Break) { "break" } else { "continue" };
                if self.fcx.loop_depth == 0 {
                    self.err(s.span, format!("`{word}` outside of a loop"));
                }
                if matches!(s.kind, ast::StmtKind::Break) {
                    StmtKind::Break
                } else {
                    StmtKind::Continue
                }
            }
            ast::StmtKind::Defer(inner) => {
                // A deferred statement runs on the way out: it cannot itself leave the scope.
                let saved_loop = self.fcx.loop_depth;
                self.fcx.loop_depth = 0;
                self.fcx.defer_depth += 1;
                let inner = self.stmt(inner);
                self.fcx.defer_depth -= 1;
                self.fcx.loop_depth = saved_loop;
                StmtKind::Defer(Box::new(inner))
            }
            ast::StmtKind::Block(b) => StmtKind::Block(self.block(b)),
            ast::StmtKind::Match { scrutinee, arms } => self.match_stmt(scrutinee, arms, s.span),
        };
        Stmt { kind, span: s.span }
    }

    fn local_var(&mut self, v: &ast::VarDecl) -> StmtKind {
        if v.kind == ast::VarKind::Shared {
            self.err(v.span, "`shared var` is only allowed at module level");
        }
        let (ty, inferred) = match (&v.ty, &v.init) {
            (Some(t), _) => (self.resolve_type(t), None),
            // `var x = expr;` takes the type of its value.
            (None, Some(e)) => {
                let ex = self.expr(e, None);
                if ex.ty.is_void() || matches!(ex.ty, Ty::Nil) {
                    self.err(e.span, "cannot infer the variable's type from this value: write the type");
                }
                (ex.ty.clone(), Some(ex))
            }
            (None, None) => {
                self.err(v.span, "a variable needs a type or a value");
                (Ty::Error, None)
            }
        };
        if ty.is_void() {
            self.err(v.span, "a variable cannot have type void");
        }
        let init = if inferred.is_some() { inferred } else { v.init.as_ref().map(|e| {
            let ex = self.expr(e, Some(&ty));
            self.coerce(ex, &ty, "Type mismatch in variable initialization", v.span)
        }) };
        if v.kind == ast::VarKind::Const && init.is_none() {
            self.err(v.span, "a constant needs a value");
        }
        let id = self.new_local(&v.name, ty);
        if v.kind == ast::VarKind::Const {
            self.fcx.consts.push(id);
        }
        StmtKind::Let(id, init)
    }

    fn let_stmt(&mut self, names: &[ast::Ident], init: Option<&ast::Expr>, span: Span) -> StmtKind {
        let Some(init) = init else {
            self.err(span, "`let` needs an initializer: its type comes from the value");
            for n in names {
                self.new_local(n, Ty::Error);
            }
            return StmtKind::Expr(err_expr(span));
        };
        let ex = self.expr(init, None);
        if ex.ty.is_void() {
            self.err(init.span, "cannot bind the result of a function that returns void");
        }
        if names.len() == 1 {
            let ty = if matches!(ex.ty, Ty::Nil) { Ty::Error } else { ex.ty.clone() };
            if matches!(ex.ty, Ty::Nil) {
                self.err(init.span, "cannot infer a type from `nil`: declare the variable with `var`");
            }
            let id = self.new_local(&names[0], ty);
            return StmtKind::Let(id, Some(ex));
        }
        let tys = match &ex.ty {
            Ty::Tuple(ts) => ts.clone(),
            Ty::Error => vec![Ty::Error; names.len()],
            other => {
                let shown = self.show(other);
                self.err(init.span, format!("`let` with {} names needs a tuple, found `{shown}`", names.len()));
                vec![Ty::Error; names.len()]
            }
        };
        if tys.len() != names.len() {
            self.err(span, format!("`let` binds {} names but the value has {} elements", names.len(), tys.len()));
        }
        let mut ids = vec![];
        for (n, t) in names.iter().zip(tys.iter().chain(std::iter::repeat(&Ty::Error))) {
            ids.push(if n.name == "_" { None } else { Some(self.new_local(n, t.clone())) });
        }
        StmtKind::LetTuple(ids, ex)
    }

    fn assign(&mut self, op: Option<ast::BinOp>, target: &ast::Expr, value: &ast::Expr, span: Span) -> StmtKind {
        let mut place = self.expr(target, None);
        // `m[k] = v` assigns the value slot, inserting the key when absent.
        if let ExprKind::MapIndex(m, k) = place.kind {
            let Ty::Ptr(v) = place.ty else { unreachable!() };
            let slot = Expr { kind: ExprKind::MapSlot(m, k), ty: Ty::Ptr(v.clone()), span: place.span };
            place = Expr { kind: ExprKind::Deref(Box::new(slot)), ty: *v, span: place.span };
        }
        if !place.ty.is_error() {
            if !is_place(&place) {
                self.err(target.span, "cannot assign to this expression");
            } else if let Some(name) = self.const_place(&place) {
                self.err(target.span, format!("cannot assign to constant `{name}`"));
            }
        }
        let ty = place.ty.clone();
        let v = self.expr(value, Some(&ty));
        let value = match op {
            None => self.coerce(v, &ty, "Type mismatch in assignment", span),
            Some(op) => {
                // `a op= b` checks like `a = a op b`.
                if ty.is_error() || v.ty.is_error() {
                    v
                } else if matches!(op, ast::BinOp::Shl | ast::BinOp::Shr) || ty.is_numeric() {
                    if !(ty.is_numeric() && v.ty.is_numeric()) || (ty.is_float() && !op_allows_float(op)) {
                        self.err(span, format!("operator `{}=` needs numeric operands", op.symbol()));
                    }
                    self.cast_to(v, &ty)
                } else {
                    let shown = self.show(&ty);
                    self.err(span, format!("Arithmetic operation requires numeric types (found `{shown}`)"));
                    v
                }
            }
        };
        StmtKind::Assign { place, op, value }
    }

    fn const_place(&self, place: &Expr) -> Option<String> {
        match &place.kind {
            ExprKind::Local(id) if self.fcx.consts.contains(id) => Some(self.fcx.locals[*id as usize].name.clone()),
            ExprKind::Global(g) if self.prog.globals[*g as usize].kind == ast::VarKind::Const => {
                Some(self.prog.globals[*g as usize].name.clone())
            }
            ExprKind::Field(b, _) | ExprKind::Index(b, _) => self.const_place(b),
            _ => None,
        }
    }

    fn ret(&mut self, vals: &[ast::Expr], span: Span) -> StmtKind {
        if self.fcx.defer_depth > 0 {
            self.err(span, "`return` is not allowed inside `defer`");
        }
        let ret = self.fcx.ret.clone();
        if vals.is_empty() {
            if !ret.is_void() && !ret.is_error() {
                self.err(span, "Return type mismatch: this function must return a value");
            }
            return StmtKind::Return(None);
        }
        let ex = if vals.len() == 1 {
            self.expr(&vals[0], Some(&ret))
        } else {
            let elem_tys = match &ret {
                Ty::Tuple(ts) if ts.len() == vals.len() => ts.clone(),
                _ => vec![],
            };
            let elems: Vec<Expr> =
                vals.iter().enumerate().map(|(i, v)| self.expr(v, elem_tys.get(i))).collect();
            let ty = Ty::Tuple(elems.iter().map(|e| e.ty.clone()).collect());
            Expr { kind: ExprKind::TupleLit(elems), ty, span }
        };
        if ret.is_void() {
            if !ex.ty.is_error() {
                self.err(span, "Return type mismatch: this function returns void");
            }
            return StmtKind::Return(None);
        }
        let ex = self.coerce(ex, &ret, "Return type mismatch", span);
        StmtKind::Return(Some(ex))
    }

    fn match_stmt(&mut self, scrutinee: &ast::Expr, arms: &[ast::MatchArm], span: Span) -> StmtKind {
        let scr = self.expr(scrutinee, None);
        let ok = matches!(scr.ty, Ty::Int { .. } | Ty::Bool | Ty::Enum(_) | Ty::Ptr(_) | Ty::Error);
        if !ok {
            self.err(span, "Match scrutinee must be a primitive type, enum, or pointer type");
        }
        let mut out = vec![];
        let mut default: Option<Stmt> = None;
        for arm in arms {
            match &arm.pattern {
                None => {
                    let body = self.arm_body(&arm.body);
                    if default.is_some() {
                        self.err(arm.span, "Match statement can only have one wildcard case");
                    } else {
                        default = Some(body);
                    }
                }
                Some(p) => {
                    let pat = self.expr(p, Some(&scr.ty));
                    let pat = if ok && !pat.ty.is_error() && !scr.ty.is_error() {
                        if self.compatible(&pat, &scr.ty) && fold_const(&pat).is_some() {
                            self.cast_to(pat, &scr.ty)
                        } else if fold_const(&pat).is_none() && self.compatible(&pat, &scr.ty) {
                            self.err(p.span, "a case pattern must be a constant");
                            pat
                        } else {
                            self.err(p.span, "Case pattern type does not match scrutinee type");
                            pat
                        }
                    } else {
                        pat
                    };
                    let body = self.arm_body(&arm.body);
                    out.push((vec![pat], body));
                }
            }
        }
        let default = match default {
            Some(d) => d,
            None => {
                self.err(span, "Match statement must have a wildcard '_' case for exhaustiveness");
                Stmt { kind: StmtKind::Block(Block { stmts: vec![], span }), span }
            }
        };
        StmtKind::Match { scrutinee: scr, arms: out, default: Box::new(default) }
    }

    fn arm_body(&mut self, s: &ast::Stmt) -> Stmt {
        self.fcx.scopes.push(HashMap::new());
        let st = self.stmt(s);
        self.fcx.scopes.pop();
        st
    }

    fn condition(&mut self, e: &ast::Expr) -> Expr {
        let ex = self.expr(e, Some(&Ty::Bool));
        if !matches!(ex.ty, Ty::Bool | Ty::Error) {
            let shown = self.show(&ex.ty);
            self.err(e.span, format!("condition must be `bool`, found `{shown}`"));
        }
        ex
    }

    // ---- expressions -----------------------------------------------------------------------

    pub(super) fn expr(&mut self, e: &ast::Expr, expected: Option<&Ty>) -> Expr {
        let span = e.span;
        let mk = |kind, ty| Expr { kind, ty, span };
        match &e.kind {
            ast::ExprKind::Int(v) => {
                let ty = match expected {
                    Some(t @ (Ty::Int { .. } | Ty::Float { .. })) => t.clone(),
                    Some(Ty::Enum(id)) => self.prog.enums[*id as usize].base.clone(),
                    _ => {
                        if *v > i64::MAX as u128 {
                            U64
                        } else if *v > i32::MAX as u128 {
                            I64
                        } else {
                            I32
                        }
                    }
                };
                if ty.is_float() {
                    return mk(ExprKind::Float(*v as f64), ty);
                }
                if *v > u64::MAX as u128 {
                    self.err(span, "integer literal is too large");
                }
                mk(ExprKind::Int(*v as i128), ty)
            }
            ast::ExprKind::Float(v) => {
                let ty = match expected {
                    Some(Ty::Float { bits: 32 }) => Ty::Float { bits: 32 },
                    _ => F64,
                };
                mk(ExprKind::Float(*v), ty)
            }
            ast::ExprKind::Char(c) => {
                let ty = match expected {
                    Some(t @ Ty::Int { .. }) => t.clone(),
                    _ => I8,
                };
                mk(ExprKind::Int(*c as i8 as i128), ty)
            }
            ast::ExprKind::Str(s) => {
                let ty = match expected {
                    Some(Ty::Ptr(p)) if matches!(**p, Ty::Int { bits: 8, .. }) => expected.unwrap().clone(),
                    _ => Ty::ptr(U8),
                };
                mk(ExprKind::Str(s.clone()), ty)
            }
            ast::ExprKind::Bool(b) => mk(ExprKind::Bool(*b), Ty::Bool),
            ast::ExprKind::Nil => match expected {
                Some(t) if t.is_nullable() => mk(ExprKind::Nil, t.clone()),
                _ => mk(ExprKind::Nil, Ty::Nil),
            },
            ast::ExprKind::Ident(name) => self.ident(name, span),
            ast::ExprKind::Binary(op, a, b) => self.binary(*op, a, b, expected, span),
            ast::ExprKind::Unary(op, x) => self.unary(*op, x, expected, span),
            ast::ExprKind::Call(callee, args) => self.call(callee, args, span),
            ast::ExprKind::Index(base, idx) => self.index(base, idx, span),
            ast::ExprKind::Field(base, field) => self.field(base, field, false, span),
            ast::ExprKind::Arrow(base, field) => self.field(base, field, true, span),
            ast::ExprKind::Cast(x, t) => {
                let target = self.resolve_type(t);
                let hint = if target.is_numeric() { Some(&target) } else { None };
                let inner = self.expr(x, hint);
                if inner.ty.is_error() || target.is_error() {
                    return err_expr(span);
                }
                if !self.castable(&inner.ty, &target) {
                    let (a, b) = (self.show(&inner.ty), self.show(&target));
                    self.err(span, format!("cannot cast `{a}` to `{b}`"));
                    return err_expr(span);
                }
                let mut out = self.cast_to(inner, &target);
                out.span = span;
                out
            }
            ast::ExprKind::StructLit(name, inits) => self.struct_lit(name, inits, span),
            ast::ExprKind::ArrayLit(elems) => {
                let elem_hint = match expected {
                    Some(Ty::Array(_, t)) => Some((**t).clone()),
                    _ => None,
                };
                let mut out = vec![];
                let mut ety = elem_hint.clone();
                for el in elems {
                    let x = self.expr(el, ety.as_ref());
                    let x = match &ety {
                        Some(t) => self.coerce(x, t, "array element type mismatch", el.span),
                        None => {
                            ety = Some(x.ty.clone());
                            x
                        }
                    };
                    out.push(x);
                }
                if let Some(Ty::Array(n, _)) = expected {
                    if *n != out.len() as u64 && !out.is_empty() {
                        self.err(span, format!("array literal has {} elements but the type needs {n}", out.len()));
                    }
                }
                let ety = ety.unwrap_or(I32);
                let n = match expected {
                    Some(Ty::Array(n, _)) => (*n).max(out.len() as u64),
                    _ => out.len() as u64,
                };
                mk(ExprKind::ArrayLit(out), Ty::Array(n, Box::new(ety)))
            }
            ast::ExprKind::TypeArg(_) => {
                self.err(span, "a type argument (`@T`) is only allowed as the first argument of `make` or `sizeof`");
                err_expr(span)
            }
            ast::ExprKind::Lambda(decl) => self.lambda(decl, span),
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> Expr {
        for scope in self.fcx.scopes.iter().rev() {
            if let Some(&id) = scope.get(name) {
                let ty = self.fcx.locals[id as usize].ty.clone();
                return Expr { kind: ExprKind::Local(id), ty, span };
            }
        }
        match self.lookup(name) {
            Some(Item::Global(g)) => {
                let gl = &self.prog.globals[g as usize];
                Expr { kind: ExprKind::Global(g), ty: gl.ty.clone(), span }
            }
            Some(Item::Func(f)) => {
                let ty = self.prog.funcs[f as usize].fn_ty();
                Expr { kind: ExprKind::Func(f), ty, span }
            }
            Some(Item::Struct(_) | Item::Enum(_)) => {
                self.err(span, format!("`{name}` is a type, not a value"));
                err_expr(span)
            }
            None => {
                self.undefined(span, name);
                err_expr(span)
            }
        }
    }

    fn binary(&mut self, op: ast::BinOp, a: &ast::Expr, b: &ast::Expr, expected: Option<&Ty>, span: Span) -> Expr {
        use ast::BinOp::*;
        if matches!(op, And | Or) {
            let l = self.expr(a, Some(&Ty::Bool));
            let r = self.expr(b, Some(&Ty::Bool));
            if !(matches!(l.ty, Ty::Bool | Ty::Error) && matches!(r.ty, Ty::Bool | Ty::Error)) {
                self.err(span, format!("operator `{}` needs bool operands", op.symbol()));
            }
            return Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty: Ty::Bool, span };
        }
        // An untyped literal takes its type from the other side: check that side first.
        let hint = if op.is_comparison() { None } else { expected.filter(|t| t.is_numeric()) };
        let (l, r) = if is_untyped(a) && !is_untyped(b) {
            let r = self.expr(b, hint);
            let l = self.expr(a, Some(&r.ty));
            (l, r)
        } else {
            let l = self.expr(a, hint);
            let rhint = if matches!(op, Shl | Shr) { None } else { Some(l.ty.clone()) };
            let r = self.expr(b, rhint.as_ref());
            (l, r)
        };
        if l.ty.is_error() || r.ty.is_error() {
            return err_expr(span);
        }
        if op.is_comparison() {
            return self.comparison(op, l, r, span);
        }
        if matches!(op, Shl | Shr | BitAnd | BitOr | BitXor) {
            if !(l.ty.is_int() && r.ty.is_int()) && !(matches!(op, BitAnd | BitOr | BitXor) && l.ty == Ty::Bool && r.ty == Ty::Bool) {
                self.err(span, format!("operator `{}` needs integer operands", op.symbol()));
                return err_expr(span);
            }
            if matches!(op, Shl | Shr) {
                let ty = l.ty.clone();
                let r = self.cast_to(r, &ty);
                return Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span };
            }
        } else if !(l.ty.is_numeric() && r.ty.is_numeric()) {
            self.err(span, "Arithmetic operation requires numeric types");
            return err_expr(span);
        }
        // `%` on floats is allowed: it is C's fmod (LLVM's frem).
        let ty = common_type(&l.ty, &r.ty);
        let l = self.cast_to(l, &ty);
        let r = self.cast_to(r, &ty);
        Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty, span }
    }

    fn comparison(&mut self, op: ast::BinOp, l: Expr, r: Expr, span: Span) -> Expr {
        let mk = |l: Expr, r: Expr| Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), ty: Ty::Bool, span };
        let ordered = !matches!(op, ast::BinOp::Eq | ast::BinOp::Ne);
        if l.ty.is_numeric() && r.ty.is_numeric() {
            let ty = common_type(&l.ty, &r.ty);
            let (l, r) = (self.cast_to(l, &ty), self.cast_to(r, &ty));
            return mk(l, r);
        }
        let same = l.ty == r.ty;
        let nil_cmp = (l.ty.is_nullable() && matches!(r.ty, Ty::Nil)) || (matches!(l.ty, Ty::Nil) && r.ty.is_nullable());
        let ptr_cmp = l.ty.is_ptr() && r.ty.is_ptr();
        let enum_int = matches!((&l.ty, &r.ty), (Ty::Enum(_), Ty::Int { .. }) | (Ty::Int { .. }, Ty::Enum(_)));
        let ok = match &l.ty {
            Ty::Bool | Ty::Enum(_) | Ty::Ptr(_) | Ty::Fn { .. } | Ty::Map(..) => same || nil_cmp || ptr_cmp || enum_int,
            Ty::Nil => nil_cmp,
            _ => enum_int,
        };
        if !ok || (ordered && matches!(l.ty, Ty::Bool | Ty::Map(..) | Ty::Fn { .. } | Ty::Nil)) {
            let (a, b) = (self.show(&l.ty), self.show(&r.ty));
            self.err(span, format!("cannot compare `{a}` with `{b}` using `{}`", op.symbol()));
            return err_expr(span);
        }
        // Give nil the other side's type so codegen sees one type.
        let (l, r) = if matches!(r.ty, Ty::Nil) {
            let t = l.ty.clone();
            (l, Expr { ty: t, ..r })
        } else if matches!(l.ty, Ty::Nil) {
            let t = r.ty.clone();
            (Expr { ty: t, ..l }, r)
        } else {
            (l, r)
        };
        mk(l, r)
    }

    fn unary(&mut self, op: ast::UnOp, x: &ast::Expr, expected: Option<&Ty>, span: Span) -> Expr {
        match op {
            ast::UnOp::Neg => {
                let inner = self.expr(x, expected.filter(|t| t.is_numeric()));
                if inner.ty.is_error() {
                    return err_expr(span);
                }
                if !inner.ty.is_numeric() {
                    self.err(span, "negation requires a numeric operand");
                    return err_expr(span);
                }
                // Fold literal negation so `-128` fits in i8.
                match inner.kind {
                    ExprKind::Int(v) => Expr { kind: ExprKind::Int(-v), ty: inner.ty, span },
                    ExprKind::Float(v) => Expr { kind: ExprKind::Float(-v), ty: inner.ty, span },
                    _ => {
                        let ty = inner.ty.clone();
                        Expr { kind: ExprKind::Unary(UnOp::Neg, Box::new(inner)), ty, span }
                    }
                }
            }
            ast::UnOp::Not => {
                let inner = self.expr(x, Some(&Ty::Bool));
                if !matches!(inner.ty, Ty::Bool | Ty::Error) {
                    self.err(span, "`!` requires a bool operand");
                    return err_expr(span);
                }
                Expr { kind: ExprKind::Unary(UnOp::Not, Box::new(inner)), ty: Ty::Bool, span }
            }
            ast::UnOp::BitNot => {
                let inner = self.expr(x, expected.filter(|t| t.is_int()));
                if !matches!(inner.ty, Ty::Int { .. } | Ty::Error) {
                    self.err(span, "`~` requires an integer operand");
                    return err_expr(span);
                }
                let ty = inner.ty.clone();
                Expr { kind: ExprKind::Unary(UnOp::BitNot, Box::new(inner)), ty, span }
            }
            ast::UnOp::AddrOf => {
                let inner = self.expr(x, None);
                if inner.ty.is_error() {
                    return err_expr(span);
                }
                if let ExprKind::Func(_) = inner.kind {
                    return inner;
                }
                if !is_place(&inner) {
                    self.err(span, "cannot take the address of a temporary value");
                    return err_expr(span);
                }
                let ty = Ty::ptr(inner.ty.clone());
                Expr { kind: ExprKind::AddrOf(Box::new(inner)), ty, span }
            }
            ast::UnOp::Deref => {
                let inner = self.expr(x, None);
                match &inner.ty {
                    Ty::Ptr(t) if t.is_void() => {
                        self.err(span, "cannot dereference `*void`: cast it to a typed pointer first");
                        err_expr(span)
                    }
                    Ty::Ptr(t) => {
                        let ty = (**t).clone();
                        Expr { kind: ExprKind::Deref(Box::new(inner)), ty, span }
                    }
                    Ty::Error => err_expr(span),
                    _ => {
                        self.err(span, "Dereference requires pointer type");
                        err_expr(span)
                    }
                }
            }
        }
    }

    fn index(&mut self, base: &ast::Expr, idx: &ast::Expr, span: Span) -> Expr {
        let b = self.expr(base, None);
        if let Ty::Map(k, v) = &b.ty {
            let (k, v) = ((**k).clone(), (**v).clone());
            let key = self.expr(idx, Some(&k));
            // String keys: any byte pointer or byte slice names the string it holds.
            let bytes = |t: &Ty| matches!(t, Ty::Ptr(b) | Ty::Slice(b) if matches!(**b, Ty::Int { bits: 8, .. }));
            let string_key = k.is_ptr() && bytes(&k) && bytes(&key.ty);
            if !key.ty.is_error() && !string_key && !self.compatible(&key, &k) {
                let (want, got) = (self.show(&k), self.show(&key.ty));
                self.err(idx.span, format!("Map key type mismatch: expected {want} but got {got}"));
                return err_expr(span);
            }
            let key = self.cast_to(key, &k);
            return Expr { kind: ExprKind::MapIndex(Box::new(b), Box::new(key)), ty: Ty::ptr(v), span };
        }
        let i = self.expr(idx, Some(&U64));
        if b.ty.is_error() || i.ty.is_error() {
            return err_expr(span);
        }
        if !i.ty.is_int() {
            self.err(idx.span, "Index must be integer type");
            return err_expr(span);
        }
        let elem = match &b.ty {
            Ty::Array(_, t) | Ty::Slice(t) => (**t).clone(),
            Ty::Ptr(t) if !t.is_void() => (**t).clone(),
            _ => {
                let shown = self.show(&b.ty);
                self.err(base.span, format!("cannot index a value of type `{shown}`"));
                return err_expr(span);
            }
        };
        let i = self.cast_to(i, &U64);
        Expr { kind: ExprKind::Index(Box::new(b), Box::new(i)), ty: elem, span }
    }

    fn field(&mut self, base: &ast::Expr, field: &ast::Ident, arrow: bool, span: Span) -> Expr {
        // `Enum.Variant`
        if let (false, ast::ExprKind::Ident(n)) = (arrow, &base.kind) {
            let shadowed = self.fcx.scopes.iter().any(|s| s.contains_key(n));
            if !shadowed {
                if let Some(Item::Enum(id)) = self.lookup(n) {
                    let en = &self.prog.enums[id as usize];
                    let hidden = is_private(&field.name) && en.domain != self.domain_of[&self.cur_file];
                    return match en.variants.iter().find(|(v, _)| *v == field.name) {
                        Some(_) if hidden => {
                            let msg = format!("variant `{n}.{}` is private to the file (or shard) that defines `{n}`", field.name);
                            self.err(field.span, msg);
                            err_expr(span)
                        }
                        Some((_, val)) => Expr { kind: ExprKind::Int(*val), ty: Ty::Enum(id), span },
                        None => {
                            let msg = format!("enum `{n}` has no variant `{}`", field.name);
                            self.err(field.span, msg);
                            err_expr(span)
                        }
                    };
                }
            }
        }
        let mut b = self.expr(base, None);
        if b.ty.is_error() {
            return err_expr(span);
        }
        if arrow {
            match &b.ty {
                Ty::Ptr(t) => {
                    let ty = (**t).clone();
                    b = Expr { kind: ExprKind::Deref(Box::new(b)), ty, span: base.span };
                }
                _ => {
                    self.err(span, "`->` requires a pointer to a struct");
                    return err_expr(span);
                }
            }
        } else if let Ty::Ptr(t) = &b.ty {
            if matches!(**t, Ty::Struct(_)) {
                self.err(span, format!("`{}` is a pointer: use '->' to access field `{}`", self.show(&b.ty), field.name));
                return err_expr(span);
            }
        }
        match &b.ty {
            Ty::Struct(id) => {
                let sd = &self.prog.structs[*id as usize];
                let Some(fields) = &sd.fields else {
                    let msg = format!("struct `{}` is opaque: its fields are unknown", sd.name);
                    self.err(span, msg);
                    return err_expr(span);
                };
                let hidden = is_private(&field.name) && sd.domain != self.domain_of[&self.cur_file];
                match fields.iter().position(|(n, _)| *n == field.name) {
                    Some(_) if hidden => {
                        let msg = format!("field `{}` of `{}` is private to the file (or shard) that defines it", field.name, sd.name);
                        self.err(field.span, msg);
                        err_expr(span)
                    }
                    Some(i) => {
                        let ty = fields[i].1.clone();
                        Expr { kind: ExprKind::Field(Box::new(b), i as u32), ty, span }
                    }
                    None => {
                        let msg = format!("struct `{}` has no field `{}`", sd.name, field.name);
                        self.err(field.span, msg);
                        err_expr(span)
                    }
                }
            }
            _ => {
                self.err(span, "Member access requires struct type");
                err_expr(span)
            }
        }
    }

    fn struct_lit(&mut self, name: &ast::Ident, inits: &[(ast::Ident, ast::Expr)], span: Span) -> Expr {
        let id = match self.lookup(&name.name) {
            Some(Item::Struct(id)) => id,
            _ => {
                self.err(name.span, format!("Unknown struct type: {}", name.name));
                return err_expr(span);
            }
        };
        let Some(fields) = self.prog.structs[id as usize].fields.clone() else {
            self.err(span, format!("struct `{}` is opaque and cannot be built here", name.name));
            return err_expr(span);
        };
        let mut vals: Vec<Option<Expr>> = vec![None; fields.len()];
        for (f, e) in inits {
            match fields.iter().position(|(n, _)| *n == f.name) {
                Some(i) => {
                    let ty = fields[i].1.clone();
                    let x = self.expr(e, Some(&ty));
                    let x = self.coerce(x, &ty, &format!("field `{}` type mismatch", f.name), e.span);
                    if vals[i].is_some() {
                        self.err(f.span, format!("field `{}` is given twice", f.name));
                    }
                    vals[i] = Some(x);
                }
                None => {
                    self.err(f.span, format!("struct `{}` has no field `{}`", name.name, f.name));
                }
            }
        }
        // Missing fields are zero.
        let vals = vals.into_iter().zip(fields).map(|(v, (_, t))| v.unwrap_or(Expr { kind: ExprKind::Zero, ty: t, span })).collect();
        Expr { kind: ExprKind::StructLit(vals), ty: Ty::Struct(id), span }
    }

    fn lambda(&mut self, decl: &ast::FnDecl, span: Span) -> Expr {
        self.lambda_count += 1;
        let id = self.declare_fn(decl, false, false);
        let f = &mut self.prog.funcs[id as usize];
        f.name = format!("lambda#{}", self.lambda_count);
        f.symbol = format!("__truk_lambda_{}", self.lambda_count);
        // Lambdas capture nothing: check the body in a fresh context, then restore ours.
        let saved = std::mem::take(&mut self.fcx);
        self.check_body(id, decl);
        self.fcx = saved;
        let ty = self.prog.funcs[id as usize].fn_ty();
        Expr { kind: ExprKind::Func(id), ty, span }
    }

    // ---- calls and builtins ----------------------------------------------------------------

    fn call(&mut self, callee: &ast::Expr, args: &[ast::Expr], span: Span) -> Expr {
        if let ast::ExprKind::Ident(name) = &callee.kind {
            let shadowed = self.fcx.scopes.iter().any(|s| s.contains_key(name)) || self.lookup(name).is_some();
            if !shadowed {
                if let Some(e) = self.builtin(name, args, span) {
                    return e;
                }
            }
        }
        let f = self.expr(callee, None);
        let (params, ret, c_variadic) = match &f.ty {
            Ty::Fn { params, ret, c_variadic } => (params.clone(), (**ret).clone(), *c_variadic),
            Ty::Error => {
                for a in args {
                    self.expr(a, None);
                }
                return err_expr(span);
            }
            _ => {
                let shown = self.show(&f.ty);
                self.err(callee.span, format!("cannot call a value of type `{shown}`"));
                return err_expr(span);
            }
        };
        let truk_variadic = match f.kind {
            ExprKind::Func(id) => self.prog.funcs[id as usize].variadic == Variadic::Truk,
            _ => false,
        };
        let variadic = c_variadic || truk_variadic;
        if args.len() < params.len() || (!variadic && args.len() > params.len()) {
            self.err(span, format!("Argument count mismatch: expected {}{}, found {}", params.len(), if variadic { " or more" } else { "" }, args.len()));
        }
        let mut out = vec![];
        for (i, a) in args.iter().enumerate() {
            match params.get(i) {
                Some(p) => {
                    let x = self.arg_expr(a, p);
                    let x = self.coerce(x, p, "Argument type mismatch", a.span);
                    out.push(x);
                }
                None => {
                    // Variadic extra: C default promotions (floats to f64, small ints to i32).
                    let x = self.expr(a, None);
                    let x = match &x.ty {
                        Ty::Float { bits: 32 } => self.cast_to(x, &F64),
                        Ty::Int { bits, signed } if *bits < 32 => {
                            let t = Ty::Int { signed: *signed, bits: 32 };
                            self.cast_to(x, &t)
                        }
                        Ty::Bool => self.cast_to(x, &I32),
                        Ty::Enum(id) => {
                            let b = self.prog.enums[*id as usize].base.clone();
                            self.cast_to(x, &b)
                        }
                        Ty::Nil => Expr { ty: Ty::ptr(Ty::Void), ..x },
                        Ty::Struct(_) | Ty::Array(..) | Ty::Tuple(_) | Ty::Void if truk_variadic || c_variadic => {
                            self.err(a.span, "only numbers and pointers can be passed as variadic arguments");
                            x
                        }
                        _ => x,
                    };
                    out.push(x);
                }
            }
        }
        Expr { kind: ExprKind::Call(Box::new(f), out), ty: ret, span }
    }

    /// Builtin calls. `None`: not a builtin name.
    fn builtin(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Option<Expr> {
        let type_arg = |c: &mut Self, i: usize| -> Option<Ty> {
            match args.get(i).map(|a| &a.kind) {
                Some(ast::ExprKind::TypeArg(t)) => Some(c.resolve_type(t)),
                _ => None,
            }
        };
        let mk = |kind, ty| Some(Expr { kind, ty, span });
        match name {
            "make" => {
                let Some(t) = type_arg(self, 0) else {
                    self.err(span, "`make` needs a type argument: `make(@T)`, `make(@T, n)` or `make(@map[K, V])`");
                    return Some(err_expr(span));
                };
                match (args.len(), &t) {
                    (1, Ty::Map(k, v)) => mk(ExprKind::Builtin(Builtin::MakeMap((**k).clone(), (**v).clone()), vec![]), t.clone()),
                    (1, _) => mk(ExprKind::Builtin(Builtin::MakeOne(t.clone()), vec![]), Ty::ptr(t)),
                    (2, _) => {
                        let n = self.expr(&args[1], Some(&U64));
                        if !n.ty.is_int() && !n.ty.is_error() {
                            self.err(args[1].span, "the element count of `make` must be an integer");
                        }
                        let n = self.cast_to(n, &U64);
                        mk(ExprKind::Builtin(Builtin::MakeSlice(t.clone()), vec![n]), Ty::Slice(Box::new(t)))
                    }
                    _ => {
                        self.err(span, "`make` takes a type argument and at most a count");
                        Some(err_expr(span))
                    }
                }
            }
            "delete" => {
                if args.len() != 1 {
                    self.err(span, "`delete` takes one argument");
                    return Some(err_expr(span));
                }
                let x = self.expr(&args[0], None);
                let b = match &x.ty {
                    Ty::Error => return Some(err_expr(span)),
                    Ty::Map(..) => Builtin::FreeMap,
                    Ty::Ptr(_) | Ty::Slice(_) => {
                        if let ExprKind::MapIndex(m, k) = x.kind {
                            return mk(ExprKind::Builtin(Builtin::MapRemove, vec![*m, *k]), Ty::Void);
                        }
                        Builtin::Free
                    }
                    _ => {
                        let shown = self.show(&x.ty);
                        self.err(args[0].span, format!("`delete` needs a pointer, slice or map, found `{shown}`"));
                        return Some(err_expr(span));
                    }
                };
                mk(ExprKind::Builtin(b, vec![x]), Ty::Void)
            }
            "len" => {
                if args.len() != 1 {
                    self.err(span, "`len` takes one argument");
                    return Some(err_expr(span));
                }
                let x = self.expr(&args[0], None);
                match &x.ty {
                    Ty::Slice(_) => mk(ExprKind::Builtin(Builtin::Len, vec![x]), U64),
                    Ty::Array(n, _) => mk(ExprKind::Int(*n as i128), U64),
                    Ty::Error => Some(err_expr(span)),
                    _ => {
                        self.err(args[0].span, "`len` needs a slice or array");
                        Some(err_expr(span))
                    }
                }
            }
            "sizeof" => {
                let Some(t) = type_arg(self, 0).filter(|_| args.len() == 1) else {
                    self.err(span, "`sizeof` takes one type argument: `sizeof(@T)`");
                    return Some(err_expr(span));
                };
                mk(ExprKind::Builtin(Builtin::SizeOf(t), vec![]), U64)
            }
            "panic" => {
                if args.len() != 1 {
                    self.err(span, "`panic` takes one argument: the message");
                    return Some(err_expr(span));
                }
                let x = self.expr(&args[0], None);
                let ok = matches!(&x.ty, Ty::Slice(t) | Ty::Ptr(t) if matches!(**t, Ty::Int { bits: 8, .. })) || x.ty.is_error();
                if !ok {
                    self.err(args[0].span, "`panic` needs a message: a `[]u8` or a string");
                }
                mk(ExprKind::Builtin(Builtin::Panic, vec![x]), Ty::Void)
            }
            "each" => Some(self.each(args, span)),
            _ if name.starts_with("__TRUK_VA_ARG_") => {
                let ty = match &name["__TRUK_VA_ARG_".len()..] {
                    "PTR" => Ty::ptr(Ty::Void),
                    "F32" => Ty::Float { bits: 32 },
                    s => Ty::from_prim_name(&s.to_ascii_lowercase()).filter(|t| t.is_numeric())?,
                };
                if !self.fcx.truk_variadic {
                    self.err(span, format!("`{name}` is only available inside a variadic function"));
                }
                if !args.is_empty() {
                    self.err(span, format!("`{name}` takes no arguments"));
                }
                mk(ExprKind::Builtin(Builtin::VaArg(ty.clone()), vec![]), ty)
            }
            _ => self.fleet_builtin(name, args, span),
        }
    }

    fn each(&mut self, args: &[ast::Expr], span: Span) -> Expr {
        if args.len() != 3 {
            self.err(span, "`each` takes three arguments: a collection, a context pointer and a callback");
            return err_expr(span);
        }
        let coll = self.expr(&args[0], None);
        let ctx = self.expr(&args[1], None);
        let cb = self.expr(&args[2], None);
        if coll.ty.is_error() || ctx.ty.is_error() || cb.ty.is_error() {
            return err_expr(span);
        }
        if !ctx.ty.is_ptr() {
            self.err(args[1].span, "the context argument of `each` must be a pointer");
            return err_expr(span);
        }
        let (builtin, want): (Builtin, Vec<Ty>) = match &coll.ty {
            Ty::Map(k, v) => (Builtin::EachMap, vec![(**k).clone(), Ty::ptr((**v).clone()), ctx.ty.clone()]),
            Ty::Slice(t) => (Builtin::EachSlice, vec![Ty::ptr((**t).clone()), ctx.ty.clone()]),
            Ty::Ptr(t) if matches!(**t, Ty::Int { bits: 8, .. }) => (Builtin::EachStr, vec![coll.ty.clone(), ctx.ty.clone()]),
            _ => {
                let shown = self.show(&coll.ty);
                self.err(args[0].span, format!("`each` iterates over maps, slices and strings, not `{shown}`"));
                return err_expr(span);
            }
        };
        let ok = match &cb.ty {
            Ty::Fn { params, ret, .. } => {
                **ret == Ty::Bool
                    && params.len() == want.len()
                    && params.iter().zip(&want).all(|(p, w)| p == w || (p.is_ptr() && w.is_ptr() && matches!((p, w), (Ty::Ptr(a), Ty::Ptr(b)) if a.is_void() || b.is_void())))
            }
            _ => false,
        };
        if !ok {
            let sig: Vec<String> = want.iter().map(|t| self.show(t)).collect();
            self.err(args[2].span, format!("the callback of `each` must be `fn({}) : bool`", sig.join(", ")));
            return err_expr(span);
        }
        Expr { kind: ExprKind::Builtin(builtin, vec![coll, ctx, cb]), ty: Ty::Void, span }
    }

    // ---- conversions -----------------------------------------------------------------------

    /// Whether `e` may be used where `target` is expected (implicitly).
    fn compatible(&self, e: &Expr, target: &Ty) -> bool {
        let t = &e.ty;
        if t == target || t.is_error() || target.is_error() {
            return true;
        }
        match (t, target) {
            (Ty::Int { .. } | Ty::Float { .. }, Ty::Int { .. } | Ty::Float { .. }) => true,
            (Ty::Nil, x) => x.is_nullable(),
            // `*void` converts to and from any pointer, as in C.
            (Ty::Ptr(a), Ty::Ptr(b)) => a.is_void() || b.is_void() || (**a == **b),
            (Ty::Int { .. }, Ty::Enum(_)) => matches!(e.kind, ExprKind::Int(_)),
            (Ty::Enum(_), Ty::Int { .. }) => true,
            (Ty::Array(n, a), Ty::Array(m, b)) => n == m && a == b,
            (Ty::Tuple(a), Ty::Tuple(b)) => a == b,
            _ => false,
        }
    }

    /// A call argument for a parameter of type `p`. An array literal where a slice is
    /// expected (`f([1, 2, 3])`, `spawn(["worker", "3"])`) becomes a slice of a temporary
    /// array that lives until the end of the statement: only call arguments convert so, as
    /// the callee is done with it when the statement ends (unless it keeps the slice).
    pub(super) fn arg_expr(&mut self, a: &ast::Expr, p: &Ty) -> Expr {
        if let (ast::ExprKind::ArrayLit(elems), Ty::Slice(t)) = (&a.kind, p) {
            let arr = Ty::Array(elems.len() as u64, t.clone());
            let x = self.expr(a, Some(&arr));
            let x = self.coerce(x, &arr, "array element type mismatch", a.span);
            return Expr { kind: ExprKind::Cast(Box::new(x)), ty: p.clone(), span: a.span };
        }
        self.expr(a, Some(p))
    }

    pub(super) fn coerce(&mut self, e: Expr, target: &Ty, msg: &str, span: Span) -> Expr {
        if e.ty.is_error() || target.is_error() {
            return e;
        }
        if let (ExprKind::ArrayLit(_), Ty::Slice(_)) = (&e.kind, target) {
            let want = self.show(target);
            self.err(span, format!("{msg}: an array literal becomes a slice (`{want}`) only as a call argument, where it lives until the end of the statement; declare an array for a longer life"));
            return err_expr(span);
        }
        if e.ty.is_void() {
            self.err(span, format!("{msg}: the expression has no value (void)"));
            return err_expr(span);
        }
        if let (ExprKind::TupleLit(elems), Ty::Tuple(ts)) = (&e.kind, target) {
            if elems.len() == ts.len() {
                let ExprKind::TupleLit(elems) = e.kind else { unreachable!() };
                let out = elems.into_iter().zip(ts).map(|(x, t)| {
                    let sp = x.span;
                    self.coerce(x, t, msg, sp)
                }).collect();
                return Expr { kind: ExprKind::TupleLit(out), ty: target.clone(), span: e.span };
            }
        }
        if !self.compatible(&e, target) {
            let (want, got) = (self.show(target), self.show(&e.ty));
            self.err(span, format!("{msg}: expected `{want}`, found `{got}`"));
            return err_expr(span);
        }
        self.cast_to(e, target)
    }

    fn castable(&self, from: &Ty, to: &Ty) -> bool {
        let scalar = |t: &Ty| matches!(t, Ty::Int { .. } | Ty::Float { .. } | Ty::Bool | Ty::Enum(_));
        let addr = |t: &Ty| matches!(t, Ty::Ptr(_) | Ty::Fn { .. } | Ty::Nil);
        from == to
            || (scalar(from) && scalar(to))
            || (addr(from) && addr(to))
            || (addr(from) && to.is_int())
            || (from.is_int() && addr(to))
            || matches!((from, to), (Ty::Array(_, a), Ty::Ptr(b)) if a == b)
            || matches!((from, to), (Ty::Slice(a), Ty::Ptr(b)) if a == b)
    }

    /// Wrap `e` in a conversion to `ty` unless it already has that type; literals convert in place.
    fn cast_to(&mut self, e: Expr, ty: &Ty) -> Expr {
        if &e.ty == ty || e.ty.is_error() || ty.is_error() {
            return e;
        }
        match (&e.kind, ty) {
            (ExprKind::Int(v), Ty::Int { .. } | Ty::Enum(_)) => return Expr { kind: ExprKind::Int(*v), ty: ty.clone(), span: e.span },
            (ExprKind::Int(v), Ty::Float { .. }) => return Expr { kind: ExprKind::Float(*v as f64), ty: ty.clone(), span: e.span },
            (ExprKind::Float(v), Ty::Float { .. }) => return Expr { kind: ExprKind::Float(*v), ty: ty.clone(), span: e.span },
            (ExprKind::Nil, _) => return Expr { kind: ExprKind::Nil, ty: ty.clone(), span: e.span },
            (ExprKind::Str(_), Ty::Ptr(_)) => return Expr { ty: ty.clone(), ..e },
            _ => {}
        }
        let span = e.span;
        Expr { kind: ExprKind::Cast(Box::new(e)), ty: ty.clone(), span }
    }
}

fn op_allows_float(op: ast::BinOp) -> bool {
    matches!(op, ast::BinOp::Add | ast::BinOp::Sub | ast::BinOp::Mul | ast::BinOp::Div | ast::BinOp::Rem)
}

/// The usual arithmetic conversions: floats win, then width, then unsignedness.
fn common_type(a: &Ty, b: &Ty) -> Ty {
    match (a, b) {
        (Ty::Float { bits: x }, Ty::Float { bits: y }) => Ty::Float { bits: (*x).max(*y) },
        (Ty::Float { .. }, _) => a.clone(),
        (_, Ty::Float { .. }) => b.clone(),
        (Ty::Int { signed: s1, bits: b1 }, Ty::Int { signed: s2, bits: b2 }) => {
            if b1 > b2 {
                a.clone()
            } else if b2 > b1 {
                b.clone()
            } else {
                Ty::Int { signed: *s1 && *s2, bits: *b1 }
            }
        }
        _ => a.clone(),
    }
}

/// Untyped: a literal whose type comes from its context.
fn is_untyped(e: &ast::Expr) -> bool {
    match &e.kind {
        ast::ExprKind::Int(_) | ast::ExprKind::Float(_) | ast::ExprKind::Char(_) | ast::ExprKind::Nil => true,
        ast::ExprKind::Unary(ast::UnOp::Neg | ast::UnOp::BitNot, x) => is_untyped(x),
        ast::ExprKind::Binary(op, a, b) if !op.is_comparison() && !matches!(op, ast::BinOp::And | ast::BinOp::Or) => {
            is_untyped(a) && is_untyped(b)
        }
        _ => false,
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


/// Whether a block always ends in `return` (or never falls off its end).
fn block_returns(b: &Block) -> bool {
    b.stmts.iter().any(stmt_returns)
}

fn stmt_returns(s: &Stmt) -> bool {
    match &s.kind {
        StmtKind::Return(_) => true,
        StmtKind::Block(b) => block_returns(b),
        StmtKind::If { then, els: Some(e), .. } => block_returns(then) && stmt_returns(e),
        StmtKind::Loop { cond: None, .. } => true,
        StmtKind::Loop { cond: Some(c), .. } => matches!(c.kind, ExprKind::Bool(true)),
        StmtKind::Match { arms, default, .. } => arms.iter().all(|(_, s)| stmt_returns(s)) && stmt_returns(default),
        StmtKind::Expr(e) => matches!(e.kind, ExprKind::Builtin(Builtin::Panic, _)),
        _ => false,
    }
}

/// Fold a checked expression to a constant, if it is one.
pub fn fold_const(e: &Expr) -> Option<Const> {
    Some(match &e.kind {
        ExprKind::Int(v) => {
            if e.ty.is_float() {
                Const::Float(*v as f64)
            } else {
                Const::Int(*v)
            }
        }
        ExprKind::Float(v) => Const::Float(*v),
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Str(s) => Const::Str(s.clone()),
        ExprKind::Nil => Const::Nil,
        ExprKind::Func(f) => Const::Func(*f),
        ExprKind::Zero => Const::Zero,
        ExprKind::StructLit(xs) | ExprKind::ArrayLit(xs) | ExprKind::TupleLit(xs) => {
            Const::Aggregate(xs.iter().map(fold_const).collect::<Option<Vec<_>>>()?)
        }
        ExprKind::Cast(x) => {
            let c = fold_const(x)?;
            match (c, &e.ty) {
                (Const::Int(v), Ty::Float { .. }) => Const::Float(v as f64),
                (Const::Float(v), Ty::Int { .. }) => Const::Int(v as i128),
                (Const::Int(v), Ty::Int { signed, bits }) => Const::Int(wrap_int(v, *signed, *bits)),
                (Const::Int(v), Ty::Enum(_)) => Const::Int(v),
                (c @ Const::Float(_), Ty::Float { .. }) => c,
                _ => return None,
            }
        }
        ExprKind::Unary(UnOp::Neg, x) => match fold_const(x)? {
            Const::Int(v) => Const::Int(-v),
            Const::Float(v) => Const::Float(-v),
            _ => return None,
        },
        ExprKind::Binary(op, a, b) => match (fold_const(a)?, fold_const(b)?) {
            (Const::Int(x), Const::Int(y)) => {
                use ast::BinOp::*;
                let v = match op {
                    Add => x.checked_add(y)?,
                    Sub => x.checked_sub(y)?,
                    Mul => x.checked_mul(y)?,
                    // Not folded where the program would panic: the minimum over -1 overflows.
                    Div | Rem if y == -1 && matches!(e.ty, Ty::Int { signed: true, bits } if wrap_int(-x, true, bits) != -x) => return None,
                    Div => x.checked_div(y)?,
                    Rem => x.checked_rem(y)?,
                    BitAnd => x & y,
                    BitOr => x | y,
                    BitXor => x ^ y,
                    Shl => x.checked_shl(u32::try_from(y).ok()?)?,
                    Shr => x.checked_shr(u32::try_from(y).ok()?)?,
                    _ => return None,
                };
                match &e.ty {
                    Ty::Int { signed, bits } => Const::Int(wrap_int(v, *signed, *bits)),
                    _ => return None,
                }
            }
            (Const::Float(x), Const::Float(y)) => Const::Float(match op {
                ast::BinOp::Add => x + y,
                ast::BinOp::Sub => x - y,
                ast::BinOp::Mul => x * y,
                ast::BinOp::Div => x / y,
                _ => return None,
            }),
            _ => return None,
        },
        _ => return None,
    })
}

pub fn wrap_int(v: i128, signed: bool, bits: u8) -> i128 {
    let mask: u128 = if bits >= 128 { u128::MAX } else { (1u128 << bits) - 1 };
    let u = (v as u128) & mask;
    if signed && bits < 128 && (u >> (bits - 1)) & 1 == 1 {
        (u | !mask) as i128
    } else {
        u as i128
    }
}
