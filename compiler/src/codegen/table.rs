//! Table builtins: calls of `runtime-c/table.c` with the table's address, capacity, key
//! and value sizes. Keys go through a zeroed temporary (the runtime compares and hashes
//! every byte, padding included); values in and out through entry-block temporaries.
//! `table_each` is a loop here: the runtime's cursor copies an entry out, then the
//! callback runs. For 8-byte keys, `table_get` and the replace of `table_put` are emitted
//! inline, the capacity and sizes as constants, as the runtime's `probe8` does them
//! (truk_fleet.h, "Tables"): anything but the common case calls the runtime.

use inkwell::basic_block::BasicBlock;
use inkwell::values::{BasicMetadataValueEnum, BasicValue, BasicValueEnum, IntValue, PointerValue};
use inkwell::{AtomicOrdering, IntPredicate};

use super::{mem, Emitter};
use crate::hir::table::table_of_ptr;
use crate::hir::*;
use crate::mir::layout::{table_stride, TABLE_HEADER_SIZE};

/// A slot's state word (truk_fleet.h, "Tables"): kind in bits 0..1, the current copy in bit
/// 2, a replace's flag in bit 3, writer or version in bits 4..33, the epoch above.
const KIND_AND_EPOCH: u64 = !0u64 << 34 | 3;
const BUSY: u64 = 1;
const FULL: u64 = 2;
const TOMB: u64 = 3;
const MID_MASK: u64 = 0x3fff_ffff;
/// fleet.c's copy of `__truk_fleet_mover()`.
const ME: &str = "__truk_fleet_me";

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    /// Inline gets and replaces: 8-byte keys, optimized builds only (unoptimized, the inline
    /// atomics and the 128-bit multiply would send the function to LLVM's slow instruction
    /// selector, for no gain: nothing is inlined further at -O0).
    fn inline_table_ops(&self, key_size: u64) -> bool {
        key_size == 8 && self.optimized()
    }

    fn atomic_load64(&mut self, p: PointerValue<'ctx>, order: AtomicOrdering) -> IntValue<'ctx> {
        self.atomic_load(self.ctx.i64_type(), p, order, 8)
    }

    /// The probe of an 8-byte key `k` (its zero-filled temporary) in table `t`: FULL slots
    /// and tombstones of the table's epoch are passed; an EMPTY slot (in this epoch) goes to
    /// `miss`, anything else (a replace in progress, a probe all the way round) to `slow`.
    /// Leaves the builder in the block reached when `k` is found, with its slot and state.
    fn table_probe8(
        &mut self,
        t: PointerValue<'ctx>,
        k: PointerValue<'ctx>,
        (cap, stride): (u64, u64),
        miss: BasicBlock<'ctx>,
        slow: BasicBlock<'ctx>,
    ) -> (PointerValue<'ctx>, IntValue<'ctx>) {
        let (i64t, i8t, i128t) = (self.ctx.i64_type(), self.ctx.i8_type(), self.ctx.i128_type());
        let c = |v: u64| i64t.const_int(v, false);
        let e = self.atomic_load64(t, AtomicOrdering::Acquire);
        let b = &self.b;
        let e = b.build_left_shift(b.build_and(e, c(MID_MASK), "").unwrap(), c(34), "").unwrap();
        let full = b.build_or(e, c(FULL), "").unwrap();
        let tomb = b.build_or(e, c(TOMB), "").unwrap();
        let key = mem::load(&b, i64t, k, "").into_int_value();
        key.as_instruction_value().unwrap().set_alignment(1).unwrap();
        // splitmix64's finalizer, as table.c hashes, then the home slot: (h * cap) >> 64.
        let mut h = key;
        for (shift, mul) in [(30, Some(0xBF58_476D_1CE4_E5B9u64)), (27, Some(0x94D0_49BB_1331_11EB)), (31, None)] {
            h = b.build_xor(h, b.build_right_shift(h, c(shift), false, "").unwrap(), "").unwrap();
            if let Some(m) = mul {
                h = b.build_int_mul(h, c(m), "").unwrap();
            }
        }
        let wide = b.build_int_mul(b.build_int_z_extend(h, i128t, "").unwrap(), i128t.const_int(cap, false), "").unwrap();
        let home = b.build_int_truncate(b.build_right_shift(wide, i128t.const_int(64, false), false, "").unwrap(), i64t, "").unwrap();
        let fv = self.cur_fn.unwrap();
        let blocks = ["table.probe", "table.key", "table.notfull", "table.other", "table.next", "table.hit"];
        let [lp, cmpkey, notfull, other, next, hit] = blocks.map(|n| self.ctx.append_basic_block(fv, n));
        let entry = b.get_insert_block().unwrap();
        b.build_unconditional_branch(lp).unwrap();
        b.position_at_end(lp);
        let i = b.build_phi(i64t, "").unwrap();
        let n = b.build_phi(i64t, "").unwrap();
        let iv = i.as_basic_value().into_int_value();
        let nv = n.as_basic_value().into_int_value();
        let off = b.build_int_add(b.build_int_mul(iv, c(stride), "").unwrap(), c(TABLE_HEADER_SIZE), "").unwrap();
        let slot = unsafe { b.build_in_bounds_gep(i8t, t, &[off], "").unwrap() };
        let s = self.atomic_load64(slot, AtomicOrdering::Acquire);
        let b = &self.b;
        let kind = b.build_and(s, c(KIND_AND_EPOCH), "").unwrap();
        b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, kind, full, "").unwrap(), cmpkey, notfull).unwrap();
        b.position_at_end(cmpkey);
        let kp = unsafe { b.build_in_bounds_gep(i8t, slot, &[c(8)], "").unwrap() };
        let there = mem::load(&b, i64t, kp, "").into_int_value();
        b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, there, key, "").unwrap(), hit, next).unwrap();
        b.position_at_end(notfull);
        b.build_conditional_branch(b.build_int_compare(IntPredicate::EQ, kind, tomb, "").unwrap(), next, other).unwrap();
        b.position_at_end(other);
        let busy = b.build_int_compare(IntPredicate::EQ, b.build_and(s, c(3), "").unwrap(), c(BUSY), "").unwrap();
        b.build_conditional_branch(busy, slow, miss).unwrap();
        b.position_at_end(next);
        let i1 = b.build_int_add(iv, c(1), "").unwrap();
        let wrapped = b.build_int_compare(IntPredicate::EQ, i1, c(cap), "").unwrap();
        let i1 = b.build_select(wrapped, c(0), i1, "").unwrap().into_int_value();
        let n1 = b.build_int_add(nv, c(1), "").unwrap();
        let round = b.build_int_compare(IntPredicate::EQ, n1, c(cap), "").unwrap();
        b.build_conditional_branch(round, slow, lp).unwrap();
        i.add_incoming(&[(&home, entry), (&i1, next)]);
        n.add_incoming(&[(&c(0), entry), (&n1, next)]);
        b.position_at_end(hit);
        (slot, s)
    }

    /// Where slot `slot` in state `s` keeps its current copy (`other`: the one that is not).
    fn table_copy_at(&mut self, slot: PointerValue<'ctx>, s: IntValue<'ctx>, vs: u64, other: bool) -> PointerValue<'ctx> {
        let (i64t, i8t) = (self.ctx.i64_type(), self.ctx.i8_type());
        let b = &self.b;
        let mut cur = b.build_and(b.build_right_shift(s, i64t.const_int(2, false), false, "").unwrap(), i64t.const_int(1, false), "").unwrap();
        if other {
            cur = b.build_xor(cur, i64t.const_int(1, false), "").unwrap();
        }
        let v8 = (vs + 7) & !7;
        let off = b.build_int_add(b.build_int_mul(cur, i64t.const_int(v8, false), "").unwrap(), i64t.const_int(16, false), "").unwrap();
        unsafe { b.build_in_bounds_gep(i8t, slot, &[off], "").unwrap() }
    }

    fn table_key(&mut self, k: &'p Expr, kt: &Ty) -> PointerValue<'ctx> {
        let tmp = self.alloca(kt, "table.key");
        self.zero_fill(tmp, kt);
        if matches!(kt, Ty::Struct(_) | Ty::Array(..) | Ty::Tuple(_)) {
            let src = self.alloca(kt, "table.key.src");
            self.store_expr(src, k);
            self.copy_fields(tmp, src, kt);
        } else {
            self.store_expr(tmp, k);
        }
        tmp
    }

    /// Copies `*src` to `*dst` one scalar field at a time, so that the padding keeps the
    /// zeros under it (a whole copy would carry the source's padding along).
    fn copy_fields(&mut self, dst: PointerValue<'ctx>, src: PointerValue<'ctx>, t: &Ty) {
        match t {
            Ty::Struct(id) => {
                let fields: Vec<Ty> = self.prog.structs[*id as usize].fields.iter().flatten().map(|(_, t)| t.clone()).collect();
                let st = self.ty(t).into_struct_type();
                for (i, ft) in fields.iter().enumerate() {
                    let d = self.b.build_struct_gep(st, dst, i as u32, "").unwrap();
                    let s = self.b.build_struct_gep(st, src, i as u32, "").unwrap();
                    self.copy_fields(d, s, ft);
                }
            }
            Ty::Array(n, el) if matches!(**el, Ty::Struct(_) | Ty::Array(..)) => {
                let at = self.ty(t);
                let i32t = self.ctx.i32_type();
                for i in 0..*n {
                    let idx = [i32t.const_zero(), i32t.const_int(i, false)];
                    let d = unsafe { self.b.build_in_bounds_gep(at, dst, &idx, "").unwrap() };
                    let s = unsafe { self.b.build_in_bounds_gep(at, src, &idx, "").unwrap() };
                    self.copy_fields(d, s, el);
                }
            }
            Ty::Array(..) => self.copy(dst, src, t), // scalars: no padding between them
            _ => {
                let v = mem::load(&self.b, self.ty(t), src, "");
                mem::store(&self.b, dst, v);
            }
        }
    }

    /// `table_get` into `slot`, its `(bool, V)` result in memory: the runtime writes the value
    /// straight into the tuple's second field.
    pub(super) fn table_get_into(&mut self, args: &'p [Expr], slot: PointerValue<'ctx>) {
        let (ptr, i64t, boolt) = (self.ptr(), self.ctx.i64_type(), self.ctx.bool_type());
        let (kt, vt, cap) = table_of_ptr(&args[0].ty).expect("the checker gives table_get a table pointer");
        let (kt, vt) = (kt.clone(), vt.clone());
        let (ks, vs) = (self.size_of(&kt), self.size_of(&vt));
        let t = self.rvalue(&args[0]).unwrap();
        let k = self.table_key(&args[1], &kt);
        let tuple_ty = self.ty(&Ty::Tuple(vec![Ty::Bool, vt.clone()])).into_struct_type();
        let out = self.b.build_struct_gep(tuple_ty, slot, 1, "").unwrap();
        let f = self.rt("__truk_table_get", &[ptr.into(), i64t.into(), i64t.into(), i64t.into(), ptr.into(), ptr.into()], Some(boolt.into()));
        let vals: [BasicMetadataValueEnum; 6] =
            [t.into(), self.i64c(cap).into(), self.i64c(ks).into(), self.i64c(vs).into(), k.into(), out.into()];
        let okp = self.b.build_struct_gep(tuple_ty, slot, 0, "").unwrap();
        if !self.inline_table_ops(ks) {
            let ok = self.b.build_call(f, &vals, "").unwrap().try_as_basic_value().basic().unwrap();
            mem::store(&self.b, okp, ok);
            return;
        }
        let fv = self.cur_fn.unwrap();
        let [miss, slow, done] = ["table.miss", "table.slow", "table.done"].map(|n| self.ctx.append_basic_block(fv, n));
        let (sp, s) = self.table_probe8(t.into_pointer_value(), k, (cap, table_stride(ks, vs)), miss, slow);
        // A copy, then the state again (a seqlock): changed meanwhile, the runtime looks again.
        let src = self.table_copy_at(sp, s, vs, false);
        self.b.build_memcpy(out, self.align_of(&vt), src, 8, self.i64c(vs)).unwrap();
        self.b.build_fence(AtomicOrdering::Acquire, false, "").unwrap();
        let again = self.atomic_load64(sp, AtomicOrdering::Monotonic);
        let same = self.b.build_int_compare(IntPredicate::EQ, again, s, "").unwrap();
        let hit_end = self.b.get_insert_block().unwrap();
        self.b.build_conditional_branch(same, done, slow).unwrap();
        self.b.position_at_end(miss);
        self.b.build_memset(out, self.align_of(&vt), self.ctx.i8_type().const_zero(), self.i64c(vs)).unwrap();
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(slow);
        let ok = self.b.build_call(f, &vals, "").unwrap().try_as_basic_value().basic().unwrap();
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
        let phi = self.b.build_phi(boolt, "").unwrap();
        phi.add_incoming(&[(&boolt.const_int(1, false), hit_end), (&boolt.const_zero(), miss), (&ok, slow)]);
        mem::store(&self.b, okp, phi.as_basic_value());
    }

    /// `table_put` of an 8-byte key already in the table: claims its slot with one CAS (BUSY,
    /// naming this member), writes the copy that is not current and publishes it (FULL, a new
    /// version); anything else is the runtime's.
    fn table_put8(&mut self, t: PointerValue<'ctx>, k: PointerValue<'ctx>, v: (PointerValue<'ctx>, &Ty), (cap, vs): (u64, u64), put: impl Fn(&mut Self) -> BasicValueEnum<'ctx>) -> BasicValueEnum<'ctx> {
        let (i64t, boolt) = (self.ctx.i64_type(), self.ctx.bool_type());
        let c = |x: u64| i64t.const_int(x, false);
        // This member as a writer: fleet.c keeps it in a variable (no call in the caller's loop).
        let i32t = self.ctx.i32_type();
        let me_g = self.module.get_global(ME).unwrap_or_else(|| self.module.add_global(i32t, None, ME));
        let me = mem::load(&self.b, i32t, me_g.as_pointer_value(), "").into_int_value();
        let me = self.b.build_int_z_extend(me, i64t, "").unwrap();
        let fv = self.cur_fn.unwrap();
        let [write, slow, done] = ["table.write", "table.slow", "table.done"].map(|n| self.ctx.append_basic_block(fv, n));
        let (sp, s) = self.table_probe8(t, k, (cap, table_stride(8, vs)), slow, slow);
        let b = &self.b;
        let keep = b.build_and(s, c(!0u64 << 34 | 4), "").unwrap();
        let me = b.build_left_shift(b.build_and(me, c(MID_MASK), "").unwrap(), c(4), "").unwrap();
        let busy = b.build_or(b.build_or(keep, me, "").unwrap(), c(BUSY | 8), "").unwrap();
        let seq = AtomicOrdering::SequentiallyConsistent;
        let r = b.build_cmpxchg(sp, s, busy, seq, seq).unwrap();
        let claimed = b.build_extract_value(r, 1, "").unwrap().into_int_value();
        b.build_conditional_branch(claimed, write, slow).unwrap();
        b.position_at_end(write);
        b.build_fence(AtomicOrdering::Release, false, "").unwrap(); // BUSY before the copy's bytes
        let dst = self.table_copy_at(sp, s, vs, true);
        self.b.build_memcpy(dst, 8, v.0, self.align_of(v.1), self.i64c(vs)).unwrap();
        let b = &self.b;
        let epoch = b.build_and(s, c(!0u64 << 34), "").unwrap();
        let cur = b.build_xor(b.build_and(s, c(4), "").unwrap(), c(4), "").unwrap();
        let version = b.build_and(b.build_int_add(b.build_right_shift(s, c(4), false, "").unwrap(), c(1), "").unwrap(), c(MID_MASK), "").unwrap();
        let version = b.build_left_shift(version, c(4), "").unwrap();
        let now = b.build_or(b.build_or(epoch, cur, "").unwrap(), b.build_or(version, c(FULL), "").unwrap(), "").unwrap();
        self.atomic_store(sp, now, AtomicOrdering::Release, 8);
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(slow);
        let ok = put(self);
        let slow_end = self.b.get_insert_block().unwrap();
        self.b.build_unconditional_branch(done).unwrap();
        self.b.position_at_end(done);
        let phi = self.b.build_phi(boolt, "").unwrap();
        phi.add_incoming(&[(&boolt.const_int(1, false), write), (&ok, slow_end)]);
        phi.as_basic_value()
    }

    pub(super) fn table_call(
        &mut self,
        op: TableOp,
        args: &'p [Expr],
    ) -> Option<BasicValueEnum<'ctx>> {
        let (ptr, i64t, boolt) = (self.ptr(), self.ctx.i64_type(), self.ctx.bool_type());
        let (kt, vt, cap) =
            table_of_ptr(&args[0].ty).expect("the checker gives table_* a table pointer");
        let (kt, vt) = (kt.clone(), vt.clone());
        let (ks, vs) = (self.size_of(&kt), self.size_of(&vt));
        let t = self.rvalue(&args[0]).unwrap();
        let head: [BasicMetadataValueEnum<'ctx>; 4] = [
            t.into(),
            self.i64c(cap).into(),
            self.i64c(ks).into(),
            self.i64c(vs).into(),
        ];
        let head_ty = [ptr.into(), i64t.into(), i64t.into(), i64t.into()];
        match op {
            TableOp::Put => {
                let k = self.table_key(&args[1], &kt);
                let vtmp = self.alloca(&vt, "table.val");
                self.store_expr(vtmp, &args[2]);
                let f = self.rt(
                    "__truk_table_put",
                    &[head_ty.as_slice(), &[ptr.into(), ptr.into()]].concat(),
                    Some(boolt.into()),
                );
                let vals = [head.as_slice(), &[k.into(), vtmp.into()]].concat();
                let put = |s: &mut Self| s.b.build_call(f, &vals, "").unwrap().try_as_basic_value().basic().unwrap();
                if self.inline_table_ops(ks) {
                    return Some(self.table_put8(t.into_pointer_value(), k, (vtmp, &vt), (cap, vs), put));
                }
                Some(put(self))
            }
            // `(bool, V)` lives in memory: `store_expr` sends it to `table_get_into`.
            TableOp::Get => unreachable!("table_get's tuple is written into a slot"),
            TableOp::Del => {
                let k = self.table_key(&args[1], &kt);
                let f = self.rt(
                    "__truk_table_del",
                    &[head_ty.as_slice(), &[ptr.into()]].concat(),
                    Some(boolt.into()),
                );
                let vals = [head.as_slice(), &[k.into()]].concat();
                self.b
                    .build_call(f, &vals, "")
                    .unwrap()
                    .try_as_basic_value()
                    .basic()
            }
            TableOp::Len => {
                let f = self.rt("__truk_table_len", &head_ty, Some(i64t.into()));
                self.b
                    .build_call(f, &head, "")
                    .unwrap()
                    .try_as_basic_value()
                    .basic()
            }
            TableOp::Clear => {
                let f = self.rt("__truk_table_clear", &head_ty, None);
                self.b.build_call(f, &head, "").unwrap();
                None
            }
            TableOp::Each => {
                let ctx = self.rvalue(&args[1]).unwrap();
                let cb = &args[2];
                let direct = match cb.kind {
                    ExprKind::Func(f) => Some(self.func(f)),
                    _ => None,
                };
                let fp = if direct.is_none() {
                    Some(self.rvalue(cb).unwrap().into_pointer_value())
                } else {
                    None
                };
                let cursor = self.alloca(
                    &Ty::Int {
                        signed: false,
                        bits: 64,
                    },
                    "table.cursor",
                );
                mem::store(&self.b, cursor, self.i64c(0));
                let kout = self.alloca(&kt, "table.k");
                let vout = self.alloca(&vt, "table.v");
                let next = self.rt(
                    "__truk_table_next",
                    &[head_ty.as_slice(), &[ptr.into(), ptr.into(), ptr.into()]].concat(),
                    Some(boolt.into()),
                );
                let fv = self.cur_fn.unwrap();
                let (lp, body, done) = (
                    self.ctx.append_basic_block(fv, "table.next"),
                    self.ctx.append_basic_block(fv, "table.body"),
                    self.ctx.append_basic_block(fv, "table.done"),
                );
                self.b.build_unconditional_branch(lp).unwrap();
                self.b.position_at_end(lp);
                let vals = [head.as_slice(), &[cursor.into(), kout.into(), vout.into()]].concat();
                let more = self
                    .b
                    .build_call(next, &vals, "")
                    .unwrap()
                    .try_as_basic_value()
                    .basic()
                    .unwrap()
                    .into_int_value();
                self.b.build_conditional_branch(more, body, done).unwrap();
                self.b.position_at_end(body);
                // Aggregates are passed by address (the entry's copies are the callee's own), as
                // in any call of a Truk function.
                let arg =
                    |s: &mut Self, p: PointerValue<'ctx>, t: &Ty| -> BasicMetadataValueEnum<'ctx> {
                        if super::in_memory(t) {
                            p.into()
                        } else {
                            let v = mem::load(&s.b, s.ty(t), p, "");
                            s.widen_arg(v, t)
                        }
                    };
                let cargs = [arg(self, kout, &kt), arg(self, vout, &vt), ctx.into()];
                let r = match (direct, fp) {
                    (Some(f), _) => self.b.build_call(f, &cargs, "").unwrap(),
                    (None, Some(fp)) => {
                        let fty = self.fn_type(
                            &[kt.clone(), vt.clone(), args[1].ty.clone()],
                            &Ty::Bool,
                            Variadic::None,
                            false,
                        );
                        self.b.build_indirect_call(fty, fp, &cargs, "").unwrap()
                    }
                    _ => unreachable!(),
                };
                let go_on = r.try_as_basic_value().basic().unwrap().into_int_value();
                self.b.build_conditional_branch(go_on, lp, done).unwrap();
                self.b.position_at_end(done);
                None
            }
        }
    }
}
