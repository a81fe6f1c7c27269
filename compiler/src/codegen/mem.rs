//! Truk types in memory: their LLVM types (`llvm_type`), and the loads and stores of
//! scalars. A `bool` is an `i1` as a value but a byte in memory (0 or 1, as C's
//! `_Bool`): stores zero-extend it, loads read the byte and truncate. With `i1` in memory,
//! LLVM would neither vectorize loops over `[]bool` nor turn them into memset.

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::types::{BasicType, BasicTypeEnum, StructType};
use inkwell::values::{BasicValue, BasicValueEnum, InstructionValue, PointerValue};
use inkwell::AddressSpace;

use super::Emitter;
use crate::hir::*;
use crate::mir::layout;

/// The LLVM type of `t` in memory; `struct_ty` gives the LLVM type of a struct.
pub(super) fn llvm_type<'ctx>(ctx: &'ctx Context, prog: &Program, t: &Ty, struct_ty: &dyn Fn(StructId) -> BasicTypeEnum<'ctx>) -> BasicTypeEnum<'ctx> {
    let c = ctx;
    match t {
        Ty::Int { bits: 8, .. } => c.i8_type().into(),
        Ty::Int { bits: 16, .. } => c.i16_type().into(),
        Ty::Int { bits: 32, .. } => c.i32_type().into(),
        Ty::Int { .. } => c.i64_type().into(),
        Ty::Float { bits: 32 } => c.f32_type().into(),
        Ty::Float { .. } => c.f64_type().into(),
        // A byte, as C's `_Bool`: values are `i1` (`Emitter::ty`), see `mem.rs`.
        Ty::Bool => c.i8_type().into(),
        Ty::Ptr(_) | Ty::Map(..) | Ty::Fn { .. } | Ty::Nil => c.ptr_type(AddressSpace::default()).into(),
        Ty::Array(n, el) => llvm_type(ctx, prog, el, struct_ty).array_type(*n as u32).into(),
        Ty::Slice(_) => slice_type(ctx).into(),
        Ty::Tuple(ts) => {
            let fields: Vec<BasicTypeEnum> = ts.iter().map(|t| llvm_type(ctx, prog, t, struct_ty)).collect();
            c.struct_type(&fields, false).into()
        }
        Ty::Struct(id) => struct_ty(*id),
        Ty::Enum(id) => match prog.enums.get(*id as usize) {
            Some(e) => llvm_type(ctx, prog, &e.base, struct_ty),
            None => c.i32_type().into(),
        },
        // Opaque bytes of the runtime's size, 8-aligned.
        Ty::Mutex => c.i64_type().array_type((layout::MUTEX_SIZE / 8) as u32).into(),
        // Opaque words: the runtime reads the cells (`chan_size` is a multiple of 8).
        Ty::Chan(el, n) => {
            // Header words, then N cells of words: every count stays within u32.
            let size = layout::chan_elem_size(prog, el);
            let cell = c.i64_type().array_type((layout::chan_stride(size) / 8) as u32);
            // 16-aligned channels (layout::chan_align): a header of i128 words carries it.
            let header = match layout::chan_align(size) {
                16 => c.i128_type().array_type((layout::CHAN_HEADER_SIZE / 16) as u32),
                _ => c.i64_type().array_type((layout::CHAN_HEADER_SIZE / 8) as u32),
            };
            c.struct_type(&[header.into(), cell.array_type(*n as u32).into()], false).into()
        }
        Ty::Table(k, v, n) => {
            let (ks, vs) = (layout::chan_elem_size(prog, k), layout::chan_elem_size(prog, v));
            c.i64_type().array_type((layout::table_size(ks, vs, *n) / 8) as u32).into()
        }
        // `void` only reaches here as a pointee or an error: give it a byte.
        Ty::Void | Ty::Error => c.i8_type().into(),
    }
}

pub(super) fn slice_type(ctx: &Context) -> StructType<'_> {
    ctx.struct_type(&[ctx.ptr_type(AddressSpace::default()).into(), ctx.i64_type().into()], false)
}

/// The LLVM type of `t` with structs as literal (unnamed) types: for checking layouts.
pub fn llvm_type_of<'ctx>(ctx: &'ctx Context, prog: &Program, t: &Ty) -> BasicTypeEnum<'ctx> {
    fn anon_struct<'ctx>(ctx: &'ctx Context, prog: &Program, id: StructId) -> BasicTypeEnum<'ctx> {
        match &prog.structs[id as usize].fields {
            Some(fields) => {
                let fs: Vec<BasicTypeEnum> = fields.iter().map(|(_, t)| llvm_type(ctx, prog, t, &|id| anon_struct(ctx, prog, id))).collect();
                ctx.struct_type(&fs, false).into()
            }
            None => ctx.struct_type(&[ctx.i8_type().into()], false).into(),
        }
    }
    llvm_type(ctx, prog, t, &|id| anon_struct(ctx, prog, id))
}

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
