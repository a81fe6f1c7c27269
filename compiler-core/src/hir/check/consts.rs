//! Constants: evaluating constant integer expressions of the AST (`const_int`) and
//! folding checked expressions to constants (`fold_const`).

use super::*;

impl<'a> Checker<'a> {
    /// Evaluate a constant integer expression (array sizes, enum values).
    pub(in crate::hir) fn const_int(&mut self, e: &ast::Expr) -> Option<i128> {
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
