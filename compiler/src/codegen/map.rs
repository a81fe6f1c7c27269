//! Map builtins: calls of `runtime-c/map.c`, whose entry points are per key kind, the key by
//! value: integer, bool and enum keys zero-extended to u64 (`*_int`), strings as the
//! pointer (`*_str`), floats as an f64 (`*_float`); a program links only the kinds it uses.
//! Optimized builds emit the lookup of an integer key inline (`m[k]`, and the update of an
//! existing key in `m[k] = v`): map.c's `find_u64` on its `truk_map` fields; a miss of an
//! assignment, an insert, calls the runtime.

use inkwell::types::BasicTypeEnum;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::{mem, Emitter};
use crate::hir::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum MapOp {
    Get,
    Upsert,
    Remove,
}

/// Offsets of `truk_map`'s fields (map.c asserts them) that the inline lookup reads.
const VAL_OFF: u64 = 24;
const ENTRY_SIZE: u64 = 32;
const ENTRIES: u64 = 40;
const CAP: u64 = 56;
const INDEX: u64 = 72;
const SHIFT: u64 = 80;
/// map.c's `int_hash` multiplier, the tombstone slot and the entry's key offset.
const INT_HASH: u64 = 0x9e37_79b9_7f4a_7c15;
const SLOT_TOMB: u64 = u64::MAX;
const ENTRY_HDR: u64 = 16;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// `m[k]` (Get: *V or nil), `m[k] = ...` (Upsert: the value slot), `delete(m[k])`.
    pub(super) fn map_call(&mut self, op: MapOp, m: &'p Expr, k: &'p Expr) -> Option<BasicValueEnum<'ctx>> {
        let (ptr, i64t) = (self.ptr(), self.ctx.i64_type());
        let mv = self.rvalue(m).unwrap();
        let kv = self.rvalue(k).unwrap();
        // Each key kind has its own entry points (see map.c), the key by value.
        let (key, key_ty, kind): (BasicValueEnum, BasicTypeEnum, &str) = match k.ty {
            Ty::Ptr(_) => (kv, ptr.into(), "str"),
            Ty::Float { .. } => {
                let f64t = self.ctx.f64_type();
                (self.b.build_float_cast(kv.into_float_value(), f64t, "").unwrap().into(), f64t.into(), "float")
            }
            _ => (self.b.build_int_z_extend_or_bit_cast(kv.into_int_value(), i64t, "").unwrap().into(), i64t.into(), "int"),
        };
        let by_value = kind == "int";
        let op_name = match op {
            MapOp::Get => "get",
            MapOp::Upsert => "upsert",
            MapOp::Remove => "remove",
        };
        let name = format!("__truk_map_{op_name}_{kind}");
        let ret = (op != MapOp::Remove).then_some(ptr.into());
        let f = self.rt(&name, &[ptr.into(), key_ty.into()], ret);
        // Unoptimized builds keep the call: nothing would inline further at -O0.
        if !by_value || op == MapOp::Remove || !self.optimized() {
            return self.b.build_call(f, &[mv.into(), key.into()], "").unwrap().try_as_basic_value().basic();
        }
        let (mv, key) = (mv.into_pointer_value(), key.into_int_value());
        let fv = self.cur_fn.unwrap();
        let [miss, join] = ["map.miss", "map.join"].map(|n| self.ctx.append_basic_block(fv, n));
        let found = self.map_find_int(mv, key, miss);
        let hit = self.b.get_insert_block().unwrap();
        self.b.build_unconditional_branch(join).unwrap();
        self.b.position_at_end(miss);
        let missed = match op {
            MapOp::Get => ptr.const_null(),
            _ => self.b.build_call(f, &[mv.into(), key.into()], "").unwrap().try_as_basic_value().basic().unwrap().into_pointer_value(),
        };
        let miss_end = self.b.get_insert_block().unwrap();
        self.b.build_unconditional_branch(join).unwrap();
        self.b.position_at_end(join);
        let phi = self.b.build_phi(ptr, "").unwrap();
        phi.add_incoming(&[(&found, hit), (&missed, miss_end)]);
        Some(phi.as_basic_value())
    }

    /// map.c's `find_u64` inline (with `int_hash`): the value of integer key `key` in map `m`, with the
    /// builder left where it is found; a nil map, an empty one or an absent key go to `miss`.
    fn map_find_int(&mut self, m: PointerValue<'ctx>, key: IntValue<'ctx>, miss: inkwell::basic_block::BasicBlock<'ctx>) -> PointerValue<'ctx> {
        let (i64t, i8t, ptr) = (self.ctx.i64_type(), self.ctx.i8_type(), self.ptr());
        let c = |v: u64| i64t.const_int(v, false);
        let fv = self.cur_fn.unwrap();
        let blocks = ["map.some", "map.index", "map.probe", "map.tag", "map.key", "map.next", "map.hit"];
        let [some, has_index, lp, tag_ok, cmpkey, next, hit] = blocks.map(|n| self.ctx.append_basic_block(fv, n));
        let b = &self.b;
        let field = |off: u64| unsafe { b.build_in_bounds_gep(i8t, m, &[c(off)], "").unwrap() };
        b.build_conditional_branch(b.build_is_null(m, "").unwrap(), miss, some).unwrap();
        b.position_at_end(some);
        let index = mem::load(&b, ptr, field(INDEX), "").into_pointer_value();
        b.build_conditional_branch(b.build_is_null(index, "").unwrap(), miss, has_index).unwrap();
        b.position_at_end(has_index);
        let cap = mem::load(&b, i64t, field(CAP), "").into_int_value();
        let mask = b.build_int_sub(b.build_int_add(cap, cap, "").unwrap(), c(1), "").unwrap();
        let shift = mem::load(&b, self.ctx.i32_type(), field(SHIFT), "").into_int_value();
        let shift = b.build_int_z_extend(shift, i64t, "").unwrap();
        let h = b.build_int_mul(key, c(INT_HASH), "").unwrap();
        let home = b.build_right_shift(h, shift, false, "").unwrap();
        let tag = b.build_and(h, c(0xffff_ffff), "").unwrap();
        let entry = b.get_insert_block().unwrap();
        b.build_unconditional_branch(lp).unwrap();
        b.position_at_end(lp);
        let i = b.build_phi(i64t, "").unwrap();
        let iv = i.as_basic_value().into_int_value();
        let slot = unsafe { b.build_in_bounds_gep(i64t, index, &[iv], "").unwrap() };
        let s = mem::load(&b, i64t, slot, "").into_int_value();
        let empty = b.build_int_compare(IntPredicate::EQ, s, c(0), "").unwrap();
        b.build_conditional_branch(empty, miss, tag_ok).unwrap();
        b.position_at_end(tag_ok);
        let not_tomb = b.build_int_compare(IntPredicate::NE, s, c(SLOT_TOMB), "").unwrap();
        let same_tag = b.build_int_compare(IntPredicate::EQ, b.build_right_shift(s, c(32), false, "").unwrap(), tag, "").unwrap();
        b.build_conditional_branch(b.build_and(not_tomb, same_tag, "").unwrap(), cmpkey, next).unwrap();
        b.position_at_end(cmpkey);
        let entries = mem::load(&b, ptr, field(ENTRIES), "").into_pointer_value();
        let esize = mem::load(&b, i64t, field(ENTRY_SIZE), "").into_int_value();
        let no = b.build_int_sub(b.build_and(s, c(0xffff_ffff), "").unwrap(), c(1), "").unwrap();
        let e = unsafe { b.build_in_bounds_gep(i8t, entries, &[b.build_int_mul(no, esize, "").unwrap()], "").unwrap() };
        let kp = unsafe { b.build_in_bounds_gep(i8t, e, &[c(ENTRY_HDR)], "").unwrap() };
        let there = mem::load(&b, i64t, kp, "").into_int_value();
        b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, there, key, "").unwrap(), hit, next).unwrap();
        b.position_at_end(next);
        let i1 = b.build_and(b.build_int_add(iv, c(1), "").unwrap(), mask, "").unwrap();
        b.build_unconditional_branch(lp).unwrap();
        i.add_incoming(&[(&home, entry), (&i1, next)]);
        b.position_at_end(hit);
        let val_off = mem::load(&b, i64t, field(VAL_OFF), "").into_int_value();
        unsafe { b.build_in_bounds_gep(i8t, e, &[val_off], "").unwrap() }
    }
}
