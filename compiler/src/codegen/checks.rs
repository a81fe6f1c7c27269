//! The checks codegen adds: bounds (left out where `mir/bounds.rs` proves the index in
//! bounds) and, in debug builds, nil. Each failure is a cold call that does not return.
//! Where loop versioning left a function a test that restarts it (`Terminator::Restart`), the
//! function as written is a copy of its own, which the test's failure calls.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::module::Linkage;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue};
use inkwell::types::BasicTypeEnum;
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
                let elt = self.mty(el);
                self.checked_element(checked, elt, base, idx, self.i64c(*n), span)
            }
            Ty::Slice(el) => {
                let (ptr, len) = self.slice_parts(b);
                let idx = self.rvalue(i).unwrap().into_int_value();
                let elt = self.mty(el);
                self.checked_element(checked, elt, ptr, idx, len, span)
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

    /// The address of element `idx` of `len` at `base`, after the bounds check when `checked`.
    /// Unoptimized code computes the address before the check's branch: what crosses into
    /// the next block, which the fast register allocator keeps in a stack slot, is then the
    /// address alone rather than both the base and the index (one reload less per check).
    /// The failure path does not use it (there it may be out of bounds, a poison value).
    fn checked_element(&mut self, checked: bool, elt: BasicTypeEnum<'ctx>, base: PointerValue<'ctx>, idx: IntValue<'ctx>, len: IntValue<'ctx>, span: Span) -> PointerValue<'ctx> {
        let gep = |s: &Self| unsafe { s.b.build_in_bounds_gep(elt, base, &[idx], "").unwrap() };
        if !checked {
            return gep(self);
        }
        if self.optimized() {
            self.bounds_check(idx, len, span);
            return gep(self);
        }
        let at = gep(self);
        self.bounds_check(idx, len, span);
        at
    }

    fn bounds_check(&mut self, idx: IntValue<'ctx>, len: IntValue<'ctx>, span: Span) {
        let ok = self.b.build_int_compare(IntPredicate::ULT, idx, len, "inbounds").unwrap();
        if ok.get_zero_extended_constant() == Some(1) {
            // A constant index within a fixed length: nothing to check.
            return;
        }
        let (fail, cont) = self.check_blocks("oob", "ok");
        self.b.build_conditional_branch(ok, cont, fail).unwrap();
        self.b.position_at_end(fail);
        self.fail_call("__truk_bounds_fail", &[idx.into(), len.into()], span);
        self.b.position_at_end(cont);
    }

    /// The blocks of a check: the failure's, last in the function (cold), and the one where
    /// the code goes on, right after the current block, so that the check's branch falls
    /// through to it (unoptimized code keeps blocks in this order: no jump to the next line).
    pub(super) fn check_blocks(&self, fail: &str, cont: &str) -> (BasicBlock<'ctx>, BasicBlock<'ctx>) {
        let here = self.b.get_insert_block().unwrap();
        (self.ctx.append_basic_block(self.cur_fn.unwrap(), fail), self.ctx.insert_basic_block_after(here, cont))
    }

    pub(super) fn nil_check(&mut self, ptr: PointerValue<'ctx>, span: Span) {
        let nil = self.b.build_is_null(ptr, "isnil").unwrap();
        let (fail, cont) = self.check_blocks("nil", "notnil");
        self.b.build_conditional_branch(nil, fail, cont).unwrap();
        self.b.position_at_end(fail);
        self.fail_call("__truk_nil_fail", &[], span);
        self.b.position_at_end(cont);
    }

    /// The copy of `fv` as written (every check kept) that a failed versioning test runs:
    /// internal, cold and never inlined, so that `fv` stays as small as its fast loop.
    pub(super) fn checked_copy(&mut self, fv: FunctionValue<'ctx>) -> FunctionValue<'ctx> {
        let name = format!("{}.checked", fv.get_name().to_string_lossy());
        let copy = self.module.add_function(&name, fv.get_type(), Some(Linkage::Internal));
        for attr in ["cold", "noinline"] {
            copy.add_attribute(AttributeLoc::Function, self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(attr), 0));
        }
        let mut locs = vec![AttributeLoc::Return];
        locs.extend((0..fv.count_params()).map(AttributeLoc::Param));
        for loc in locs {
            for a in fv.attributes(loc) {
                copy.add_attribute(loc, a);
            }
        }
        copy
    }

    /// `Terminator::Restart`: the copy as written, called with this call's own arguments,
    /// returns what the function returns.
    pub(super) fn restart(&mut self) {
        let (fv, copy) = (self.cur_fn.unwrap(), self.restart_fn.expect("a restart outside a function with its checked copy"));
        let args: Vec<BasicMetadataValueEnum> = fv.get_param_iter().map(|p| p.into()).collect();
        let call = self.b.build_call(copy, &args, "").unwrap();
        call.set_tail_call(true);
        match call.try_as_basic_value().basic() {
            Some(v) => self.b.build_return(Some(&v)).unwrap(),
            None => self.b.build_return(None).unwrap(),
        };
    }
}
