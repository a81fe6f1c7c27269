//! What the language server knows of a document: the compiler's front end run over its import
//! closure (the editor's unsaved texts in place of the files), and an index from spans to
//! types and definitions built from the typed HIR, without changing the checker.

use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, SourceMap, Span};
use crate::driver::build::{load_with, on_compiler_stack};
use crate::hir::ty::{Ty, TyDisplay};
use crate::hir::{self, ExprKind, Program, StmtKind};

/// One name or expression of the entry file: its span, its type, and the declaration it
/// names, if any. A function's or global's declaration spans all of it: `name` then says
/// which word of it stands for the whole.
pub struct Entry {
    pub span: Span,
    pub ty: Ty,
    pub def: Option<Span>,
    pub name: Option<String>,
}

pub struct Analysis {
    pub sources: SourceMap,
    pub diags: Vec<Diagnostic>,
    /// `None` when the files did not parse (only syntax errors are known then).
    pub prog: Option<Program>,
    pub index: Vec<Entry>,
}

/// Run the front end on `entry` (file 0 of the result).
pub fn analyze(entry: &Path, include: &[PathBuf], overlay: &(dyn Fn(&Path) -> Option<String> + Sync)) -> Analysis {
    on_compiler_stack(|| match load_with(entry, include, overlay) {
        Err((sources, diags)) => Analysis { sources, diags, prog: None, index: vec![] },
        Ok(loaded) => {
            let (prog, diags) = hir::check::check(&loaded.modules);
            let mut w = Walk { p: &prog, sources: &loaded.sources, f: None, out: vec![] };
            for f in &prog.funcs {
                w.f = Some(f);
                for l in &f.locals {
                    w.out.push(Entry { span: l.span, ty: l.ty.clone(), def: Some(l.span), name: None });
                }
                if let Some(b) = &f.body {
                    w.block(b);
                }
                if !f.name.contains('#') {
                    w.out.push(Entry { span: f.span, ty: f.fn_ty(), def: Some(f.span), name: Some(f.name.clone()) });
                }
            }
            for g in &prog.globals {
                w.out.push(Entry { span: g.span, ty: g.ty.clone(), def: Some(g.span), name: Some(g.name.clone()) });
            }
            let mut index = w.out;
            index.retain(|e| e.span.file == 0);
            Analysis { sources: loaded.sources, diags, prog: Some(prog), index }
        }
    })
}

/// What is known when the front end panicked: one diagnostic saying so.
pub fn failed(path: &Path, text: &str) -> Analysis {
    let mut sources = SourceMap::default();
    sources.add(path.to_path_buf(), text.to_string());
    let d = Diagnostic::global("internal compiler error while checking this file (see the server's stderr)");
    Analysis { sources, diags: vec![d], prog: None, index: vec![] }
}

/// Collects the index entries of the functions' bodies.
struct Walk<'a> {
    p: &'a Program,
    sources: &'a SourceMap,
    f: Option<&'a hir::Function>,
    out: Vec<Entry>,
}

impl Walk<'_> {
    /// Where field `n` of a struct is declared: its name, found in the declaration's text
    /// (the HIR keeps the struct's span, not its fields').
    fn field_span(&self, id: u32, n: u32) -> Option<Span> {
        let s = self.p.structs.get(id as usize)?;
        let name = &s.fields.as_ref()?.get(n as usize)?.0;
        let text = self.sources.file(s.span.file).text.get(s.span.lo as usize..s.span.hi as usize)?;
        let body = text.find('{')?;
        let is_id = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let at = text[body..].match_indices(name.as_str()).map(|(i, _)| body + i).find(|&i| {
            !text[..i].ends_with(is_id) && text[i + name.len()..].trim_start().starts_with(':') && !text[i + name.len()..].starts_with(is_id)
        })?;
        Some(Span::new(s.span.file, s.span.lo as usize + at, s.span.lo as usize + at + name.len()))
    }

    fn block(&mut self, b: &hir::Block) {
        for s in &b.stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &hir::Stmt) {
        match &s.kind {
            StmtKind::Let(_, e) => e.iter().for_each(|e| self.expr(e)),
            StmtKind::LetTuple(_, e) | StmtKind::Expr(e) => self.expr(e),
            StmtKind::Return(e) => e.iter().for_each(|e| self.expr(e)),
            StmtKind::Assign { place, value, .. } => {
                self.expr(place);
                self.expr(value);
            }
            StmtKind::If { cond, then, els } => {
                self.expr(cond);
                self.block(then);
                els.iter().for_each(|s| self.stmt(s));
            }
            StmtKind::Loop { cond, body, step } => {
                cond.iter().for_each(|e| self.expr(e));
                self.block(body);
                step.iter().for_each(|s| self.stmt(s));
            }
            StmtKind::Defer(s) => self.stmt(s),
            StmtKind::Block(b) => self.block(b),
            StmtKind::Match { scrutinee, arms, default } => {
                self.expr(scrutinee);
                for (vals, body) in arms {
                    vals.iter().for_each(|e| self.expr(e));
                    self.stmt(body);
                }
                self.stmt(default);
            }
            StmtKind::Break | StmtKind::Continue => {}
        }
    }

    fn expr(&mut self, e: &hir::Expr) {
        // Recursion over the HIR is safe: the parser's nesting limit bounds it, and this runs on
        // the compiler's stack.
        let def = match &e.kind {
            ExprKind::Local(id) => self.f.and_then(|f| f.locals.get(*id as usize)).map(|l| l.span),
            ExprKind::Global(id) => self.p.globals.get(*id as usize).map(|g| g.span),
            ExprKind::Func(id) => self.p.funcs.get(*id as usize).map(|f| f.span),
            ExprKind::Field(base, n) => match &base.ty {
                Ty::Struct(id) => self.field_span(*id, *n),
                Ty::Ptr(t) => match **t {
                    Ty::Struct(id) => self.field_span(id, *n),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        self.out.push(Entry { span: e.span, ty: e.ty.clone(), def, name: None });
        match &e.kind {
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) | ExprKind::MapIndex(a, b) | ExprKind::MapSlot(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Unary(_, a) | ExprKind::AddrOf(a) | ExprKind::Deref(a) | ExprKind::Field(a, _) | ExprKind::Cast(a) => self.expr(a),
            ExprKind::Call(callee, args) => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::StructLit(xs) | ExprKind::ArrayLit(xs) | ExprKind::TupleLit(xs) | ExprKind::Builtin(_, xs) => {
                xs.iter().for_each(|a| self.expr(a))
            }
            _ => {}
        }
    }
}

impl Analysis {
    /// The innermost indexed span of the entry file around `offset`, where the cursor is on
    /// `word`.
    pub fn at(&self, offset: u32, word: &str) -> Option<&Entry> {
        self.index
            .iter()
            .filter(|e| e.span.lo <= offset && offset < e.span.hi.max(e.span.lo + 1))
            .filter(|e| e.name.as_ref().is_none_or(|n| n == word))
            .min_by_key(|e| (e.span.hi - e.span.lo, e.def.is_none()))
    }

    /// The declaration a name at `offset` refers to, for go to definition: a local, or a
    /// global or function (in any file of the closure).
    pub fn definition(&self, offset: u32, name: &str) -> Option<Span> {
        let prog = self.prog.as_ref()?;
        if let Some(d) = self.at(offset, name).and_then(|e| e.def) {
            return Some(d);
        }
        prog.funcs
            .iter()
            .filter(|f| f.name == name)
            .map(|f| f.span)
            .chain(prog.globals.iter().filter(|g| g.name == name).map(|g| g.span))
            .chain(prog.structs.iter().filter(|s| s.name == name).map(|s| s.span))
            .chain(prog.enums.iter().filter(|e| e.name == name).map(|e| e.span))
            .next()
    }

    /// `struct P { x: i32, y: i32 }` for a struct's name.
    pub fn describe_struct(&self, name: &str) -> Option<String> {
        let p = self.prog.as_ref()?;
        let s = p.structs.iter().find(|s| s.name == name)?;
        let fields: Vec<String> = s.fields.iter().flatten().map(|(n, t)| format!("{n}: {}", show(p, t))).collect();
        Some(match s.fields {
            Some(_) => format!("struct {} {{ {} }}", s.name, fields.join(", ")),
            None => format!("extern struct {};", s.name),
        })
    }

    pub fn show(&self, ty: &Ty) -> String {
        match &self.prog {
            Some(p) => show(p, ty),
            None => String::new(),
        }
    }
}

/// A type as the source spells it.
pub fn show(p: &Program, ty: &Ty) -> String {
    let sn = |id: u32| p.structs.get(id as usize).map_or("?".into(), |s| s.name.clone());
    let en = |id: u32| p.enums.get(id as usize).map_or("?".into(), |e| e.name.clone());
    TyDisplay { ty, struct_names: &sn, enum_names: &en }.to_string()
}
