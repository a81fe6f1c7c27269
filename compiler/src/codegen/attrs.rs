//! Attributes that tell LLVM what Truk's calling convention guarantees.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::values::FunctionValue;

use super::{in_memory, Emitter};
use crate::hir::*;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// An aggregate parameter (not a sized array) points to a copy the caller made for this
    /// call alone, so nothing else reaches it: `noalias` lets LLVM keep a slice's pointer and
    /// length in registers across the stores through it instead of reloading them. The copy
    /// is a whole, aligned value (`nonnull`, `align`, `dereferenceable`): LLVM may then load
    /// any field before a branch needs it, so `if a.key != b.key { return a.key < b.key }
    /// return a.id < b.id` becomes a select instead of two data-dependent branches.
    pub(super) fn mark_private_copies(&self, fv: FunctionValue<'ctx>, params: &[Ty], ret: &Ty) {
        let first = in_memory(ret) as u32;
        let attr = |name: &str, v: u64| self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), v);
        for (i, p) in params.iter().enumerate() {
            if in_memory(p) && !matches!(p, Ty::Array(..)) {
                let at = AttributeLoc::Param(first + i as u32);
                fv.add_attribute(at, attr("noalias", 0));
                let t = self.mty(p);
                let size = self.td.get_abi_size(&t);
                if size > 0 {
                    fv.add_attribute(at, attr("nonnull", 0));
                    fv.add_attribute(at, attr("noundef", 0));
                    fv.add_attribute(at, attr("align", self.td.get_abi_alignment(&t) as u64));
                    fv.add_attribute(at, attr("dereferenceable", size));
                }
            }
        }
    }
}
