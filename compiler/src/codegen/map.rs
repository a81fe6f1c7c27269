//! Map builtins: calls of `runtime-c/map.c`, whose entry points are per key kind, the key by
//! value: integer, bool and enum keys zero-extended to u64 (`*_int`), strings as the
//! pointer (`*_str`), floats as an f64 (`*_float`); a program links only the kinds it uses.
//! Optimized builds emit the operations on an integer key inline, on map.c's `truk_map`
//! fields and slots: the lookup (`m[k]`), the update or insert of `m[k] = v` and
//! `delete(m[k])`; only a nil map, one without slots yet, and an insert that needs a
//! rebuild call the runtime.

use inkwell::basic_block::BasicBlock;
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

/// Offsets of `truk_map`'s fields (map.c asserts them) that the inline code reads.
const SHIFT: u64 = 4;
const SLOTS: u64 = 24;
const MASK: u64 = 32;
const LEN: u64 = 40;
const GROWTH: u64 = 48;
/// map.c's `int_hash` multiplier, a slot's ctrl words (a live one: its hash | SLOT_LIVE),
/// and where the key and value are in a slot.
const INT_HASH: u64 = 0x9e37_79b9_7f4a_7c15;
const SLOT_TOMB: u64 = 1;
const SLOT_LIVE: u64 = 2;
const SLOT_KEY: u64 = 8;
const SLOT_VAL: u64 = 16;

/// Where the inline probe of an integer key ends.
struct Probe<'ctx> {
    /// The slot the probe stopped at: the key's live slot in the block the builder is left
    /// in, an empty one (the key is absent) in `empty`.
    slot: PointerValue<'ctx>,
    empty: BasicBlock<'ctx>,
    /// A nil map or one without slots.
    no_slots: BasicBlock<'ctx>,
    /// The key's ctrl word as a live slot holds it.
    ctrl: IntValue<'ctx>,
}

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
        if !by_value || !self.optimized() {
            return self.b.build_call(f, &[mv.into(), key.into()], "").unwrap().try_as_basic_value().basic();
        }
        let Ty::Map(_, v) = &m.ty else { unreachable!("map call on a {:?}", m.ty) };
        // map.c's slot size: the value's size rounded up to 8, after the ctrl word and key.
        let slot_size = SLOT_VAL + self.size_of(v).div_ceil(8) * 8;
        let (mv, key) = (mv.into_pointer_value(), key.into_int_value());
        let fv = self.cur_fn.unwrap();
        let join = self.ctx.append_basic_block(fv, "map.join");
        let p = self.map_probe_int(mv, key, slot_size);
        let (i64t, i8t) = (i64t, self.ctx.i8_type());
        let b = &self.b;
        let at = |base: PointerValue<'ctx>, off: u64| unsafe { b.build_in_bounds_gep(i8t, base, &[i64t.const_int(off, false)], "").unwrap() };
        let field = |off: u64| at(mv, off);
        let add_to = |off: u64, d: i64| {
            let v = mem::load(b, i64t, field(off), "").into_int_value();
            b.build_store(field(off), b.build_int_add(v, i64t.const_int(d as u64, true), "").unwrap()).unwrap();
        };
        if op == MapOp::Remove {
            // A tombstone: the key stays (an integer owns nothing), the slot is no longer live.
            b.build_store(p.slot, i64t.const_int(SLOT_TOMB, false)).unwrap();
            add_to(LEN, -1);
            b.build_unconditional_branch(join).unwrap();
            for bb in [p.no_slots, p.empty] {
                b.position_at_end(bb);
                b.build_unconditional_branch(join).unwrap();
            }
            b.position_at_end(join);
            return None;
        }
        let found = at(p.slot, SLOT_VAL);
        let hit = b.get_insert_block().unwrap();
        b.build_unconditional_branch(join).unwrap();
        let mut incoming = vec![(found, hit)];
        if op == MapOp::Get {
            for bb in [p.no_slots, p.empty] {
                b.position_at_end(bb);
                b.build_unconditional_branch(join).unwrap();
                incoming.push((ptr.const_null(), bb));
            }
        } else {
            // An insert: into the empty slot while the table may take one more, else (a nil
            // map, no slots yet, a rebuild due) the runtime's upsert.
            let [take, call] = ["map.take", "map.call"].map(|n| self.ctx.append_basic_block(fv, n));
            b.position_at_end(p.empty);
            let growth = mem::load(b, i64t, field(GROWTH), "").into_int_value();
            b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, growth, i64t.const_zero(), "").unwrap(), call, take).unwrap();
            b.position_at_end(take);
            // An empty slot is all zeros (map.c), so its value is already zero-filled.
            let s = p.slot;
            b.build_store(s, p.ctrl).unwrap();
            b.build_store(at(s, SLOT_KEY), key).unwrap();
            let val = at(s, SLOT_VAL);
            b.build_store(field(GROWTH), b.build_int_sub(growth, i64t.const_int(1, false), "").unwrap()).unwrap();
            add_to(LEN, 1);
            b.build_unconditional_branch(join).unwrap();
            incoming.push((val, take));
            b.position_at_end(p.no_slots);
            b.build_unconditional_branch(call).unwrap();
            b.position_at_end(call);
            let r = b.build_call(f, &[mv.into(), key.into()], "").unwrap().try_as_basic_value().basic().unwrap();
            b.build_unconditional_branch(join).unwrap();
            incoming.push((r.into_pointer_value(), call));
        }
        b.position_at_end(join);
        let phi = b.build_phi(ptr, "").unwrap();
        for (v, bb) in &incoming {
            phi.add_incoming(&[(v, *bb)]);
        }
        Some(phi.as_basic_value())
    }

    /// map.c's `find_u64` inline (with `int_hash`) for integer key `key` in map `m`, whose
    /// slots are `slot_size` bytes.
    fn map_probe_int(&mut self, m: PointerValue<'ctx>, key: IntValue<'ctx>, slot_size: u64) -> Probe<'ctx> {
        let (i64t, i8t, ptr) = (self.ctx.i64_type(), self.ctx.i8_type(), self.ptr());
        let c = |v: u64| i64t.const_int(v, false);
        let fv = self.cur_fn.unwrap();
        let blocks = ["map.some", "map.slots", "map.probe", "map.ctrl", "map.next", "map.hit", "map.none", "map.empty"];
        let [some, has_slots, lp, ctrl_ok, next, hit, no_slots, empty] = blocks.map(|n| self.ctx.append_basic_block(fv, n));
        let b = &self.b;
        let field = |off: u64| unsafe { b.build_in_bounds_gep(i8t, m, &[c(off)], "").unwrap() };
        b.build_conditional_branch(b.build_is_null(m, "").unwrap(), no_slots, some).unwrap();
        b.position_at_end(some);
        let slots = mem::load(b, ptr, field(SLOTS), "").into_pointer_value();
        b.build_conditional_branch(b.build_is_null(slots, "").unwrap(), no_slots, has_slots).unwrap();
        b.position_at_end(has_slots);
        let mask = mem::load(b, i64t, field(MASK), "").into_int_value();
        let shift = mem::load(b, self.ctx.i32_type(), field(SHIFT), "").into_int_value();
        let shift = b.build_int_z_extend(shift, i64t, "").unwrap();
        let h = b.build_int_mul(key, c(INT_HASH), "").unwrap();
        let home = b.build_right_shift(h, shift, false, "").unwrap();
        let ctrl = b.build_or(h, c(SLOT_LIVE), "").unwrap();
        b.build_unconditional_branch(lp).unwrap();
        b.position_at_end(lp);
        let i = b.build_phi(i64t, "").unwrap();
        let iv = i.as_basic_value().into_int_value();
        let s = unsafe { b.build_in_bounds_gep(i8t, slots, &[b.build_int_mul(iv, c(slot_size), "").unwrap()], "").unwrap() };
        let sc = mem::load(b, i64t, s, "").into_int_value();
        b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, sc, c(0), "").unwrap(), empty, ctrl_ok).unwrap();
        b.position_at_end(ctrl_ok);
        let kp = unsafe { b.build_in_bounds_gep(i8t, s, &[c(SLOT_KEY)], "").unwrap() };
        let same_ctrl = b.build_int_compare(IntPredicate::EQ, sc, ctrl, "").unwrap();
        let then_key = self.ctx.append_basic_block(fv, "map.key");
        // The key is loaded only when the ctrl word matches (an integer key's hash almost
        // never matches another key's).
        b.build_conditional_branch(same_ctrl, then_key, next).unwrap();
        b.position_at_end(then_key);
        let there = mem::load(b, i64t, kp, "").into_int_value();
        b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, there, key, "").unwrap(), hit, next).unwrap();
        b.position_at_end(next);
        let i1 = b.build_and(b.build_int_add(iv, c(1), "").unwrap(), mask, "").unwrap();
        b.build_unconditional_branch(lp).unwrap();
        i.add_incoming(&[(&home, has_slots), (&i1, next)]);
        b.position_at_end(hit);
        Probe { slot: s, empty, no_slots, ctrl }
    }
}
