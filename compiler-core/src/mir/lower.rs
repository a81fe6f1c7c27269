//! HIR -> MIR: structured control flow becomes blocks and edges.
//!
//! Deferred statements are kept per open scope and copied onto each exit edge of their
//! scope, innermost first, with the semantics the corpus decided (see
//! `tests/conformance-known-failures.md`): a `return` value that calls a function is computed
//! before the defers run, a plain one after them; `break`/`continue` run the defers of the
//! scopes nested in the loop body, not the body's own.

use crate::diag::Span;
use crate::hir::{self, Builtin, Expr, ExprKind, LocalId, Ty, UnOp};
use crate::syntax::ast::BinOp;

use super::{Block, BlockId, Body, Layouts, Program, Stmt, Terminator};

/// Lower every function body of a checked program, and finalize layouts for `triple`.
pub fn lower(mut prog: hir::Program, triple: &str) -> Program {
    let layouts = Layouts::new(&prog, triple);
    let shared = layouts.shared_area(&prog);
    let bodies = prog
        .funcs
        .iter_mut()
        .map(|f| {
            let b = f.body.take()?;
            let body = lower_body(std::mem::take(&mut f.locals), &f.params, &f.ret, b);
            // The declaration keeps only what its signature reads (`fn_ty`): the body has the
            // locals, so a program's locals are not held twice through codegen.
            let keep = f.params.iter().map(|&p| p as usize + 1).max().unwrap_or(0);
            f.locals = body.locals[..keep].to_vec();
            Some(body)
        })
        .collect();
    Program { hir: prog, bodies, layouts, shared }
}

pub fn lower_body(locals: Vec<hir::Local>, params: &[LocalId], ret: &Ty, body: hir::Block) -> Body {
    let mut l = Lower {
        locals,
        blocks: vec![Open { stmts: vec![], term: None }],
        cur: 0,
        scopes: vec![],
        loops: vec![],
        block_spans: vec![],
        local_scopes: vec![],
    };
    // The implicit return at the end belongs to the closing brace (for debug line tables).
    let span = Span { lo: body.span.hi.saturating_sub(1).max(body.span.lo), ..body.span };
    l.block(body);
    if l.is_open() {
        l.run_defers(0);
        // Only `main` may fall off its end (the checker saw to that): it returns 0.
        let value = (!ret.is_void()).then(|| Expr { kind: ExprKind::Zero, ty: ret.clone(), span });
        l.terminate(Terminator::Return(value));
    }
    let mut scopes = l.local_scopes;
    scopes.resize(l.locals.len(), None);
    let mut blocks = prune(l.blocks);
    // Bodies live until codegen is done: without the slack their vectors grew with.
    for b in &mut blocks {
        b.stmts.shrink_to_fit();
    }
    blocks.shrink_to_fit();
    let mut locals = l.locals;
    locals.shrink_to_fit();
    Body { locals, params: params.to_vec(), blocks, scopes, checked: None }
}

/// A block under construction: `term` is None while statements may still be added.
struct Open {
    stmts: Vec<Stmt>,
    term: Option<Terminator>,
}

struct Lower {
    locals: Vec<hir::Local>,
    blocks: Vec<Open>,
    cur: BlockId,
    /// Deferred statements of each open scope, innermost last.
    scopes: Vec<Vec<hir::Stmt>>,
    /// (continue target, break target, scope depth at the loop).
    loops: Vec<(BlockId, BlockId, usize)>,
    /// The spans of the open source blocks, innermost last (the body's first).
    block_spans: Vec<Span>,
    /// Per local: the nested block that declares it (see `Body::scopes`).
    local_scopes: Vec<Option<Span>>,
}

impl Lower {
    // ---- blocks ----------------------------------------------------------------------------

    fn new_block(&mut self) -> BlockId {
        self.blocks.push(Open { stmts: vec![], term: None });
        (self.blocks.len() - 1) as BlockId
    }

    fn switch_to(&mut self, b: BlockId) {
        self.cur = b;
    }

    fn is_open(&self) -> bool {
        self.blocks[self.cur as usize].term.is_none()
    }

    /// Code after a terminator (after `return`, say) still needs a home: a fresh block that
    /// nothing jumps to, dropped by `prune`.
    fn open_block(&mut self) -> &mut Open {
        if !self.is_open() {
            self.cur = self.new_block();
        }
        &mut self.blocks[self.cur as usize]
    }

    fn push(&mut self, s: Stmt) {
        self.open_block().stmts.push(s);
    }

    fn terminate(&mut self, t: Terminator) {
        self.open_block().term = Some(t);
    }

    /// Jump to `b` unless the current block already ended (in a return or a break).
    fn goto(&mut self, b: BlockId) {
        if self.is_open() {
            self.terminate(Terminator::Goto(b));
        }
    }

    fn temp(&mut self, ty: Ty, span: Span) -> LocalId {
        self.locals.push(hir::Local { name: String::new(), ty, span });
        (self.locals.len() - 1) as LocalId
    }

    fn assign_local(&mut self, id: LocalId, value: Expr) {
        let place = local(id, value.ty.clone(), value.span);
        self.push(Stmt::Assign { place, op: None, value });
    }

    // ---- scopes and defers -----------------------------------------------------------------

    fn block(&mut self, b: hir::Block) {
        self.scopes.push(vec![]);
        self.block_spans.push(b.span);
        for s in b.stmts {
            self.stmt(s);
        }
        self.block_spans.pop();
        self.close_scope();
    }

    /// Local `id` is declared in the innermost open block.
    fn declared(&mut self, id: LocalId) {
        if self.block_spans.len() < 2 {
            return;
        }
        let i = id as usize;
        if self.local_scopes.len() <= i {
            self.local_scopes.resize(i + 1, None);
        }
        self.local_scopes[i] = self.block_spans.last().copied();
    }

    /// Leave the innermost scope: its defers run if control falls off its end.
    fn close_scope(&mut self) {
        let depth = self.scopes.len() - 1;
        if self.is_open() {
            self.run_defers(depth);
        }
        self.scopes.pop();
    }

    /// Lower the deferred statements of every scope deeper than `depth`, innermost first.
    fn run_defers(&mut self, depth: usize) {
        let pending: Vec<hir::Stmt> = self.scopes[depth..].iter().rev().flat_map(|s| s.iter().rev().cloned()).collect();
        if pending.is_empty() {
            return;
        }
        // A deferred statement runs with the defers of its own scope already popped.
        let saved = std::mem::take(&mut self.scopes);
        for s in pending {
            self.scopes.push(vec![]);
            self.stmt(s);
            self.scopes.pop();
        }
        self.scopes = saved;
    }

    // ---- statements ------------------------------------------------------------------------

    fn stmt(&mut self, s: hir::Stmt) {
        use hir::StmtKind as K;
        let span = s.span;
        match s.kind {
            K::Let(id, init) => {
                self.declared(id);
                let ty = self.locals[id as usize].ty.clone();
                let value = match init {
                    Some(e) => self.expr(e),
                    None => Expr { kind: ExprKind::Zero, ty, span },
                };
                self.assign_local(id, value);
            }
            K::LetTuple(ids, e) => {
                ids.iter().flatten().for_each(|&id| self.declared(id));
                let v = self.expr(e);
                self.push(Stmt::LetTuple(ids, v));
            }
            K::Expr(e) => self.expr_stmt(e),
            K::Assign { place, op, value } => self.assign(place, op, value),
            K::If { cond, then, els } => {
                let then_b = self.new_block();
                let else_b = els.as_ref().map(|_| self.new_block());
                let end = self.new_block();
                let else_b = else_b.unwrap_or(end);
                self.cond(cond, then_b, else_b);
                self.switch_to(then_b);
                self.block(then);
                self.goto(end);
                if let Some(e) = els {
                    self.switch_to(else_b);
                    self.stmt(*e);
                    self.goto(end);
                }
                self.switch_to(end);
            }
            K::Loop { cond, body, step } => {
                let head = self.new_block();
                let body_b = self.new_block();
                let step_b = if step.is_some() { self.new_block() } else { head };
                let end = self.new_block();
                self.goto(head);
                self.switch_to(head);
                match cond {
                    Some(c) => self.cond(c, body_b, end),
                    None => self.goto(body_b),
                }
                self.switch_to(body_b);
                self.loops.push((step_b, end, self.scopes.len()));
                self.block(body);
                self.loops.pop();
                self.goto(step_b);
                if let Some(st) = step {
                    self.switch_to(step_b);
                    self.stmt(*st);
                    self.goto(head);
                }
                self.switch_to(end);
            }
            K::Return(e) => self.ret(e),
            K::Break | K::Continue => {
                if let Some(&(cont, brk, depth)) = self.loops.last() {
                    // Scopes inside the loop body unwind; the body's own defers do not run.
                    self.run_defers((depth + 1).min(self.scopes.len()));
                    self.goto(if matches!(s.kind, K::Break) { brk } else { cont });
                }
            }
            K::Defer(inner) => {
                if let Some(scope) = self.scopes.last_mut() {
                    scope.push(*inner);
                }
            }
            K::Block(b) => self.block(b),
            K::Match { scrutinee, arms, default } => self.match_stmt(scrutinee, arms, *default),
        }
    }

    fn ret(&mut self, e: Option<Expr>) {
        // As in the original Truk: a return value that calls a function is computed before
        // the deferred statements run; one that only reads variables is computed after them
        // (so `defer x += 1; return x;` returns the new x).
        let (early, late) = match e {
            Some(e) if contains_call(&e) => (Some(self.save_result(e)), None),
            other => (None, other),
        };
        self.run_defers(0);
        if !self.is_open() {
            return;
        }
        let value = match early {
            Some(v) => v,
            None => late.map(|e| self.expr(e)),
        };
        self.terminate(Terminator::Return(value));
    }

    /// Evaluate `e` now, into a temporary (a void value only for its effects).
    fn save_result(&mut self, e: Expr) -> Option<Expr> {
        let v = self.expr(e);
        if v.ty.is_void() {
            self.push(Stmt::Eval(v));
            return None;
        }
        let (ty, span) = (v.ty.clone(), v.span);
        let t = self.temp(ty.clone(), span);
        self.assign_local(t, v);
        Some(local(t, ty, span))
    }

    fn expr_stmt(&mut self, e: Expr) {
        if !is_stmt_builtin(&e.kind) {
            let v = self.expr(e);
            self.push(Stmt::Eval(v));
            return;
        }
        match e.kind {
            ExprKind::Builtin(Builtin::Panic, mut args) => {
                let msg = self.expr(args.remove(0));
                self.terminate(Terminator::Panic(msg));
            }
            ExprKind::Builtin(b, args) => self.each(b, args, e.span),
            _ => {}
        }
    }

    fn assign(&mut self, place: Expr, op: Option<BinOp>, value: Expr) {
        if !has_control_flow(&value) {
            let place = self.expr(place);
            self.push(Stmt::Assign { place, op, value });
            return;
        }
        // The place is evaluated before the value: keep its address (and, for `op=`, its
        // current value) from before the value's branches run.
        let p = self.expr(place);
        let p = self.spill(p, true);
        match op {
            None => {
                let v = self.expr(value);
                self.push(Stmt::Assign { place: p, op: None, value: v });
            }
            Some(op) => {
                let (ty, span) = (p.ty.clone(), p.span);
                let cur = self.temp(ty.clone(), span);
                self.assign_local(cur, p.clone());
                let v = self.expr(value);
                let sum = Expr { kind: ExprKind::Binary(op, Box::new(local(cur, ty.clone(), span)), Box::new(v)), ty, span };
                self.push(Stmt::Assign { place: p, op: None, value: sum });
            }
        }
    }

    fn match_stmt(&mut self, scrutinee: Expr, arms: Vec<(Vec<Expr>, hir::Stmt)>, default: hir::Stmt) {
        let v = self.expr(scrutinee);
        let arm_blocks: Vec<BlockId> = arms.iter().map(|_| self.new_block()).collect();
        let default_b = self.new_block();
        let end = self.new_block();
        let mut bodies = Vec::with_capacity(arms.len());
        if matches!(v.ty, Ty::Int { .. } | Ty::Bool | Ty::Enum(_)) {
            let mut cases: Vec<(i128, BlockId)> = vec![];
            let mut seen = std::collections::HashSet::new();
            for ((pats, body), &bb) in arms.into_iter().zip(&arm_blocks) {
                for p in pats {
                    let x = match p.kind {
                        ExprKind::Int(x) => x,
                        ExprKind::Bool(b) => b as i128,
                        _ => continue,
                    };
                    // A repeated value: the first arm wins, as in a chain of ifs.
                    if seen.insert(x) {
                        cases.push((x, bb));
                    }
                }
                bodies.push(body);
            }
            self.terminate(Terminator::Switch { value: v, cases, default: default_b });
        } else {
            // Pointers and the rest: a chain of comparisons against the scrutinee, read once.
            let span = v.span;
            let s = self.spill(v, false);
            for ((pats, body), &bb) in arms.into_iter().zip(&arm_blocks) {
                for p in pats {
                    let p = self.expr(p);
                    let cond = Expr { kind: ExprKind::Binary(BinOp::Eq, Box::new(s.clone()), Box::new(p)), ty: Ty::Bool, span };
                    let next = self.new_block();
                    self.terminate(Terminator::Branch { cond, then: bb, els: next });
                    self.switch_to(next);
                }
                bodies.push(body);
            }
            self.goto(default_b);
        }
        for (body, bb) in bodies.into_iter().zip(arm_blocks).chain(std::iter::once((default, default_b))) {
            self.switch_to(bb);
            self.scopes.push(vec![]);
            self.stmt(body);
            self.close_scope();
            self.goto(end);
        }
        self.switch_to(end);
    }

    /// `each(coll, ctx, fn)`: a loop that calls `fn` until it returns false.
    fn each(&mut self, b: Builtin, args: Vec<Expr>, span: Span) {
        // Each argument is evaluated once, in order, before the loop.
        let mut vals = args.into_iter().map(|a| {
            let a = self.expr(a);
            let ty = a.ty.clone();
            let t = self.temp(ty.clone(), a.span);
            self.assign_local(t, a);
            (t, ty)
        });
        let (Some((coll_id, coll_ty)), Some((ctx_id, ctx_ty)), Some((cb_id, cb_ty))) = (vals.next(), vals.next(), vals.next()) else {
            return;
        };
        drop(vals);
        let (coll, ctx, cb) = (local(coll_id, coll_ty.clone(), span), local(ctx_id, ctx_ty, span), local(cb_id, cb_ty.clone(), span));
        let Ty::Fn { params, ret, .. } = &cb_ty else { return };
        let call = |first: Vec<Expr>| {
            let mut xs = first;
            xs.push(ctx.clone());
            Expr { kind: ExprKind::Call(Box::new(cb.clone()), xs), ty: (**ret).clone(), span }
        };
        let mk = |kind: ExprKind, ty: Ty| Expr { kind, ty, span };
        let head = self.new_block();
        let body = self.new_block();
        let end = self.new_block();
        match b {
            Builtin::EachMap => {
                let (Some(kty), Some(vty)) = (params.first(), params.get(1)) else { return };
                // Bool keys are stored as a byte.
                let stored_k = if *kty == Ty::Bool { hir::ty::U8 } else { kty.clone() };
                let cursor = self.temp(hir::ty::U64, span);
                let kp = self.temp(Ty::ptr(stored_k.clone()), span);
                let vp = self.temp(vty.clone(), span);
                self.assign_local(cursor, mk(ExprKind::Int(0), hir::ty::U64));
                self.goto(head);
                self.switch_to(head);
                self.push(Stmt::MapNext { map: coll, cursor, key: kp, value: vp });
                let done = mk(
                    ExprKind::Binary(BinOp::Eq, Box::new(local(cursor, hir::ty::U64, span)), Box::new(mk(ExprKind::Int(0), hir::ty::U64))),
                    Ty::Bool,
                );
                self.terminate(Terminator::Branch { cond: done, then: end, els: body });
                self.switch_to(body);
                let mut key = mk(ExprKind::Deref(Box::new(local(kp, Ty::ptr(stored_k.clone()), span))), stored_k);
                if *kty == Ty::Bool {
                    key = mk(ExprKind::Cast(Box::new(key)), Ty::Bool);
                }
                let cond = call(vec![key, local(vp, vty.clone(), span)]);
                self.terminate(Terminator::Branch { cond, then: head, els: end });
            }
            Builtin::EachSlice => {
                let Some(elem_ptr) = params.first() else { return };
                let i = self.temp(hir::ty::U64, span);
                self.assign_local(i, mk(ExprKind::Int(0), hir::ty::U64));
                self.goto(head);
                self.switch_to(head);
                let len = mk(ExprKind::Builtin(Builtin::Len, vec![coll.clone()]), hir::ty::U64);
                let more = mk(ExprKind::Binary(BinOp::Lt, Box::new(local(i, hir::ty::U64, span)), Box::new(len)), Ty::Bool);
                self.terminate(Terminator::Branch { cond: more, then: body, els: end });
                self.switch_to(body);
                // The element's address, unchecked: the loop condition is the bounds check.
                let Ty::Ptr(elem) = elem_ptr else { return };
                let base = mk(ExprKind::Cast(Box::new(coll)), elem_ptr.clone());
                let at = mk(ExprKind::Index(Box::new(base), Box::new(local(i, hir::ty::U64, span))), (**elem).clone());
                let ep = self.temp(elem_ptr.clone(), span);
                self.assign_local(ep, mk(ExprKind::AddrOf(Box::new(at)), elem_ptr.clone()));
                let next = mk(ExprKind::Binary(BinOp::Add, Box::new(local(i, hir::ty::U64, span)), Box::new(mk(ExprKind::Int(1), hir::ty::U64))), hir::ty::U64);
                self.assign_local(i, next);
                let cond = call(vec![local(ep, elem_ptr.clone(), span)]);
                self.terminate(Terminator::Branch { cond, then: head, els: end });
            }
            _ => {
                let Ty::Ptr(ch) = &coll_ty else { return };
                let ch = (**ch).clone();
                // The cursor is the argument's own temporary.
                let p = coll_id;
                let cur = || local(p, coll_ty.clone(), span);
                self.goto(head);
                self.switch_to(head);
                let c = mk(ExprKind::Deref(Box::new(cur())), ch.clone());
                let more = mk(ExprKind::Binary(BinOp::Ne, Box::new(c), Box::new(mk(ExprKind::Int(0), ch.clone()))), Ty::Bool);
                self.terminate(Terminator::Branch { cond: more, then: body, els: end });
                self.switch_to(body);
                let at = self.temp(coll_ty.clone(), span);
                self.assign_local(at, cur());
                let one = mk(ExprKind::Int(1), hir::ty::I64);
                let next = mk(ExprKind::AddrOf(Box::new(mk(ExprKind::Index(Box::new(cur()), Box::new(one)), ch))), coll_ty.clone());
                self.assign_local(p, next);
                let cond = call(vec![local(at, coll_ty.clone(), span)]);
                self.terminate(Terminator::Branch { cond, then: head, els: end });
            }
        }
        self.switch_to(end);
    }

    // ---- conditions and expressions --------------------------------------------------------

    /// Branch on a boolean: `&&`, `||` and `!` become edges rather than values.
    fn cond(&mut self, e: Expr, then: BlockId, els: BlockId) {
        match e.kind {
            ExprKind::Binary(BinOp::And, a, b) => {
                let mid = self.new_block();
                self.cond(*a, mid, els);
                self.switch_to(mid);
                self.cond(*b, then, els);
            }
            ExprKind::Binary(BinOp::Or, a, b) => {
                let mid = self.new_block();
                self.cond(*a, then, mid);
                self.switch_to(mid);
                self.cond(*b, then, els);
            }
            ExprKind::Unary(UnOp::Not, x) if has_control_flow(&x) => self.cond(*x, els, then),
            ExprKind::Bool(b) => self.goto(if b { then } else { els }),
            kind => {
                let c = self.expr(Expr { kind, ..e });
                self.terminate(Terminator::Branch { cond: c, then, els });
            }
        }
    }

    /// Lower an expression to a tree without control flow, emitting what it needs first.
    fn expr(&mut self, e: Expr) -> Expr {
        if !has_control_flow(&e) {
            return e;
        }
        if is_stmt_builtin(&e.kind) {
            // `panic` or `each` where a (void) value was expected: a statement all the same.
            let (ty, span) = (e.ty.clone(), e.span);
            self.expr_stmt(e);
            return Expr { kind: ExprKind::Zero, ty, span };
        }
        let Expr { mut kind, ty, span } = e;
        if let ExprKind::Binary(op @ (BinOp::And | BinOp::Or), a, b) = kind {
            return self.short_circuit(op, *a, *b, span);
        }
        // Children run in order: those before the last one with branches are saved in
        // temporaries, so they still run (and read) before its branches do.
        let mut kids = children(&mut kind, &ty);
        let last = kids.iter().rposition(|(k, _)| has_control_flow(k)).unwrap_or(0);
        for (i, (kid, place)) in kids.iter_mut().enumerate().take(last + 1) {
            let taken = std::mem::replace(&mut **kid, Expr { kind: ExprKind::Zero, ty: Ty::Void, span });
            let mut v = self.expr(taken);
            if i < last {
                v = self.spill(v, *place);
            }
            **kid = v;
        }
        drop(kids);
        Expr { kind, ty, span }
    }

    /// `a && b` as a value: a temporary set on both paths.
    fn short_circuit(&mut self, op: BinOp, a: Expr, b: Expr, span: Span) -> Expr {
        let t = self.temp(Ty::Bool, span);
        let av = self.expr(a);
        self.assign_local(t, av);
        let rhs = self.new_block();
        let end = self.new_block();
        let cond = local(t, Ty::Bool, span);
        let (then, els) = if op == BinOp::And { (rhs, end) } else { (end, rhs) };
        self.terminate(Terminator::Branch { cond, then, els });
        self.switch_to(rhs);
        let bv = self.expr(b);
        self.assign_local(t, bv);
        self.goto(end);
        self.switch_to(end);
        local(t, Ty::Bool, span)
    }

    /// Save a value (or, in a place context, an address) in a temporary.
    fn spill(&mut self, e: Expr, place: bool) -> Expr {
        let (ty, span) = (e.ty.clone(), e.span);
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Str(_) | ExprKind::Nil | ExprKind::Zero | ExprKind::Func(_) => {
                return e
            }
            ExprKind::Local(_) | ExprKind::Global(_) if place => return e,
            _ if ty.is_void() => return e,
            _ => {}
        }
        if place && hir::check::is_place(&e) {
            let pty = Ty::ptr(ty.clone());
            let t = self.temp(pty.clone(), span);
            self.assign_local(t, Expr { kind: ExprKind::AddrOf(Box::new(e)), ty: pty.clone(), span });
            return Expr { kind: ExprKind::Deref(Box::new(local(t, pty, span))), ty, span };
        }
        let t = self.temp(ty.clone(), span);
        self.assign_local(t, e);
        local(t, ty, span)
    }
}

fn local(id: LocalId, ty: Ty, span: Span) -> Expr {
    Expr { kind: ExprKind::Local(id), ty, span }
}

/// The operands of an expression in the order codegen evaluates them, each with whether it
/// is used as a place (its address) rather than a value.
fn children<'e>(kind: &'e mut ExprKind, ty: &Ty) -> Vec<(&'e mut Expr, bool)> {
    match kind {
        ExprKind::Binary(_, a, b) | ExprKind::MapIndex(a, b) | ExprKind::MapSlot(a, b) => vec![(&mut **a, false), (&mut **b, false)],
        ExprKind::Index(b, i) => {
            let place = matches!(b.ty, Ty::Array(..));
            vec![(&mut **b, place), (&mut **i, false)]
        }
        ExprKind::Unary(_, x) | ExprKind::Deref(x) => vec![(&mut **x, false)],
        ExprKind::AddrOf(x) => vec![(&mut **x, true)],
        ExprKind::Field(b, _) => {
            let place = hir::check::is_place(b);
            vec![(&mut **b, place)]
        }
        ExprKind::Cast(x) => {
            let place = matches!(x.ty, Ty::Array(..)) && matches!(ty, Ty::Ptr(_));
            vec![(&mut **x, place)]
        }
        ExprKind::Call(callee, args) => {
            let fixed = match &callee.ty {
                Ty::Fn { params, .. } => params.len(),
                _ => 0,
            };
            let mut v: Vec<(&mut Expr, bool)> =
                args.iter_mut().enumerate().map(|(i, a)| { let place = i < fixed && matches!(a.ty, Ty::Array(..)); (a, place) }).collect();
            // The callee is read after the arguments.
            v.push((&mut **callee, false));
            v
        }
        ExprKind::StructLit(xs) | ExprKind::ArrayLit(xs) | ExprKind::TupleLit(xs) | ExprKind::Builtin(_, xs) => {
            xs.iter_mut().map(|x| (x, false)).collect()
        }
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Nil
        | ExprKind::Local(_)
        | ExprKind::Global(_)
        | ExprKind::Func(_)
        | ExprKind::Zero => vec![],
    }
}

/// `panic(msg)` and `each(coll, ctx, fn)`: builtins that lower to terminators and loops.
fn is_stmt_builtin(k: &ExprKind) -> bool {
    match k {
        ExprKind::Builtin(Builtin::Panic, args) => args.len() == 1,
        ExprKind::Builtin(Builtin::EachMap | Builtin::EachSlice | Builtin::EachStr, args) => args.len() == 3,
        _ => false,
    }
}

/// Whether lowering `e` needs blocks: `&&`, `||`, or a builtin that loops or panics.
fn has_control_flow(e: &Expr) -> bool {
    any_node(e, |k| {
        matches!(
            k,
            ExprKind::Binary(BinOp::And | BinOp::Or, ..)
                | ExprKind::Builtin(Builtin::EachMap | Builtin::EachSlice | Builtin::EachStr | Builtin::Panic, _)
        )
    })
}

/// Whether evaluating `e` calls a function (or has side effects like one: an atomic or a
/// fleet builtin, as in `defer unlock(&m); return atomic_add(&n, 1);`).
pub fn contains_call(e: &Expr) -> bool {
    any_node(e, |k| matches!(k, ExprKind::Call(..) | ExprKind::Builtin(Builtin::Atomic(_) | Builtin::Fleet(_) | Builtin::Chan(_) | Builtin::Table(_), _)))
}

fn any_node<F: Fn(&ExprKind) -> bool + Copy>(e: &Expr, f: F) -> bool {
    if f(&e.kind) {
        return true;
    }
    match &e.kind {
        ExprKind::Binary(_, a, b) | ExprKind::Index(a, b) | ExprKind::MapIndex(a, b) | ExprKind::MapSlot(a, b) => any_node(a, f) || any_node(b, f),
        ExprKind::Unary(_, x) | ExprKind::AddrOf(x) | ExprKind::Deref(x) | ExprKind::Field(x, _) | ExprKind::Cast(x) => any_node(x, f),
        ExprKind::Call(c, xs) => any_node(c, f) || xs.iter().any(|x| any_node(x, f)),
        ExprKind::StructLit(xs) | ExprKind::ArrayLit(xs) | ExprKind::TupleLit(xs) | ExprKind::Builtin(_, xs) => xs.iter().any(|x| any_node(x, f)),
        _ => false,
    }
}

/// Drop the blocks nothing reaches from the entry (code after `return`, say) and number
/// the rest in the order they were created.
fn prune(open: Vec<Open>) -> Vec<Block> {
    let mut blocks: Vec<Block> = open
        .into_iter()
        .map(|b| Block { stmts: b.stmts, term: b.term.unwrap_or(Terminator::Unreachable) })
        .collect();
    let mut reached = vec![false; blocks.len()];
    let mut stack = vec![0 as BlockId];
    reached[0] = true;
    while let Some(b) = stack.pop() {
        for s in blocks[b as usize].term.successors() {
            if !reached[s as usize] {
                reached[s as usize] = true;
                stack.push(s);
            }
        }
    }
    let mut new_id = vec![0 as BlockId; blocks.len()];
    let mut n = 0;
    for (i, r) in reached.iter().enumerate() {
        if *r {
            new_id[i] = n;
            n += 1;
        }
    }
    let mut i = 0;
    blocks.retain(|_| {
        i += 1;
        reached[i - 1]
    });
    for b in &mut blocks {
        for s in b.term.successors_mut() {
            *s = new_id[*s as usize];
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;
    use crate::mir::Block;

    fn lower_src(src: &str) -> Program {
        let mut sources = SourceMap::default();
        let file = sources.add("t.truk".into(), src.to_string());
        let (module, diags) = crate::syntax::parser::parse_module(&sources.file(file).text, file);
        assert!(diags.is_empty());
        let (prog, diags) = crate::hir::check::check(&[module]);
        assert!(diags.is_empty(), "{:?}", diags.iter().map(|d| &d.message).collect::<Vec<_>>());
        lower(prog, "x86_64-unknown-linux-gnu")
    }

    fn body<'a>(p: &'a Program, name: &str) -> &'a Body {
        let id = p.hir.funcs.iter().position(|f| f.name == name).unwrap();
        p.bodies[id].as_ref().unwrap()
    }

    fn exprs(b: &Block) -> Vec<&Expr> {
        let mut v = vec![];
        for s in &b.stmts {
            match s {
                Stmt::Assign { place, value, .. } => v.extend([place, value]),
                Stmt::LetTuple(_, e) | Stmt::Eval(e) | Stmt::MapNext { map: e, .. } => v.push(e),
            }
        }
        match &b.term {
            Terminator::Branch { cond: e, .. } | Terminator::Switch { value: e, .. } | Terminator::Return(Some(e)) | Terminator::Panic(e) => {
                v.push(e)
            }
            _ => {}
        }
        v
    }

    /// Calls of the function named `name` in the block's statements.
    fn calls_of(p: &Program, b: &Block, name: &str) -> usize {
        exprs(b)
            .iter()
            .filter(|e| any_node(e, |k| matches!(k, ExprKind::Call(c, _) if matches!(c.kind, ExprKind::Func(f) if p.hir.funcs[f as usize].name == name))))
            .count()
    }

    const SRC: &str = r#"
fn cleanup() {}
fn big(x: i32) : bool { return x > 10; }
fn cb(p: *i32, ctx: *i32) : bool { return true; }

fn f(n: i32, xs: []i32, m: map[i32, bool]) : i32 {
    defer cleanup();
    var ok: bool = n > 0 && big(n) || n == -1;
    each(xs, &n, cb);
    while ok && n < 100 {
        n += 1;
        if n == 50 {
            return 1;
        }
        if n == 60 || !(n > 70 && ok) {
            break;
        }
    }
    match n {
        case 1 => return 2,
        case 2 => panic("two"),
        _ => n = 3,
    }
    return n;
    n = 4;
}
"#;

    #[test]
    fn no_structured_control_flow_is_left() {
        let p = lower_src(SRC);
        let b = body(&p, "f");
        for blk in &b.blocks {
            for e in exprs(blk) {
                assert!(!has_control_flow(e), "control flow left in {e:?}");
            }
            assert!(!matches!(blk.term, Terminator::Unreachable), "a block was left without a terminator");
            for s in blk.term.successors() {
                assert!((s as usize) < b.blocks.len() && s != 0, "bad successor {s}");
            }
        }
    }

    #[test]
    fn every_block_is_reachable_and_dead_code_is_dropped() {
        let p = lower_src(SRC);
        let b = body(&p, "f");
        let mut preds = vec![0; b.blocks.len()];
        for blk in &b.blocks {
            for s in blk.term.successors() {
                preds[s as usize] += 1;
            }
        }
        assert!(preds.iter().skip(1).all(|&n| n > 0));
        // `n = 4` after the last return is gone.
        let four = b.blocks.iter().flat_map(exprs).any(|e| matches!(e.kind, ExprKind::Int(4)));
        assert!(!four);
    }

    #[test]
    fn defers_run_once_on_every_exit() {
        let p = lower_src(SRC);
        let b = body(&p, "f");
        let returns = b.blocks.iter().filter(|blk| matches!(blk.term, Terminator::Return(_))).count();
        assert_eq!(returns, 3);
        for blk in &b.blocks {
            let n = calls_of(&p, blk, "cleanup");
            match blk.term {
                Terminator::Return(_) => assert_eq!(n, 1, "a return without its defer"),
                // `panic` leaves without running defers.
                _ => assert_eq!(n, 0),
            }
        }
    }

    #[test]
    fn a_return_value_with_a_call_is_computed_before_the_defers() {
        let p = lower_src("fn g() {}\nfn h(x: i32) : i32 { return x; }\nfn f(x: i32) : i32 {\n defer g();\n if x > 0 { return h(x); }\n return x;\n}\n");
        let b = body(&p, "f");
        for blk in b.blocks.iter().filter(|blk| matches!(blk.term, Terminator::Return(_))) {
            let Terminator::Return(Some(v)) = &blk.term else { panic!() };
            match v.kind {
                // The call went to a temporary before `g()`.
                ExprKind::Local(t) if b.locals[t as usize].name.is_empty() => {
                    assert!(matches!(&blk.stmts[..], [Stmt::Assign { value, .. }, Stmt::Eval(_)] if contains_call(value)));
                }
                // A plain value is read after `g()`.
                _ => assert!(matches!(&blk.stmts[..], [Stmt::Eval(_)])),
            }
        }
    }

    #[test]
    fn operands_before_a_short_circuit_keep_their_order() {
        let p = lower_src("fn a() : i32 { return 1; }\nfn f(x: bool, y: bool) : i32 {\n var r: i32 = a() + ((x && y) as i32);\n return r;\n}\n");
        let b = body(&p, "f");
        // a() is called (into a temporary) before the branch on x.
        let first = &b.blocks[0];
        assert!(matches!(&first.stmts[0], Stmt::Assign { value, .. } if contains_call(value)));
        assert!(matches!(first.term, Terminator::Branch { .. }));
    }
}
