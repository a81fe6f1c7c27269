//! A readable text form of MIR, for tests and debugging.
//!
//! ```text
//! fn f(_0: i32) : i32 {
//!     let _1: i32;  // acc
//!   bb0:
//!     _1 = 0;
//!     branch (_0 > 1) bb1 bb2;
//! ```

use std::fmt::Write;

use crate::hir::ty::TyDisplay;
use crate::hir::{Builtin, Expr, ExprKind, FuncId, Ty, UnOp};

use super::{Body, Program, Stmt, Terminator};

pub fn program(p: &Program) -> String {
    let mut out = String::new();
    for (i, b) in p.bodies.iter().enumerate() {
        if let Some(b) = b {
            out.push_str(&function(p, i as FuncId, b));
            out.push('\n');
        }
    }
    out
}

pub fn function(p: &Program, id: FuncId, body: &Body) -> String {
    print_function(Printer { p, unchecked: Default::default() }, id, body)
}

/// As `function`, with the indexing that optimized builds leave unchecked (`bounds.rs`)
/// written `a[i; unchecked]`.
pub fn function_with_checks(p: &Program, id: FuncId, body: &Body) -> String {
    print_function(Printer { p, unchecked: super::bounds::unchecked(body) }, id, body)
}

fn print_function(pr: Printer, id: FuncId, body: &Body) -> String {
    let p = pr.p;
    let f = &p.hir.funcs[id as usize];
    let mut out = String::new();
    let params: Vec<String> = body.params.iter().map(|&l| format!("_{l}: {}", pr.ty(&body.locals[l as usize].ty))).collect();
    let _ = writeln!(out, "fn {}({}) : {} {{", f.name, params.join(", "), pr.ty(&f.ret));
    for (i, l) in body.locals.iter().enumerate() {
        if body.params.contains(&(i as u32)) {
            continue;
        }
        let note = if l.name.is_empty() { String::new() } else { format!("  // {}", l.name) };
        let _ = writeln!(out, "    let _{i}: {};{note}", pr.ty(&l.ty));
    }
    for (i, b) in body.blocks.iter().enumerate() {
        let _ = writeln!(out, "  bb{i}:");
        for s in &b.stmts {
            let _ = writeln!(out, "    {};", pr.stmt(s));
        }
        let _ = writeln!(out, "    {};", pr.term(&b.term));
    }
    out.push_str("}\n");
    out
}

struct Printer<'a> {
    p: &'a Program,
    unchecked: std::collections::HashSet<*const Expr>,
}

impl Printer<'_> {
    fn ty(&self, t: &Ty) -> String {
        let h = &self.p.hir;
        TyDisplay { ty: t, struct_names: &|id| h.structs[id as usize].name.clone(), enum_names: &|id| h.enums[id as usize].name.clone() }
            .to_string()
    }

    fn stmt(&self, s: &Stmt) -> String {
        match s {
            Stmt::Assign { place, op, value } => {
                let op = op.map(|o| o.symbol()).unwrap_or("");
                format!("{} {op}= {}", self.expr(place), self.expr(value))
            }
            Stmt::LetTuple(ids, e) => {
                let names: Vec<String> = ids.iter().map(|i| i.map(|i| format!("_{i}")).unwrap_or_else(|| "_".into())).collect();
                format!("({}) = {}", names.join(", "), self.expr(e))
            }
            Stmt::Eval(e) => self.expr(e),
            Stmt::MapNext { map, cursor, key, value } => format!("_{cursor} = map_next({}, _{cursor}, &_{key}, &_{value})", self.expr(map)),
        }
    }

    fn term(&self, t: &Terminator) -> String {
        match t {
            Terminator::Goto(b) => format!("goto bb{b}"),
            Terminator::Branch { cond, then, els } => format!("branch {} bb{then} bb{els}", self.expr(cond)),
            Terminator::Switch { value, cases, default } => {
                let cs: Vec<String> = cases.iter().map(|(v, b)| format!("{v} => bb{b}")).collect();
                format!("switch {} [{}, _ => bb{default}]", self.expr(value), cs.join(", "))
            }
            Terminator::Return(Some(e)) => format!("return {}", self.expr(e)),
            Terminator::Return(None) => "return".into(),
            Terminator::Panic(e) => format!("panic {}", self.expr(e)),
            Terminator::Unreachable => "unreachable".into(),
            Terminator::Restart => "restart checked".into(),
        }
    }

    fn list(&self, xs: &[Expr]) -> String {
        xs.iter().map(|x| self.expr(x)).collect::<Vec<_>>().join(", ")
    }

    fn expr(&self, e: &Expr) -> String {
        let h = &self.p.hir;
        match &e.kind {
            ExprKind::Int(v) => v.to_string(),
            ExprKind::Float(v) => format!("{v:?}"),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::Str(s) => format!("{:?}", String::from_utf8_lossy(s)),
            ExprKind::Nil => "nil".into(),
            ExprKind::Zero => format!("zero::<{}>", self.ty(&e.ty)),
            ExprKind::Local(l) => format!("_{l}"),
            ExprKind::Global(g) => h.globals[*g as usize].name.clone(),
            ExprKind::Func(f) => h.funcs[*f as usize].name.clone(),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", self.expr(a), op.symbol(), self.expr(b)),
            ExprKind::Unary(op, x) => {
                let o = match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                    UnOp::BitNot => "~",
                };
                format!("{o}{}", self.expr(x))
            }
            ExprKind::AddrOf(x) => format!("&{}", self.expr(x)),
            ExprKind::Deref(x) => format!("*{}", self.expr(x)),
            ExprKind::Call(c, args) => format!("{}({})", self.expr(c), self.list(args)),
            ExprKind::Field(b, i) => match &b.ty {
                Ty::Struct(id) => {
                    let name = h.structs[*id as usize].fields.as_ref().and_then(|f| f.get(*i as usize)).map(|f| f.0.clone());
                    format!("{}.{}", self.expr(b), name.unwrap_or_else(|| i.to_string()))
                }
                _ => format!("{}.{i}", self.expr(b)),
            },
            ExprKind::Index(b, i) if self.unchecked.contains(&(e as *const Expr)) => format!("{}[{}; unchecked]", self.expr(b), self.expr(i)),
            ExprKind::Index(b, i) => format!("{}[{}]", self.expr(b), self.expr(i)),
            ExprKind::MapIndex(m, k) => format!("map_get({}, {})", self.expr(m), self.expr(k)),
            ExprKind::MapSlot(m, k) => format!("map_slot({}, {})", self.expr(m), self.expr(k)),
            ExprKind::Cast(x) => format!("({} as {})", self.expr(x), self.ty(&e.ty)),
            ExprKind::StructLit(xs) => format!("{}{{{}}}", self.ty(&e.ty), self.list(xs)),
            ExprKind::ArrayLit(xs) => format!("[{}]", self.list(xs)),
            ExprKind::TupleLit(xs) => format!("({})", self.list(xs)),
            ExprKind::Builtin(b, xs) => {
                let name = match b {
                    Builtin::MakeOne(t) | Builtin::MakeSlice(t) => format!("make::<{}>", self.ty(t)),
                    Builtin::MakeMap(k, v) => format!("make::<map[{}, {}]>", self.ty(k), self.ty(v)),
                    Builtin::SizeOf(t) => format!("sizeof::<{}>", self.ty(t)),
                    Builtin::VaArg(t) => format!("va_arg::<{}>", self.ty(t)),
                    other => format!("{other:?}").to_lowercase(),
                };
                format!("{name}({})", self.list(xs))
            }
        }
    }
}
