//! Attributes that tell LLVM what Truk's calling convention guarantees.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::values::FunctionValue;

use super::{in_memory, Emitter};
use crate::hir::*;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// An aggregate parameter (not a sized array) points to a copy the caller made for this
    /// call alone, so nothing else reaches it: `noalias` lets LLVM keep a slice's pointer and
    /// length in registers across the stores through it instead of reloading them.
    pub(super) fn mark_private_copies(&self, fv: FunctionValue<'ctx>, params: &[Ty], ret: &Ty) {
        let first = in_memory(ret) as u32;
        let noalias = self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("noalias"), 0);
        for (i, p) in params.iter().enumerate() {
            if in_memory(p) && !matches!(p, Ty::Array(..)) {
                fv.add_attribute(AttributeLoc::Param(first + i as u32), noalias);
            }
        }
    }
}
