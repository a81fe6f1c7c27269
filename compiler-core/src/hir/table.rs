//! Tables: the type `table[K, V, N]` and the `table_*` builtins (calls of
//! `runtime-c/table.c`). Like a channel, a table lives inline where it is declared and
//! the builtins take its address.

use super::check::{err_expr, Checker};
use super::fleet::{shareable, Unshareable};
use super::ty::*;
use super::*;
use crate::diag::Span;
use crate::syntax::ast;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableOp {
    /// `table_put(&t, k, v): bool`.
    Put,
    /// `table_get(&t, k): (bool, V)`.
    Get,
    /// `table_del(&t, k): bool`.
    Del,
    /// `table_len(&t): u64`.
    Len,
    /// `table_clear(&t)`.
    Clear,
    /// `table_each(&t, ctx, fn(key: K, value: V, ctx: *C) : bool)`.
    Each,
}

impl TableOp {
    fn from_name(name: &str) -> Option<TableOp> {
        Some(match name {
            "table_put" => TableOp::Put,
            "table_get" => TableOp::Get,
            "table_del" => TableOp::Del,
            "table_len" => TableOp::Len,
            "table_clear" => TableOp::Clear,
            "table_each" => TableOp::Each,
            _ => return None,
        })
    }

    fn usage(self) -> &'static str {
        match self {
            TableOp::Put => "table_put(&t, key, value)",
            TableOp::Get => "table_get(&t, key)",
            TableOp::Del => "table_del(&t, key)",
            TableOp::Len => "table_len(&t)",
            TableOp::Clear => "table_clear(&t)",
            TableOp::Each => "table_each(&t, ctx, f)",
        }
    }

    fn arity(self) -> usize {
        match self {
            TableOp::Put | TableOp::Each => 3,
            TableOp::Get | TableOp::Del => 2,
            TableOp::Len | TableOp::Clear => 1,
        }
    }
}

/// The key type, value type and capacity of a `*table[K, V, N]`.
pub fn table_of_ptr(t: &Ty) -> Option<(&Ty, &Ty, u64)> {
    match t {
        Ty::Ptr(c) => match &**c {
            Ty::Table(k, v, n) => Some((k, v, *n)),
            _ => None,
        },
        _ => None,
    }
}

/// Why `ty` cannot be a table key: keys are compared and hashed by their bytes, so only
/// types whose equal values have equal bytes (no floats, no addresses).
fn bad_key(prog: &Program, path: &str, ty: &Ty) -> Option<String> {
    match ty {
        Ty::Int { .. } | Ty::Bool | Ty::Enum(_) | Ty::Error => None,
        Ty::Array(_, el) => bad_key(prog, &format!("{path}[]"), el),
        Ty::Struct(id) => match &prog.structs[*id as usize].fields {
            Some(fields) => fields
                .iter()
                .find_map(|(f, t)| bad_key(prog, &format!("{path}.{f}"), t)),
            None => Some(path.to_string()),
        },
        _ => Some(path.to_string()),
    }
}

/// Types that make no sense copied in and out of a table.
fn holds_sync(prog: &Program, ty: &Ty) -> bool {
    match ty {
        Ty::Mutex | Ty::Chan(..) | Ty::Table(..) => true,
        Ty::Array(_, el) => holds_sync(prog, el),
        Ty::Tuple(ts) => ts.iter().any(|t| holds_sync(prog, t)),
        Ty::Struct(id) => prog.structs[*id as usize]
            .fields
            .as_ref()
            .is_some_and(|fs| fs.iter().any(|(_, t)| holds_sync(prog, t))),
        _ => false,
    }
}

impl Checker<'_> {
    /// `table[K, V, N]`: N a constant >= 1; K and V are checked once every struct is known
    /// ([`Checker::check_table_elements`]).
    pub(super) fn table_type(
        &mut self,
        k: &ast::Type,
        v: &ast::Type,
        n: &ast::Expr,
        kt: Ty,
        vt: Ty,
    ) -> Ty {
        match self.const_int(n) {
            Some(c) if c >= 1 && c < u32::MAX as i128 => {
                self.table_elems
                    .push((kt.clone(), k.span, vt.clone(), v.span));
                Ty::Table(Box::new(kt), Box::new(vt), c as u64)
            }
            _ => {
                self.err(
                    n.span,
                    "table capacity must be a constant integer between 1 and 4294967294",
                );
                Ty::Error
            }
        }
    }

    /// Keys: integers, bools, enums, arrays and structs of those. Values: the rule of
    /// `shared var` (no addresses), and no `Mutex`, channel or table.
    pub(super) fn check_table_elements(&mut self) {
        for (kt, kspan, vt, vspan) in std::mem::take(&mut self.table_elems) {
            if let Some(path) = bad_key(&self.prog, "key", &kt) {
                let shown = self.show(&kt);
                let at = if path == "key" {
                    String::new()
                } else {
                    format!(" (`{path}`)")
                };
                self.err(
                    kspan,
                    format!("invalid table key type `{shown}`{at}: keys are integers, bools, enums, arrays and structs of those (compared by their bytes)"),
                );
            }
            let show = |t: &Ty| self.show(t);
            if let Err(Unshareable {
                path,
                what,
                address,
            }) = shareable(&self.prog, "value", &vt, &show)
            {
                let msg = if address {
                    format!("a table cannot hold an address: `{path}` is {what} (addresses differ between the processes of a fleet)")
                } else {
                    format!("a table needs a known layout: `{path}` is {what}")
                };
                self.err(vspan, msg);
            } else if holds_sync(&self.prog, &vt) {
                let shown = self.show(&vt);
                self.err(vspan, format!("a table value cannot hold a `Mutex`, a channel or a table (`{shown}`): values are copied in and out"));
            }
        }
    }

    /// The `table_*` builtins. `None`: not one of their names.
    pub(super) fn table_builtin(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        span: Span,
    ) -> Option<Expr> {
        let op = TableOp::from_name(name)?;
        let arity = op.arity();
        if args.len() != arity {
            self.err(
                span,
                format!(
                    "`{name}` takes {arity} argument{} (`{}`), found {}",
                    if arity == 1 { "" } else { "s" },
                    op.usage(),
                    args.len()
                ),
            );
            return Some(err_expr(span));
        }
        let t = self.expr(&args[0], None);
        let (kt, vt) = match table_of_ptr(&t.ty) {
            Some((k, v, _)) => (k.clone(), v.clone()),
            None if t.ty.is_error() => return Some(err_expr(span)),
            None => {
                let shown = self.show(&t.ty);
                self.err(
                    args[0].span,
                    format!(
                        "`{name}` needs a pointer to a table (`{}`), found `{shown}`",
                        op.usage()
                    ),
                );
                return Some(err_expr(span));
            }
        };
        let mut out = vec![t];
        let mismatch = format!("Argument type mismatch in `{name}`");
        match op {
            TableOp::Put | TableOp::Get | TableOp::Del => {
                let k = self.expr(&args[1], Some(&kt));
                out.push(self.coerce(k, &kt, &mismatch, args[1].span));
                if op == TableOp::Put {
                    let v = self.expr(&args[2], Some(&vt));
                    out.push(self.coerce(v, &vt, &mismatch, args[2].span));
                }
            }
            TableOp::Each => {
                let ctx = self.expr(&args[1], None);
                if ctx.ty.is_error() {
                    return Some(err_expr(span));
                }
                if !ctx.ty.is_ptr() {
                    self.err(
                        args[1].span,
                        "the context argument of `table_each` must be a pointer",
                    );
                    return Some(err_expr(span));
                }
                let want = vec![kt.clone(), vt.clone(), ctx.ty.clone()];
                let fty = Ty::Fn {
                    params: want.clone().into(),
                    ret: Box::new(Ty::Bool),
                    c_variadic: false,
                };
                let cb = self.expr(&args[2], Some(&fty));
                if cb.ty.is_error() {
                    return Some(err_expr(span));
                }
                let ok = matches!(&cb.ty, Ty::Fn { params, ret, c_variadic: false } if **ret == Ty::Bool && **params == *want);
                if !ok {
                    let sig: Vec<String> = want.iter().map(|t| self.show(t)).collect();
                    self.err(
                        args[2].span,
                        format!(
                            "the callback of `table_each` must be `fn({}) : bool`",
                            sig.join(", ")
                        ),
                    );
                    return Some(err_expr(span));
                }
                out.push(ctx);
                out.push(cb);
            }
            TableOp::Len | TableOp::Clear => {}
        }
        let ty = match op {
            TableOp::Put | TableOp::Del => Ty::Bool,
            TableOp::Get => Ty::Tuple(vec![Ty::Bool, vt]),
            TableOp::Len => U64,
            TableOp::Clear | TableOp::Each => Ty::Void,
        };
        Some(Expr {
            kind: ExprKind::Builtin(Builtin::Table(op), out),
            ty,
            span,
        })
    }
}
