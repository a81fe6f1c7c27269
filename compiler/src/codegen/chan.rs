//! Channel builtins: calls of `runtime-c/chan.c` with the channel's address, its capacity
//! and its element size; values go in and out through entry-block temporaries.

use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, PointerValue};

use super::{mem, Emitter};
use crate::hir::chan::chan_of_ptr;
use crate::hir::*;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    pub(super) fn chan_call(&mut self, op: ChanOp, args: &'p [Expr]) -> Option<BasicValueEnum<'ctx>> {
        let (ptr, i64t, i32t, boolt) = (self.ptr(), self.ctx.i64_type(), self.ctx.i32_type(), self.ctx.bool_type());
        if op == ChanOp::Select {
            let timeout = self.rvalue(&args[0]).unwrap();
            let chans = &args[1..];
            // struct truk_chan_ref { void *chan; u64 cap; u64 elem_size; }[n]
            let ref_ty = self.ctx.struct_type(&[ptr.into(), i64t.into(), i64t.into()], false);
            let arr_ty = ref_ty.array_type(chans.len() as u32);
            self.position_entry_builder();
            let arr = self.entry_b.build_alloca(arr_ty, "chan.refs").unwrap();
            for (i, c) in chans.iter().enumerate() {
                let (el, cap) = chan_of_ptr(&c.ty).expect("the checker gives chan_select channel pointers");
                let el_size = self.size_of(el);
                let p = self.rvalue(c).unwrap();
                let zero = i32t.const_zero();
                let idx = i32t.const_int(i as u64, false);
                for (field, v) in [(0u64, p), (1, self.i64c(cap).into()), (2, self.i64c(el_size).into())] {
                    let f = unsafe { self.b.build_in_bounds_gep(arr_ty, arr, &[zero, idx, i32t.const_int(field, false)], "").unwrap() };
                    mem::store(&self.b, f, v);
                }
            }
            let f = self.rt("__truk_chan_select", &[i64t.into(), i64t.into(), ptr.into()], Some(i32t.into()));
            let n = self.i64c(chans.len() as u64);
            return self.b.build_call(f, &[timeout.into(), n.into(), arr.into()], "").unwrap().try_as_basic_value().basic();
        }
        let (el, cap) = chan_of_ptr(&args[0].ty).expect("the checker gives chan_* a channel pointer");
        let (el, cap) = (el.clone(), cap);
        let el_size = self.size_of(&el);
        let ch = self.rvalue(&args[0]).unwrap();
        let call = |s: &mut Self, name: &str, params: &[BasicMetadataTypeEnum<'ctx>], vals: &[BasicMetadataValueEnum<'ctx>], ret| {
            let f = s.rt(name, params, ret);
            s.b.build_call(f, vals, "").unwrap().try_as_basic_value().basic()
        };
        match op {
            ChanOp::Send => {
                let tmp = self.alloca(&el, "chan.val");
                self.store_expr(tmp, &args[1]);
                let t = self.rvalue(&args[2]).unwrap();
                let params = [ptr.into(), i64t.into(), i64t.into(), ptr.into(), i64t.into()];
                let vals = [ch.into(), self.i64c(cap).into(), self.i64c(el_size).into(), tmp.into(), t.into()];
                call(self, "__truk_chan_send", &params, &vals, Some(boolt.into()))
            }
            // `(bool, T)` lives in memory: `store_expr` sends it to `chan_recv_into`.
            ChanOp::Recv => unreachable!("chan_recv's tuple is written into a slot"),
            ChanOp::Close => call(self, "__truk_chan_close", &[ptr.into()], &[ch.into()], None),
            ChanOp::Len => {
                let vals = [ch.into(), self.i64c(cap).into(), self.i64c(el_size).into()];
                call(self, "__truk_chan_len", &[ptr.into(), i64t.into(), i64t.into()], &vals, Some(i64t.into()))
            }
            ChanOp::Select => unreachable!(),
        }
    }

    /// `chan_recv` into `slot`, its `(bool, T)` result in memory: the runtime writes the
    /// message straight into the tuple's second field.
    pub(super) fn chan_recv_into(&mut self, args: &'p [Expr], slot: PointerValue<'ctx>) {
        let (el, cap) = chan_of_ptr(&args[0].ty).expect("the checker gives chan_recv a channel pointer");
        let (el, cap) = (el.clone(), cap);
        let el_size = self.size_of(&el);
        let ch = self.rvalue(&args[0]).unwrap();
        let t = self.rvalue(&args[1]).unwrap();
        let (ptr, i64t) = (self.ptr(), self.ctx.i64_type());
        let tuple_ty = self.ty(&Ty::Tuple(vec![Ty::Bool, el])).into_struct_type();
        let out = self.b.build_struct_gep(tuple_ty, slot, 1, "").unwrap();
        let params = [ptr.into(), i64t.into(), i64t.into(), ptr.into(), i64t.into()];
        let f = self.rt("__truk_chan_recv", &params, Some(self.ctx.bool_type().into()));
        let vals: [BasicMetadataValueEnum; 5] = [ch.into(), self.i64c(cap).into(), self.i64c(el_size).into(), out.into(), t.into()];
        let ok = self.b.build_call(f, &vals, "").unwrap().try_as_basic_value().basic().unwrap();
        let okp = self.b.build_struct_gep(tuple_ty, slot, 0, "").unwrap();
        mem::store(&self.b, okp, ok);
    }
}
