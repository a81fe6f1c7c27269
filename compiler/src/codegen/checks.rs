//! The checks codegen adds: bounds (left out where `mir/bounds.rs` proves the index in
//! bounds) and, in debug builds, nil. Each failure is a cold call that does not return.

use inkwell::values::{IntValue, PointerValue};
use inkwell::IntPredicate;

use super::Emitter;
use crate::diag::Span;
use crate::hir::{Expr, Ty};

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// The address of `b[i]` (`e`), checked unless proven in bounds.
    pub(super) fn index_place(&mut self, e: &'p Expr, b: &'p Expr, i: &'p Expr) -> PointerValue<'ctx> {
        let checked = !self.unchecked.contains(&(e as *const Expr));
        let span = e.span;
        match &b.ty {
            Ty::Array(n, el) => {
                let base = self.place(b);
                let idx = self.rvalue(i).unwrap().into_int_value();
                if checked {
                    self.bounds_check(idx, self.i64c(*n), span);
                }
                let elt = self.mty(el);
                unsafe { self.b.build_in_bounds_gep(elt, base, &[idx], "").unwrap() }
            }
            Ty::Slice(el) => {
                let (ptr, len) = self.slice_parts(b);
                let idx = self.rvalue(i).unwrap().into_int_value();
                if checked {
                    self.bounds_check(idx, len, span);
                }
                let elt = self.mty(el);
                unsafe { self.b.build_in_bounds_gep(elt, ptr, &[idx], "").unwrap() }
            }
            Ty::Ptr(el) => {
                let p = self.rvalue(b).unwrap().into_pointer_value();
                let idx = self.rvalue(i).unwrap().into_int_value();
                let elt = self.mty(el);
                unsafe { self.b.build_gep(elt, p, &[idx], "").unwrap() }
            }
            _ => unreachable!("index of a non-indexable type passed the checker"),
        }
    }

    fn bounds_check(&mut self, idx: IntValue<'ctx>, len: IntValue<'ctx>, span: Span) {
        let fv = self.cur_fn.unwrap();
        let ok = self.b.build_int_compare(IntPredicate::ULT, idx, len, "inbounds").unwrap();
        if ok.get_zero_extended_constant() == Some(1) {
            // A constant index within a fixed length: nothing to check.
            return;
        }
        let fail = self.ctx.append_basic_block(fv, "oob");
        let cont = self.ctx.append_basic_block(fv, "ok");
        self.b.build_conditional_branch(ok, cont, fail).unwrap();
        self.b.position_at_end(fail);
        self.fail_call("__truk_bounds_fail", &[idx.into(), len.into()], span);
        self.b.position_at_end(cont);
    }

    pub(super) fn nil_check(&mut self, ptr: PointerValue<'ctx>, span: Span) {
        let fv = self.cur_fn.unwrap();
        let nil = self.b.build_is_null(ptr, "isnil").unwrap();
        let fail = self.ctx.append_basic_block(fv, "nil");
        let cont = self.ctx.append_basic_block(fv, "notnil");
        self.b.build_conditional_branch(nil, fail, cont).unwrap();
        self.b.position_at_end(fail);
        self.fail_call("__truk_nil_fail", &[], span);
        self.b.position_at_end(cont);
    }
}
