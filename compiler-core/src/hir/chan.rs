//! Channels: the type `chan[T, N]` and the `chan_*` builtins (calls of `runtime-c/chan.c`).
//! A channel is a value like a `Mutex`: it lives inline where it is declared (a shared
//! variable, a global, a local, a field) and the builtins take its address.

use super::check::{err_expr, Checker};
use super::fleet::{shareable, Unshareable};
use super::ty::*;
use super::*;
use crate::diag::Span;
use crate::syntax::ast;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChanOp {
    /// `chan_send(&c, v, timeout_ms): bool`.
    Send,
    /// `chan_recv(&c, timeout_ms): (bool, T)`.
    Recv,
    /// `chan_close(&c)`.
    Close,
    /// `chan_len(&c): u64`.
    Len,
    /// `chan_select(timeout_ms, &a, &b, ...): i32`.
    Select,
}

impl ChanOp {
    fn from_name(name: &str) -> Option<ChanOp> {
        Some(match name {
            "chan_send" => ChanOp::Send,
            "chan_recv" => ChanOp::Recv,
            "chan_close" => ChanOp::Close,
            "chan_len" => ChanOp::Len,
            "chan_select" => ChanOp::Select,
            _ => return None,
        })
    }

    fn usage(self) -> &'static str {
        match self {
            ChanOp::Send => "chan_send(&c, v, timeout_ms)",
            ChanOp::Recv => "chan_recv(&c, timeout_ms)",
            ChanOp::Close => "chan_close(&c)",
            ChanOp::Len => "chan_len(&c)",
            ChanOp::Select => "chan_select(timeout_ms, &a, &b, ...)",
        }
    }
}

/// The element type and capacity of a `*chan[T, N]`.
pub fn chan_of_ptr(t: &Ty) -> Option<(&Ty, u64)> {
    match t {
        Ty::Ptr(c) => match &**c {
            Ty::Chan(el, n) => Some((el, *n)),
            _ => None,
        },
        _ => None,
    }
}

impl Checker<'_> {
    /// `chan[T, N]`: N a constant >= 1; T is checked like a shared variable's type once every
    /// struct is known ([`Checker::check_chan_elements`]).
    pub(super) fn chan_type(&mut self, el: &ast::Type, n: &ast::Expr, elem: Ty) -> Ty {
        match self.const_int(n) {
            Some(v) if v >= 1 && v <= u32::MAX as i128 => {
                self.chan_elems.push((elem.clone(), el.span));
                Ty::Chan(Box::new(elem), v as u64)
            }
            _ => {
                self.err(n.span, "channel capacity must be a constant integer between 1 and 4294967295");
                Ty::Error
            }
        }
    }

    /// Channel elements may not hold addresses (the rule and the words of `shared var`).
    pub(super) fn check_chan_elements(&mut self) {
        for (ty, span) in std::mem::take(&mut self.chan_elems) {
            let show = |t: &Ty| self.show(t);
            if let Err(Unshareable { path, what, address }) = shareable(&self.prog, "element", &ty, &show) {
                let msg = if address {
                    format!("a channel cannot hold an address: `{path}` is {what} (addresses differ between the processes of a fleet)")
                } else {
                    format!("a channel needs a known layout: `{path}` is {what}")
                };
                self.err(span, msg);
            }
        }
    }

    /// The `chan_*` builtins. `None`: not one of their names.
    pub(super) fn chan_builtin(&mut self, name: &str, args: &[ast::Expr], span: Span) -> Option<Expr> {
        let op = ChanOp::from_name(name)?;
        let arity = match op {
            ChanOp::Send => 3,
            ChanOp::Recv => 2,
            ChanOp::Close | ChanOp::Len => 1,
            ChanOp::Select => 0,
        };
        let bad_arity = match op {
            ChanOp::Select => args.len() < 2,
            _ => args.len() != arity,
        };
        if bad_arity {
            let want = match op {
                ChanOp::Select => "a time-out and at least one channel".to_string(),
                _ => format!("{arity} argument{}", if arity == 1 { "" } else { "s" }),
            };
            self.err(span, format!("`{name}` takes {want} (`{}`), found {} argument{}", op.usage(), args.len(), if args.len() == 1 { "" } else { "s" }));
            return Some(err_expr(span));
        }
        let mut out = vec![];
        let chans: &[ast::Expr] = if op == ChanOp::Select { &args[1..] } else { &args[..1] };
        if op == ChanOp::Select {
            let t = self.expr(&args[0], Some(&I64));
            out.push(self.coerce(t, &I64, &format!("Argument type mismatch in `{name}`"), args[0].span));
        }
        let mut elem = None;
        for a in chans {
            let p = self.expr(a, None);
            match chan_of_ptr(&p.ty) {
                Some((el, _)) => elem = Some(el.clone()),
                None if p.ty.is_error() => return Some(err_expr(span)),
                None => {
                    let shown = self.show(&p.ty);
                    self.err(a.span, format!("`{name}` needs a pointer to a channel (`{}`), found `{shown}`", op.usage()));
                    return Some(err_expr(span));
                }
            }
            out.push(p);
        }
        let elem = elem.unwrap_or(Ty::Error);
        let rest: &[(&ast::Expr, Ty)] = &match op {
            ChanOp::Send => vec![(&args[1], elem.clone()), (&args[2], I64)],
            ChanOp::Recv => vec![(&args[1], I64)],
            _ => vec![],
        };
        for (a, t) in rest {
            let x = self.expr(a, Some(t));
            out.push(self.coerce(x, t, &format!("Argument type mismatch in `{name}`"), a.span));
        }
        let ty = match op {
            ChanOp::Send => Ty::Bool,
            ChanOp::Recv => Ty::Tuple(vec![Ty::Bool, elem]),
            ChanOp::Close => Ty::Void,
            ChanOp::Len => U64,
            ChanOp::Select => I32,
        };
        Some(Expr { kind: ExprKind::Builtin(Builtin::Chan(op), out), ty, span })
    }
}
