//! Scalars in memory. A `bool` is an `i1` as a value but a byte in memory (0 or 1, as C's
//! `_Bool`): stores zero-extend it, loads read the byte and truncate. With `i1` in memory,
//! LLVM would neither vectorize loops over `[]bool` nor turn them into memset.

use inkwell::builder::Builder;
use inkwell::types::{BasicType, BasicTypeEnum};
use inkwell::values::{BasicValue, BasicValueEnum, InstructionValue, PointerValue};

use super::{llvm_type, Emitter};
use crate::hir::Ty;

fn is_i1(t: BasicTypeEnum<'_>) -> bool {
    t.is_int_type() && t.into_int_type().get_bit_width() == 1
}

/// `v` as it is stored: a bool as a byte.
pub(super) fn to_mem<'ctx>(b: &Builder<'ctx>, v: BasicValueEnum<'ctx>) -> BasicValueEnum<'ctx> {
    if !is_i1(v.get_type()) {
        return v;
    }
    let i = v.into_int_value();
    b.build_int_z_extend(i, i.get_type().get_context().i8_type(), "").unwrap().into()
}

pub(super) fn store<'ctx>(b: &Builder<'ctx>, p: PointerValue<'ctx>, v: impl BasicValue<'ctx>) -> InstructionValue<'ctx> {
    b.build_store(p, to_mem(b, v.as_basic_value_enum())).unwrap()
}

/// A value of LLVM type `t` (`i1` for a bool) loaded from `p`.
pub(super) fn load<'ctx>(b: &Builder<'ctx>, t: impl BasicType<'ctx>, p: PointerValue<'ctx>, name: &str) -> BasicValueEnum<'ctx> {
    let t = t.as_basic_type_enum();
    if !is_i1(t) {
        return b.build_load(t, p, name).unwrap();
    }
    let ctx = t.into_int_type().get_context();
    let i8t = ctx.i8_type();
    let v = b.build_load(i8t, p, name).unwrap();
    // No `!range [0, 2)` as clang gives `_Bool` loads: a byte written through a cast pointer
    // (or by another process of the fleet) may hold more, and would be undefined behaviour;
    // truncating reads bit 0. On bench/codegen only one instruction differed (testb/cmpb).
    b.build_int_truncate(v.into_int_value(), ctx.bool_type(), "").unwrap().into()
}

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// The LLVM type of `t` in memory (allocas, globals, GEPs): a bool is an `i8`.
    pub(super) fn mty(&self, t: &Ty) -> BasicTypeEnum<'ctx> {
        llvm_type(self.ctx, self.prog, t, &|id| self.structs[id as usize].into())
    }
}
