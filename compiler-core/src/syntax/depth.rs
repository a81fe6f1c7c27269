//! The nesting limit: how deep an item's syntax tree may be.
//!
//! Every later stage (checking, MIR lowering, codegen, LLVM, dropping the trees) recurses
//! over the trees, so a tree deeper than the stages' stack holds would crash the compiler.
//! Right after parsing, each item's depth is measured here without recursion; an item
//! deeper than [`MAX_DEPTH`] is an error at its first node beyond the limit and leaves the
//! module. The stages run on a thread with a large stack (`driver::build::COMPILER_STACK`),
//! many times what a tree at the limit needs.
//!
//! Depth counts statements, expressions and types: a function's statements are at depth 1,
//! each statement, expression or type one deeper than the one it is part of (a block adds
//! nothing; `1 + 2 + 3` is 3 deep: `(1 + 2) + 3`, `1 + 2`, `1`). The parser also counts
//! parentheses while it recurses (`syntax::parser`), with the same limit.

use crate::diag::{Diagnostic, Span};
use crate::syntax::ast::*;

/// How deep an item's statements, expressions and types may nest.
pub const MAX_DEPTH: usize = 1000;

/// The message for a tree nested deeper than the limit (`levels`: how deep, when known).
pub fn too_deep(span: Span, what: &str, levels: Option<usize>) -> Diagnostic {
    let levels = match levels {
        Some(n) => format!("{n} levels"),
        None => format!("more than {MAX_DEPTH} levels"),
    };
    Diagnostic::error(span, format!("{what} nested too deeply: {levels}, the limit is {MAX_DEPTH}"))
}

/// `item`, or `None` with an error when it nests deeper than [`MAX_DEPTH`].
pub fn check_item(item: Item, diags: &mut Vec<Diagnostic>) -> Option<Item> {
    match too_deep_in(&item) {
        None => Some(item),
        Some(d) => {
            diags.push(d);
            // Dropping it would recurse as deep as it nests: it is left to the OS (the build
            // fails anyway).
            std::mem::forget(item);
            None
        }
    }
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Expr(&'a Expr),
    Stmt(&'a Stmt),
    Type(&'a Type),
}

/// The error for `item` if it nests too deeply: at its first node beyond the limit, saying
/// how deep the item goes.
fn too_deep_in(item: &Item) -> Option<Diagnostic> {
    let mut stack: Vec<(Node, usize)> = vec![];
    match item {
        Item::Fn(f) | Item::ExternFn(f) => fn_children(f, 1, &mut stack),
        Item::Struct(s) | Item::ExternStruct(s) => {
            stack.extend(s.fields.iter().flatten().map(|f| (Node::Type(&f.ty), 1)));
        }
        Item::Enum(e) | Item::ExternEnum(e) => {
            stack.push((Node::Type(&e.base), 1));
            stack.extend(e.variants.iter().filter_map(|v| v.value.as_ref()).map(|x| (Node::Expr(x), 1)));
        }
        Item::Global(v) | Item::ExternVar(v) => var_children(v, 1, &mut stack),
        Item::Import { .. } | Item::CImport { .. } | Item::Shard { .. } => {}
    }
    let mut first: Option<Node> = None;
    let mut deepest = 0;
    while let Some((node, d)) = stack.pop() {
        deepest = deepest.max(d);
        // The leftmost node just past the limit: the start of a long chain.
        if d == MAX_DEPTH + 1 && first.is_none_or(|f| span_of(node).0.lo < span_of(f).0.lo) {
            first = Some(node);
        }
        children(node, d + 1, &mut stack);
    }
    let (span, what) = span_of(first?);
    Some(too_deep(Span { hi: span.lo + 1, ..span }, what, Some(deepest)))
}

fn span_of(node: Node) -> (Span, &'static str) {
    match node {
        Node::Expr(e) => (e.span, "expression"),
        Node::Stmt(s) => (s.span, "statement"),
        Node::Type(t) => (t.span, "type"),
    }
}

/// Push the children of `node`, at depth `d`.
fn children<'a>(node: Node<'a>, d: usize, out: &mut Vec<(Node<'a>, usize)>) {
    let mut e = |x: &'a Expr| out.push((Node::Expr(x), d));
    match node {
        Node::Expr(x) => match &x.kind {
            ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) => {
                e(a);
                e(b);
            }
            ExprKind::Unary(_, a) | ExprKind::Field(a, _) | ExprKind::Arrow(a, _) => e(a),
            ExprKind::Call(f, args) => {
                e(f);
                args.iter().for_each(e);
            }
            ExprKind::Cast(a, t) => {
                e(a);
                out.push((Node::Type(t), d));
            }
            ExprKind::StructLit(_, fields) => fields.iter().for_each(|(_, v)| e(v)),
            ExprKind::ArrayLit(xs) => xs.iter().for_each(e),
            ExprKind::TypeArg(t) => out.push((Node::Type(t), d)),
            ExprKind::Lambda(f) => fn_children(f, d, out),
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Char(_) | ExprKind::Bool(_)
            | ExprKind::Nil | ExprKind::Ident(_) => {}
        },
        Node::Stmt(s) => match &s.kind {
            StmtKind::Var(v) => var_children(v, d, out),
            StmtKind::Let { init, .. } => init.iter().for_each(e),
            StmtKind::Expr(x) => e(x),
            StmtKind::Assign { target, value, .. } => {
                e(target);
                e(value);
            }
            StmtKind::If { cond, then, els } => {
                e(cond);
                block(then, d, out);
                out.extend(els.iter().map(|s| (Node::Stmt(s), d)));
            }
            StmtKind::While { cond, body } => {
                e(cond);
                block(body, d, out);
            }
            StmtKind::For { init, cond, step, body } => {
                cond.iter().for_each(e);
                out.extend(init.iter().chain(step.iter()).map(|s| (Node::Stmt(s), d)));
                block(body, d, out);
            }
            StmtKind::Return(xs) => xs.iter().for_each(e),
            StmtKind::Defer(s) => out.push((Node::Stmt(s), d)),
            StmtKind::Block(b) => block(b, d, out),
            StmtKind::Match { scrutinee, arms } => {
                e(scrutinee);
                for arm in arms {
                    out.extend(arm.pattern.iter().map(|p| (Node::Expr(p), d)));
                    out.push((Node::Stmt(&arm.body), d));
                }
            }
            StmtKind::Break | StmtKind::Continue => {}
        },
        Node::Type(t) => match &t.kind {
            TypeKind::Named(_) => {}
            TypeKind::Ptr(x) | TypeKind::Slice(x) => out.push((Node::Type(x), d)),
            TypeKind::Array(n, x) | TypeKind::Chan(x, n) => {
                out.push((Node::Expr(n), d));
                out.push((Node::Type(x), d));
            }
            TypeKind::Map(k, v) => out.extend([k, v].map(|t| (Node::Type(t), d))),
            TypeKind::Table(k, v, n) => {
                out.push((Node::Expr(n), d));
                out.extend([k, v].map(|t| (Node::Type(t), d)));
            }
            TypeKind::Tuple(ts) => out.extend(ts.iter().map(|t| (Node::Type(t), d))),
            TypeKind::Fn(ps, r) => out.extend(ps.iter().chain(r.as_deref()).map(|t| (Node::Type(t), d))),
        },
    }
}

fn block<'a>(b: &'a Block, d: usize, out: &mut Vec<(Node<'a>, usize)>) {
    out.extend(b.stmts.iter().map(|s| (Node::Stmt(s), d)));
}

fn fn_children<'a>(f: &'a FnDecl, d: usize, out: &mut Vec<(Node<'a>, usize)>) {
    out.extend(f.params.iter().map(|p| &p.ty).chain(f.ret.as_ref()).map(|t| (Node::Type(t), d)));
    if let Some(b) = &f.body {
        block(b, d, out);
    }
}

fn var_children<'a>(v: &'a VarDecl, d: usize, out: &mut Vec<(Node<'a>, usize)>) {
    out.extend(v.ty.iter().map(|t| (Node::Type(t), d)));
    out.extend(v.init.iter().map(|x| (Node::Expr(x), d)));
}
