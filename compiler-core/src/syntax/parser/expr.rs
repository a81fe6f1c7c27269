//! Expressions: operand lists folded with an operator stack, postfix chains, primaries.

use super::*;

impl<'s> Builder<'s> {
    /// `expr` / `cond_expr`: a flat list of operands (prefix* primary postfix*) and infix
    /// operators, folded with an operator stack.
    pub(super) fn expr(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        if !self.enter(span, "expression") {
            self.leave();
            return Expr { kind: ExprKind::Nil, span };
        }
        let mut items = p.into_inner().peekable();
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<(BinOp, u8, Span)> = Vec::new();
        loop {
            // One operand.
            let mut prefixes: Vec<(UnOp, Span)> = Vec::new();
            let mut primary = None;
            for c in items.by_ref() {
                let cs = self.span(&c);
                if c.as_rule() == Rule::prefix_op {
                    let op = match c.as_str() {
                        "-" => UnOp::Neg,
                        "!" => UnOp::Not,
                        "~" => UnOp::BitNot,
                        "&" => UnOp::AddrOf,
                        _ => UnOp::Deref,
                    };
                    prefixes.push((op, cs));
                } else {
                    primary = Some(self.primary(c));
                    break;
                }
            }
            let Some(mut e) = primary else { break };
            // Postfix operators bind tighter than prefix ones, except `as`, which applies
            // after them: `-x as i32` is `(-x) as i32`.
            let mut prefixes_applied = false;
            while let Some(c) = items.peek() {
                let r = c.as_rule();
                if !matches!(r, Rule::call | Rule::index | Rule::field_access | Rule::arrow | Rule::cast) {
                    break;
                }
                let c = items.next().expect("peeked");
                if r == Rule::cast && !prefixes_applied {
                    e = apply_prefixes(e, &mut prefixes);
                    prefixes_applied = true;
                }
                e = self.postfix(e, c);
            }
            if !prefixes_applied {
                e = apply_prefixes(e, &mut prefixes);
            }
            // Then an infix operator, or the end.
            let Some(op) = items.next() else {
                if operands.is_empty() {
                    // A single operand (most expressions): no operand stack to allocate.
                    self.leave();
                    return e;
                }
                operands.push(e);
                break;
            };
            operands.push(e);
            let opspan = self.span(&op);
            let bop = bin_op(op.as_str());
            let prec = precedence(bop);
            while let Some(&(top, tp, _)) = ops.last() {
                if tp < prec {
                    break;
                }
                ops.pop();
                reduce(&mut operands, top);
            }
            ops.push((bop, prec, opspan));
        }
        while let Some((top, _, _)) = ops.pop() {
            reduce(&mut operands, top);
        }
        self.leave();
        operands.pop().unwrap_or(Expr { kind: ExprKind::Nil, span })
    }

    pub(super) fn postfix(&mut self, e: Expr, c: P<'_>) -> Expr {
        let cspan = self.span(&c);
        let span = e.span.to(cspan);
        let kind = match c.as_rule() {
            Rule::call => {
                let args = c.into_inner().map(|a| self.expr(a)).collect();
                ExprKind::Call(Box::new(e), args)
            }
            Rule::index => {
                let i = self.expr(c.into_inner().next().expect("grammar: index"));
                ExprKind::Index(Box::new(e), Box::new(i))
            }
            Rule::field_access => {
                let n = self.ident(&c.into_inner().next().expect("grammar: field"));
                ExprKind::Field(Box::new(e), n)
            }
            Rule::arrow => {
                let n = self.ident(&c.into_inner().next().expect("grammar: field"));
                ExprKind::Arrow(Box::new(e), n)
            }
            _ => {
                let t = kids(c).next().expect("grammar: cast type");
                let t = self.ty(t);
                ExprKind::Cast(Box::new(e), t)
            }
        };
        Expr { kind, span }
    }

    pub(super) fn primary(&mut self, p: P<'_>) -> Expr {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::paren => {
                let inner = p.into_inner().next().expect("grammar: parenthesized expression");
                let mut e = self.expr(inner);
                e.span = span;
                return e;
            }
            Rule::int_lit => ExprKind::Int(self.int_value(p.as_str(), span)),
            Rule::float_lit => ExprKind::Float(p.as_str().parse().unwrap_or(0.0)),
            Rule::str_lit => ExprKind::Str(self.string_bytes(p)),
            Rule::char_lit => ExprKind::Char(self.char_value(p)),
            Rule::bad_str => {
                self.error(span, "unterminated string literal (missing closing `\"`)");
                ExprKind::Str(Vec::new())
            }
            Rule::bad_char => {
                let s = Span { lo: span.lo + 1, ..span };
                let s = if s.lo >= s.hi { span } else { s };
                self.error(s, "unterminated character literal (missing closing `'`)");
                ExprKind::Char(0)
            }
            Rule::true_lit => ExprKind::Bool(true),
            Rule::false_lit => ExprKind::Bool(false),
            Rule::nil_lit => ExprKind::Nil,
            Rule::array_lit => ExprKind::ArrayLit(p.into_inner().map(|e| self.expr(e)).collect()),
            Rule::type_arg => {
                let t = p.into_inner().next().expect("grammar: type argument");
                ExprKind::TypeArg(self.ty(t))
            }
            Rule::name_or_struct | Rule::name_or_struct_nb => {
                let mut k = p.into_inner();
                let name = self.ident(&k.next().expect("grammar: name"));
                match k.next() {
                    None => ExprKind::Ident(name.name),
                    Some(fields) => {
                        let fields = fields
                            .into_inner()
                            .map(|f| {
                                let mut fk = f.into_inner();
                                let n = self.ident(&fk.next().expect("grammar: field name"));
                                let v = self.expr(fk.next().expect("grammar: field value"));
                                (n, v)
                            })
                            .collect();
                        ExprKind::StructLit(name, fields)
                    }
                }
            }
            Rule::lambda => ExprKind::Lambda(Box::new(self.fn_decl(p))),
            _ => ExprKind::Nil,
        };
        Expr { kind, span }
    }
}

pub(super) fn apply_prefixes(mut e: Expr, prefixes: &mut Vec<(UnOp, Span)>) -> Expr {
    while let Some((op, s)) = prefixes.pop() {
        let span = s.to(e.span);
        e = Expr { kind: ExprKind::Unary(op, Box::new(e)), span };
    }
    e
}

pub(super) fn reduce(operands: &mut Vec<Expr>, op: BinOp) {
    let (Some(r), Some(l)) = (operands.pop(), operands.pop()) else { return };
    let span = l.span.to(r.span);
    operands.push(Expr { kind: ExprKind::Binary(op, Box::new(l), Box::new(r)), span });
}

pub(super) fn bin_op(s: &str) -> BinOp {
    use BinOp::*;
    match s {
        "||" => Or,
        "&&" => And,
        "==" => Eq,
        "!=" => Ne,
        "<" => Lt,
        "<=" => Le,
        ">" => Gt,
        ">=" => Ge,
        "|" => BitOr,
        "^" => BitXor,
        "&" => BitAnd,
        "<<" => Shl,
        ">>" => Shr,
        "+" => Add,
        "-" => Sub,
        "*" => Mul,
        "/" => Div,
        _ => Rem,
    }
}

/// Binding power of binary operators (all left-associative).
pub(super) fn precedence(op: BinOp) -> u8 {
    use BinOp::*;
    match op {
        Or => 1,
        And => 2,
        Eq | Ne => 3,
        Lt | Le | Gt | Ge => 4,
        BitOr => 5,
        BitXor => 6,
        BitAnd => 7,
        Shl | Shr => 8,
        Add | Sub => 9,
        Mul | Div | Rem => 10,
    }
}

pub(super) fn assign_op(s: &str) -> Option<BinOp> {
    use BinOp::*;
    Some(match s {
        "+=" => Add,
        "-=" => Sub,
        "*=" => Mul,
        "/=" => Div,
        "%=" => Rem,
        "&=" => BitAnd,
        "|=" => BitOr,
        "^=" => BitXor,
        "<<=" => Shl,
        ">>=" => Shr,
        _ => return None,
    })
}
