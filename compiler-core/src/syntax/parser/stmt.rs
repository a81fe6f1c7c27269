//! Statements and blocks.

use super::expr::assign_op;
use super::*;

impl<'s> Builder<'s> {
    pub(super) fn block(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let stmts = p.into_inner().map(|s| self.stmt(s)).collect();
        Block { stmts, span }
    }

    pub(super) fn stmt(&mut self, p: P<'_>) -> Stmt {
        let span = self.span(&p);
        if !self.enter(span, "statement") {
            self.leave();
            return Stmt { kind: StmtKind::Block(Block { stmts: vec![], span }), span };
        }
        let kind = self.stmt_kind(p, span);
        self.leave();
        Stmt { kind, span }
    }

    pub(super) fn stmt_kind(&mut self, p: P<'_>, span: Span) -> StmtKind {
        match p.as_rule() {
            Rule::var_decl | Rule::for_var => {
                let d = self.var_decl(p, VarKind::Var);
                match d.ty {
                    Some(_) => StmtKind::Var(d),
                    // `var x = e;` without a type: the same as `let x = e;`.
                    None => StmtKind::Let { names: vec![d.name], init: d.init },
                }
            }
            Rule::const_decl => StmtKind::Var(self.var_decl(p, VarKind::Const)),
            // Parsed here so the checker can say that it belongs at module level.
            Rule::shared_decl => StmtKind::Var(self.var_decl(p, VarKind::Shared)),
            Rule::let_stmt => {
                let mut names = Vec::new();
                let mut init = None;
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::ident | Rule::wildcard => names.push(self.ident(&c)),
                        _ => init = Some(self.expr(c)),
                    }
                }
                StmtKind::Let { names, init }
            }
            Rule::if_stmt => {
                let mut k = kids(p);
                let cond = self.expr(k.next().expect("grammar: if condition"));
                let then = self.block(k.next().expect("grammar: if block"));
                let els = k.next().map(|e| Box::new(self.stmt(e)));
                StmtKind::If { cond, then, els }
            }
            Rule::while_stmt => {
                let mut k = kids(p);
                let cond = self.expr(k.next().expect("grammar: while condition"));
                let body = self.block(k.next().expect("grammar: while block"));
                StmtKind::While { cond, body }
            }
            Rule::for_stmt => {
                let mut k = kids(p);
                let init = k.next().and_then(|c| c.into_inner().next()).map(|s| Box::new(self.stmt(s)));
                let cond = k.next().and_then(|c| c.into_inner().next()).map(|e| self.expr(e));
                let step = k.next().and_then(|c| c.into_inner().next()).map(|s| Box::new(self.stmt(s)));
                let body = self.block(k.next().expect("grammar: for block"));
                StmtKind::For { init, cond, step, body }
            }
            Rule::return_stmt | Rule::arm_return => StmtKind::Return(kids(p).map(|e| self.expr(e)).collect()),
            Rule::break_stmt => StmtKind::Break,
            Rule::continue_stmt => StmtKind::Continue,
            Rule::defer_stmt => {
                let inner = kids(p).next().expect("grammar: defer body");
                StmtKind::Defer(Box::new(self.stmt(inner)))
            }
            Rule::block => StmtKind::Block(self.block(p)),
            Rule::match_stmt => {
                let mut k = kids(p);
                let scrutinee = self.expr(k.next().expect("grammar: match scrutinee"));
                let arms = k.map(|a| self.match_arm(a)).collect();
                StmtKind::Match { scrutinee, arms }
            }
            Rule::simple_stmt | Rule::simple_stmt_nb => {
                let mut k = p.into_inner();
                let target = self.expr(k.next().expect("grammar: expression"));
                match (k.next(), k.next()) {
                    (Some(op), Some(value)) => {
                        let value = self.expr(value);
                        StmtKind::Assign { op: assign_op(op.as_str()), target, value }
                    }
                    _ => StmtKind::Expr(target),
                }
            }
            _ => StmtKind::Block(Block { stmts: vec![], span }),
        }
    }

    pub(super) fn match_arm(&mut self, p: P<'_>) -> MatchArm {
        let span = self.span(&p);
        let mut k = kids(p);
        let first = k.next().expect("grammar: match pattern");
        let pattern = if first.as_rule() == Rule::wildcard { None } else { Some(self.expr(first)) };
        let body = self.stmt(k.next().expect("grammar: match arm body"));
        MatchArm { pattern, body, span }
    }
}
