//! Map builtins: calls of `runtime-c/map.c`. Integer, bool and enum keys of up to 8 bytes
//! go by value, zero-extended to u64, to the `*_int` entry points (no key temporary, one
//! compare per probe); other keys go through a pointer to a temporary.

use inkwell::values::BasicValueEnum;

use super::Emitter;
use crate::hir::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MapOp {
    Get,
    Upsert,
    Remove,
}

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// `m[k]` (Get: *V or nil), `m[k] = ...` (Upsert: the value slot), `delete(m[k])`.
    pub(super) fn map_call(&mut self, op: MapOp, m: &'p Expr, k: &'p Expr) -> Option<BasicValueEnum<'ctx>> {
        let (ptr, i64t) = (self.ptr(), self.ctx.i64_type());
        let mv = self.rvalue(m).unwrap();
        let by_value = matches!(k.ty, Ty::Int { .. } | Ty::Bool | Ty::Enum(_)) && self.size_of(&k.ty) <= 8;
        let (key, key_ty) = if by_value {
            let kv = self.rvalue(k).unwrap().into_int_value();
            (self.b.build_int_z_extend_or_bit_cast(kv, i64t, "").unwrap().into(), i64t.into())
        } else {
            (self.key_ptr(k).into(), ptr.into())
        };
        let name = match (op, by_value) {
            (MapOp::Get, false) => "__truk_map_get",
            (MapOp::Upsert, false) => "__truk_map_upsert",
            (MapOp::Remove, false) => "__truk_map_remove",
            (MapOp::Get, true) => "__truk_map_get_int",
            (MapOp::Upsert, true) => "__truk_map_upsert_int",
            (MapOp::Remove, true) => "__truk_map_remove_int",
        };
        let ret = (op != MapOp::Remove).then_some(ptr.into());
        let f = self.rt(name, &[ptr.into(), key_ty], ret);
        self.b.build_call(f, &[mv.into(), key], "").unwrap().try_as_basic_value().basic()
    }
}
