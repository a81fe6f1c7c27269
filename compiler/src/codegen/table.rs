//! Table builtins: calls of `runtime-c/table.c` with the table's address, capacity, key
//! and value sizes. Keys go through a zeroed temporary (the runtime compares and hashes
//! every byte, padding included); values in and out through entry-block temporaries.
//! `table_each` is a loop here: the runtime's cursor copies an entry out, then the
//! callback runs.

use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, PointerValue};

use super::Emitter;
use crate::hir::table::table_of_ptr;
use crate::hir::*;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
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
                let v = self.b.build_load(self.ty(t), src, "").unwrap();
                self.b.build_store(dst, v).unwrap();
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
        let tuple_ty = self.ty(&Ty::Tuple(vec![Ty::Bool, vt])).into_struct_type();
        let out = self.b.build_struct_gep(tuple_ty, slot, 1, "").unwrap();
        let f = self.rt("__truk_table_get", &[ptr.into(), i64t.into(), i64t.into(), i64t.into(), ptr.into(), ptr.into()], Some(boolt.into()));
        let vals: [BasicMetadataValueEnum; 6] =
            [t.into(), self.i64c(cap).into(), self.i64c(ks).into(), self.i64c(vs).into(), k.into(), out.into()];
        let ok = self.b.build_call(f, &vals, "").unwrap().try_as_basic_value().basic().unwrap();
        let okp = self.b.build_struct_gep(tuple_ty, slot, 0, "").unwrap();
        self.b.build_store(okp, ok).unwrap();
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
                self.b
                    .build_call(f, &vals, "")
                    .unwrap()
                    .try_as_basic_value()
                    .basic()
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
                    ExprKind::Func(f) => Some(self.funcs[f as usize]),
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
                self.b.build_store(cursor, self.i64c(0)).unwrap();
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
                            let v = s.b.build_load(s.ty(t), p, "").unwrap();
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
