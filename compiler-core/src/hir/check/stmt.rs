//! Function bodies (pass 4) and statements: locals, assignment, return, match, control
//! flow, and whether a body always returns.

use super::*;

impl<'a> Checker<'a> {
    // ---- pass 4: bodies --------------------------------------------------------------------

    pub(super) fn check_body(&mut self, id: FuncId, decl: &ast::FnDecl) {
        let f = &self.prog.funcs[id as usize];
        let mut scope = HashMap::default();
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
            used: Default::default(),
        };
        let first_local = self.fcx.locals.len();
        let body = self.block(decl.body.as_ref().unwrap());
        self.unused_locals(first_local);
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

    /// Warn of the body's locals that nothing reads or writes; a `_` prefix says it is on purpose.
    fn unused_locals(&mut self, first: usize) {
        for id in first..self.fcx.locals.len() {
            let l = &self.fcx.locals[id];
            if l.name.starts_with('_') || self.fcx.used.contains(&(id as LocalId)) {
                continue;
            }
            let d = Diagnostic::warning(l.span, format!("unused variable `{}`", l.name))
                .with_note(format!("help: if this is intentional, name it `_{}`", l.name));
            self.warn(d);
        }
    }

    pub(super) fn new_local(&mut self, name: &ast::Ident, ty: Ty) -> LocalId {
        let id = self.fcx.locals.len() as LocalId;
        self.fcx.locals.push(Local { name: name.name.clone(), ty, span: name.span });
        if name.name != "_" {
            self.fcx.scopes.last_mut().unwrap().insert(name.name.clone(), id);
        }
        id
    }

    pub(super) fn block(&mut self, b: &ast::Block) -> Block {
        self.fcx.scopes.push(HashMap::default());
        let stmts = b.stmts.iter().map(|s| self.stmt(s)).collect();
        self.fcx.scopes.pop();
        Block { stmts, span: b.span }
    }

    pub(super) fn stmt(&mut self, s: &ast::Stmt) -> Stmt {
        let kind = match &s.kind {
            ast::StmtKind::Var(v) => self.local_var(v),
            ast::StmtKind::Let { names, init } => self.let_stmt(names, init.as_ref(), s.span),
            ast::StmtKind::Expr(e) => {
                let ex = self.expr(e, None);
                if let ExprKind::Builtin(Builtin::Fleet(FleetFn::Lock), _) = ex.kind {
                    let d = Diagnostic::warning(ex.span, "the result of `lock` is ignored: it is true when the previous holder died holding the Mutex")
                        .with_note("help: check it (`if lock(&m) { ... }`) or ignore it on purpose with `let _ = lock(&m);`");
                    self.warn(d);
                }
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
                self.fcx.scopes.push(HashMap::default());
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

    pub(super) fn local_var(&mut self, v: &ast::VarDecl) -> StmtKind {
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

    pub(super) fn let_stmt(&mut self, names: &[ast::Ident], init: Option<&ast::Expr>, span: Span) -> StmtKind {
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

    pub(super) fn assign(&mut self, op: Option<ast::BinOp>, target: &ast::Expr, value: &ast::Expr, span: Span) -> StmtKind {
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

    pub(super) fn const_place(&self, place: &Expr) -> Option<String> {
        match &place.kind {
            ExprKind::Local(id) if self.fcx.consts.contains(id) => Some(self.fcx.locals[*id as usize].name.clone()),
            ExprKind::Global(g) if self.prog.globals[*g as usize].kind == ast::VarKind::Const => {
                Some(self.prog.globals[*g as usize].name.clone())
            }
            ExprKind::Field(b, _) | ExprKind::Index(b, _) => self.const_place(b),
            _ => None,
        }
    }

    pub(super) fn ret(&mut self, vals: &[ast::Expr], span: Span) -> StmtKind {
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

    pub(super) fn match_stmt(&mut self, scrutinee: &ast::Expr, arms: &[ast::MatchArm], span: Span) -> StmtKind {
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

    pub(super) fn arm_body(&mut self, s: &ast::Stmt) -> Stmt {
        self.fcx.scopes.push(HashMap::default());
        let st = self.stmt(s);
        self.fcx.scopes.pop();
        st
    }

    pub(super) fn condition(&mut self, e: &ast::Expr) -> Expr {
        let ex = self.expr(e, Some(&Ty::Bool));
        if !matches!(ex.ty, Ty::Bool | Ty::Error) {
            let shown = self.show(&ex.ty);
            self.err(e.span, format!("condition must be `bool`, found `{shown}`"));
        }
        ex
    }
}

pub(super) fn op_allows_float(op: ast::BinOp) -> bool {
    matches!(op, ast::BinOp::Add | ast::BinOp::Sub | ast::BinOp::Mul | ast::BinOp::Div | ast::BinOp::Rem)
}

/// Whether a block always ends in `return` (or never falls off its end).
pub(super) fn block_returns(b: &Block) -> bool {
    b.stmts.iter().any(stmt_returns)
}

pub(super) fn stmt_returns(s: &Stmt) -> bool {
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
