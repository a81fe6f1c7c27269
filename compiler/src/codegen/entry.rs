//! The entry points: `__truk_main`, which the C runtime's `main` calls (joining the fleet
//! first when the program shares anything), calling the user's `main` or running the tests.

use inkwell::module::Linkage;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue};

use super::Emitter;
use crate::hir::*;

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    fn entry_fn(&mut self) -> FunctionValue<'ctx> {
        let i32t = self.ctx.i32_type();
        let fty = i32t.fn_type(&[i32t.into(), self.ptr().into()], false);
        let f = self.module.add_function("__truk_main", fty, Some(Linkage::External));
        let bb = self.ctx.append_basic_block(f, "entry");
        self.b.position_at_end(bb);
        if let Some(d) = &mut self.dwarf {
            d.begin_generated(&self.b, f, "__truk_main");
        }
        self.cur_fn = Some(f);
        if self.prog.joins_fleet() {
            self.join_fleet();
        }
        f
    }

    pub(super) fn main_wrapper(&mut self) {
        let Some(m) = self.prog.main else { return };
        let user = self.func(m);
        let mf = &self.prog.funcs[m as usize];
        let f = self.entry_fn();
        let args: Vec<BasicMetadataValueEnum> = if mf.params.is_empty() {
            vec![]
        } else {
            let argc = f.get_nth_param(0).unwrap().into_int_value();
            let want = self.ty(&mf.locals[mf.params[0] as usize].ty).into_int_type();
            let argc = self.b.build_int_cast_sign_flag(argc, want, true, "").unwrap();
            vec![argc.into(), f.get_nth_param(1).unwrap().into()]
        };
        let r = self.b.build_call(user, &args, "").unwrap().try_as_basic_value().basic();
        let i32t = self.ctx.i32_type();
        let code = match r {
            Some(v) if v.is_int_value() => self.b.build_int_cast_sign_flag(v.into_int_value(), i32t, mf.ret.is_signed(), "").unwrap(),
            _ => i32t.const_zero(),
        };
        self.b.build_return(Some(&code)).unwrap();
    }

    pub(super) fn test_main(&mut self) {
        let ptr = self.ptr();
        let case_ty = self.ctx.struct_type(&[ptr.into(), ptr.into()], false);
        let mut cases = vec![];
        for &t in &self.prog.tests {
            let name = self.prog.funcs[t as usize].name.clone();
            let n = self.string(name.as_bytes());
            let fp = self.func(t).as_global_value().as_pointer_value();
            cases.push(case_ty.const_named_struct(&[n.into(), fp.into()]));
        }
        let arr = case_ty.const_array(&cases);
        let table = self.module.add_global(arr.get_type(), None, "__truk_tests");
        table.set_linkage(Linkage::Private);
        table.set_constant(true);
        table.set_initializer(&arr);
        let f = self.entry_fn();
        let i32t = self.ctx.i32_type();
        let i64t = self.ctx.i64_type();
        let run = self.rt("__truk_test_run", &[i32t.into(), ptr.into(), ptr.into(), i64t.into(), ptr.into(), ptr.into()], Some(i32t.into()));
        let fnptr = |o: Option<FuncId>, s: &mut Self| -> BasicMetadataValueEnum<'ctx> {
            match o {
                Some(id) => s.func(id).as_global_value().as_pointer_value().into(),
                None => ptr.const_null().into(),
            }
        };
        let args = [
            f.get_nth_param(0).unwrap().into(),
            f.get_nth_param(1).unwrap().into(),
            table.as_pointer_value().into(),
            self.i64c(cases.len() as u64).into(),
            fnptr(self.prog.test_setup, self),
            fnptr(self.prog.test_teardown, self),
        ];
        let r = self.b.build_call(run, &args, "").unwrap().try_as_basic_value().basic().unwrap();
        self.b.build_return(Some(&r)).unwrap();
    }
}
