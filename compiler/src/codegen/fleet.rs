//! Fleet lowering: shared variable addresses, the fleet join at the top of `__truk_main`,
//! the atomic builtins (inline LLVM atomics) and the fleet builtins (calls of the `__truk_*`
//! runtime, `runtime-c/truk_rt.h` "Fleets"). The shared-variable area itself is laid out
//! with the other layouts, in `mir/layout.rs` ([`crate::mir::layout::SharedLayout`]).

use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, IntType};
use inkwell::values::{BasicMetadataValueEnum, BasicValue, BasicValueEnum, GlobalValue, IntValue, PointerValue};
use inkwell::{AtomicOrdering, AtomicRMWBinOp, IntPredicate};

use super::{mem, Emitter};
use crate::hir::fleet::Ordering;
use crate::hir::*;

/// The internal global holding the base of the shared-variable area (hidden, defined by the
/// first part, in a split build).
const BASE: &str = "__truk_fleet_base";

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    pub(super) fn fleet_base(&self) -> GlobalValue<'ctx> {
        if let Some(g) = self.module.get_global(BASE) {
            return g;
        }
        let g = self.module.add_global(self.ptr(), None, BASE);
        self.part.link_internal(g);
        if self.part.is_first() {
            g.set_initializer(&self.ptr().const_null());
        }
        g
    }

    /// The address of shared variable `g`: the area's base plus its constant offset.
    pub(super) fn shared_place(&mut self, g: GlobalId) -> PointerValue<'ctx> {
        let base_g = self.fleet_base().as_pointer_value();
        let base = mem::load(&self.b, self.ptr(), base_g, "fleet.base").into_pointer_value();
        let off = self.i64c(self.shared.offset_of(g).unwrap_or(0));
        unsafe { self.b.build_in_bounds_gep(self.ctx.i8_type(), base, &[off], "").unwrap() }
    }

    /// At the top of `__truk_main`: join the fleet and keep the area's base.
    pub(super) fn join_fleet(&mut self) {
        let init = self.fleet_init();
        let ptr = self.ptr();
        let join = self.rt("__truk_fleet_join", &[ptr.into()], Some(ptr.into()));
        let arg = init.map(|f| f.as_global_value().as_pointer_value()).unwrap_or(ptr.const_null());
        let base = self.b.build_call(join, &[arg.into()], "").unwrap().try_as_basic_value().basic().unwrap();
        mem::store(&self.b, self.fleet_base().as_pointer_value(), base);
        self.fleet_description();
    }

    /// `__truk_fleet_desc` and `__truk_fleet_desc_size`: the description of the shared
    /// variables that the region's creator copies in (fleet.c refers to them weakly).
    fn fleet_description(&mut self) {
        let bytes = crate::mir::describe::describe(self.shared);
        if bytes.is_empty() {
            return;
        }
        let data = self.ctx.const_string(&bytes, false);
        let g = self.module.add_global(data.get_type(), None, "__truk_fleet_desc");
        g.set_initializer(&data);
        g.set_constant(true);
        let size = self.module.add_global(self.ctx.i64_type(), None, "__truk_fleet_desc_size");
        size.set_initializer(&self.i64c(bytes.len() as u64));
        size.set_constant(true);
    }

    /// `void init(void *base)` applying the constant initializers of the shared variables,
    /// or `None` when there are none (the area starts zero-filled).
    fn fleet_init(&mut self) -> Option<inkwell::values::FunctionValue<'ctx>> {
        let prog = self.prog;
        let inits: Vec<(u64, &Const, &Ty)> = self
            .shared
            .vars
            .iter()
            .filter_map(|v| {
                let g = &prog.globals[v.global as usize];
                g.init.as_ref().map(|c| (v.offset, c, &g.ty))
            })
            .collect();
        if inits.is_empty() {
            return None;
        }
        let fty = self.ctx.void_type().fn_type(&[self.ptr().into()], false);
        let f = self.module.add_function("__truk_fleet_init", fty, Some(Linkage::Internal));
        let b = self.ctx.create_builder();
        b.position_at_end(self.ctx.append_basic_block(f, "entry"));
        let base = f.get_nth_param(0).unwrap().into_pointer_value();
        for (off, c, ty) in inits {
            let v = self.const_value(c, ty);
            let p = unsafe { b.build_in_bounds_gep(self.ctx.i8_type(), base, &[self.i64c(off)], "").unwrap() };
            mem::store(&b, p, v);
        }
        b.build_return(None).unwrap();
        Some(f)
    }

    /// An atomic load of an integer of type `it` at `p`, aligned `align`.
    pub(super) fn atomic_load(&mut self, it: IntType<'ctx>, p: PointerValue<'ctx>, order: AtomicOrdering, align: u32) -> IntValue<'ctx> {
        let v = mem::load(&self.b, it, p, "");
        let i = v.as_instruction_value().unwrap();
        i.set_atomic_ordering(order).unwrap();
        i.set_alignment(align).unwrap();
        v.into_int_value()
    }

    /// An atomic store of `v` at `p`, aligned `align`.
    pub(super) fn atomic_store(&mut self, p: PointerValue<'ctx>, v: IntValue<'ctx>, order: AtomicOrdering, align: u32) {
        let i = mem::store(&self.b, p, v);
        i.set_atomic_ordering(order).unwrap();
        i.set_alignment(align).unwrap();
    }

    /// `atomic_*`: LLVM atomics at natural alignment, sequentially consistent unless a last
    /// `Ordering` constant says otherwise. A bool is a byte in memory, so its atomics work
    /// on i8.
    pub(super) fn atomic(&mut self, op: AtomicOp, args: &'p [Expr]) -> Option<BasicValueEnum<'ctx>> {
        let Ty::Ptr(elem) = &args[0].ty else { unreachable!("the checker gives atomics a pointer") };
        let is_bool = **elem == Ty::Bool;
        let it = if is_bool { self.ctx.i8_type() } else { self.ty(elem).into_int_type() };
        let align = self.layouts.size_of(if is_bool { &Ty::Int { signed: false, bits: 8 } } else { elem }) as u32;
        let arity = match op {
            AtomicOp::Load => 1,
            AtomicOp::Cas => 3,
            _ => 2,
        };
        let ord = match args.get(arity).map(|a| &a.kind) {
            Some(ExprKind::Int(v)) => Ordering::from_value(*v).unwrap_or(Ordering::SeqCst),
            _ => Ordering::SeqCst,
        };
        let (order, fail) = llvm_ordering(ord);
        let p = self.rvalue(&args[0]).unwrap().into_pointer_value();
        let mut vals = vec![];
        for a in &args[1..arity] {
            let v = self.rvalue(a).unwrap().into_int_value();
            vals.push(if is_bool { self.b.build_int_z_extend(v, it, "").unwrap() } else { v });
        }
        let old = match op {
            AtomicOp::Load => self.atomic_load(it, p, order, align),
            AtomicOp::Store => {
                self.atomic_store(p, vals[0], order, align);
                return None;
            }
            AtomicOp::Cas => {
                let r = self.b.build_cmpxchg(p, vals[0], vals[1], order, fail).unwrap();
                return Some(self.b.build_extract_value(r, 1, "").unwrap());
            }
            AtomicOp::Add | AtomicOp::Sub | AtomicOp::Swap => {
                let bin = match op {
                    AtomicOp::Add => AtomicRMWBinOp::Add,
                    AtomicOp::Sub => AtomicRMWBinOp::Sub,
                    _ => AtomicRMWBinOp::Xchg,
                };
                self.b.build_atomicrmw(bin, p, vals[0], order).unwrap()
            }
        };
        if is_bool {
            return Some(self.b.build_int_compare(IntPredicate::NE, old, it.const_zero(), "").unwrap().into());
        }
        Some(old.into())
    }

    /// A fleet builtin: a call of its runtime function; a slice argument becomes pointer and
    /// length.
    pub(super) fn fleet_call(&mut self, f: FleetFn, args: &'p [Expr]) -> Option<BasicValueEnum<'ctx>> {
        let (_, ret) = f.signature();
        if super::in_memory(&ret) {
            let tmp = self.alloca(&ret, "fleet.ret");
            self.fleet_call_into(f, args, tmp);
            return Some(mem::load(&self.b, self.ty(&ret), tmp, ""));
        }
        self.fleet_call_with(f, args, None)
    }

    /// A fleet builtin whose result lives in memory (a tuple): the runtime writes it
    /// through a pointer passed last.
    pub(super) fn fleet_call_into(&mut self, f: FleetFn, args: &'p [Expr], slot: PointerValue<'ctx>) {
        self.fleet_call_with(f, args, Some(slot));
    }

    fn fleet_call_with(&mut self, f: FleetFn, args: &'p [Expr], out: Option<PointerValue<'ctx>>) -> Option<BasicValueEnum<'ctx>> {
        let mut vals: Vec<BasicMetadataValueEnum> = vec![];
        let mut params: Vec<BasicMetadataTypeEnum> = vec![];
        for a in args {
            let v = self.rvalue(a).unwrap();
            let parts = if let (Ty::Slice(_), BasicValueEnum::StructValue(s)) = (&a.ty, v) {
                vec![self.b.build_extract_value(s, 0, "").unwrap(), self.b.build_extract_value(s, 1, "").unwrap()]
            } else {
                vec![v]
            };
            for x in parts {
                params.push(x.get_type().into());
                vals.push(x.into());
            }
        }
        if let (FleetFn::Lock | FleetFn::Unlock, Some(m)) = (f, args.first()) {
            // A misuse's panic names the place (that of the Mutex argument).
            vals.extend(self.site(m.span).map(BasicMetadataValueEnum::from));
            params.extend::<[BasicMetadataTypeEnum; 2]>([self.ptr().into(), self.ctx.i64_type().into()]);
        }
        if let Some(p) = out {
            params.push(self.ptr().into());
            vals.push(p.into());
        }
        let (_, ret) = f.signature();
        let ret = if ret.is_void() || out.is_some() { None } else { Some(self.ty(&ret)) };
        let func = self.rt(f.symbol(), &params, ret);
        self.b.build_call(func, &vals, "").unwrap().try_as_basic_value().basic()
    }
}

/// The LLVM ordering of an `Ordering`, and the one a failed compare-and-swap gets (it only
/// loads: no release part).
fn llvm_ordering(o: Ordering) -> (AtomicOrdering, AtomicOrdering) {
    match o {
        Ordering::Relaxed => (AtomicOrdering::Monotonic, AtomicOrdering::Monotonic),
        Ordering::Acquire => (AtomicOrdering::Acquire, AtomicOrdering::Acquire),
        Ordering::Release => (AtomicOrdering::Release, AtomicOrdering::Monotonic),
        Ordering::AcqRel => (AtomicOrdering::AcquireRelease, AtomicOrdering::Acquire),
        Ordering::SeqCst => (AtomicOrdering::SequentiallyConsistent, AtomicOrdering::SequentiallyConsistent),
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::SourceMap;
    use crate::fingerprint::{hex, layout_fingerprint, LayoutType, EMPTY_LAYOUT_FINGERPRINT_HEX};
    use crate::mir;
    use inkwell::context::Context;

    const X86: &str = "x86_64-unknown-linux-gnu";

    fn program(src: &str, triple: &str) -> (mir::Program, SourceMap) {
        let mut sources = SourceMap::default();
        let file = sources.add("t.truk".into(), src.to_string());
        let (module, diags) = crate::syntax::parser::parse_module(&sources.file(file).text, file);
        assert!(diags.is_empty(), "{diags:?}");
        let (prog, diags) = crate::hir::check::check(&[module]);
        assert!(diags.is_empty(), "{diags:?}");
        (mir::lower(prog, triple), sources)
    }

    fn layout_fp(src: &str, triple: &str) -> String {
        let tm = crate::driver::build::target_machine(triple, false).unwrap();
        let td = tm.get_target_data();
        let dl = td.get_data_layout().as_str().to_string_lossy().into_owned();
        hex(&layout_fingerprint(&program(src, triple).0.shared.fingerprint_vars(), &dl))
    }

    const SAMPLE: &str = "enum Color : u8 { Red, Green }\nstruct Entry { key: u32, val: u64, c: Color, pair: (u8, u16) }\n\
        var private_g: *u8;\nshared var hits: u64;\nshared var table: [4]Entry;\nshared var m: Mutex;\n\
        shared var flag: bool = true;\nshared var epoch: i64 = 7;\nfn main() : i32 { return 0; }\n";

    #[test]
    fn shared_vars_are_laid_out_in_declaration_order_at_natural_alignment() {
        for triple in [X86, "aarch64-unknown-linux-gnu"] {
            let tm = crate::driver::build::target_machine(triple, false).unwrap();
            let td = tm.get_target_data();
            let (prog, sources) = program(SAMPLE, triple);
            let l = &prog.shared;
            let got: Vec<(&str, u64)> = l.vars.iter().map(|v| (v.name.as_str(), v.offset)).collect();
            // Entry: key 0, val 8, c 16, pair 18 (u8 at 0, u16 at 2): 24 bytes, 8-aligned.
            assert_eq!(got, [("hits", 0), ("table", 8), ("m", 104), ("flag", 144), ("epoch", 152)], "{triple}");
            assert_eq!(l.size, 160);
            assert_eq!(l.vars[2].layout, LayoutType::Mutex { size: 40, align: 8 }, "Mutex is 40 bytes, 8-aligned on {triple}");
            // The offsets agree with LLVM's layout of the types the emitter generates.
            let ctx = Context::create();
            let module = super::super::emit(&ctx, "t", &prog, &sources, &td, super::super::Entry::Main, super::super::DebugInfo::None, false, &super::super::Part::whole(&prog));
            let st = module.get_struct_type("struct.Entry").unwrap();
            let LayoutType::Array { elem, .. } = &l.vars[1].layout else { panic!("table is an array") };
            let LayoutType::Struct { size, fields, .. } = &**elem else { panic!("of structs") };
            assert_eq!(*size, td.get_abi_size(&st));
            for (i, (_, off, _)) in fields.iter().enumerate() {
                assert_eq!(Some(*off), td.offset_of_element(&st, i as u32), "field {i}");
            }
        }
    }

    fn ir(src: &str, entry: super::super::Entry) -> String {
        let tm = crate::driver::build::target_machine(X86, false).unwrap();
        let ctx = Context::create();
        let (prog, sources) = program(src, X86);
        let td = tm.get_target_data();
        let module = super::super::emit(&ctx, "t", &prog, &sources, &td, entry, super::super::DebugInfo::None, false, &super::super::Part::whole(&prog));
        module.print_to_string().to_string()
    }

    #[test]
    fn test_runner_joins_the_fleet_too() {
        use super::super::Entry;
        let src = "shared var n: u64 = 3;\nfn test_n(t: *u8) : void { n += 1; }\n";
        let tests = ir(src, Entry::Tests);
        let join = tests.find("call ptr @__truk_fleet_join(ptr @__truk_fleet_init)").expect(&tests);
        assert!(join < tests.find("call i32 @__truk_test_run").unwrap(), "{tests}");
        let plain = ir("var n: u64 = 3;\nfn test_n(t: *u8) : void { n += 1; }\n", Entry::Tests);
        assert!(!plain.contains("__truk_fleet"), "{plain}");
    }

    #[test]
    fn no_shared_vars_means_an_empty_area_and_the_documented_fingerprint() {
        let src = "var g: u64;\nfn main() : i32 { return 0; }\n";
        let l = program(src, X86).0.shared;
        assert!(l.vars.is_empty());
        assert_eq!(l.size, 0);
        assert_eq!(layout_fp(src, X86), EMPTY_LAYOUT_FINGERPRINT_HEX);
    }

    #[test]
    fn layout_fingerprint_follows_shared_vars_only() {
        let base = layout_fp(SAMPLE, X86);
        assert_eq!(base, layout_fp(SAMPLE, X86));
        let same = [
            ("var private_g: *u8;", "var private_g: [3]u64;"),
            ("fn main() : i32 { return 0; }", "fn main() : i32 { return 1; }"),
            // A constant initializer is applied at run time, not part of the layout.
            ("epoch: i64 = 7", "epoch: i64 = 8"),
        ];
        for (from, to) in same {
            assert_eq!(base, layout_fp(&SAMPLE.replace(from, to), X86), "{from} -> {to}");
        }
        let changed = [
            ("shared var hits: u64", "shared var hits: u32"),
            ("shared var hits", "shared var hits2"),
            ("[4]Entry", "[5]Entry"),
            ("val: u64", "val: u32"),
            ("key: u32, val: u64", "val: u64, key: u32"),
            ("Color : u8", "Color : u16"),
            ("Entry", "Record"),
            ("shared var m: Mutex;\n", ""),
        ];
        for (from, to) in changed {
            assert_ne!(base, layout_fp(&SAMPLE.replace(from, to), X86), "{from} -> {to}");
        }
        assert_ne!(base, layout_fp(SAMPLE, "aarch64-unknown-linux-gnu"), "the data layout is part of it");
    }

    #[test]
    fn layout_fingerprint_covers_channel_element_and_capacity() {
        let src = |t: &str| format!("struct J {{ id: u32, n: u64 }}\nshared var q: {t};\nfn main() : i32 {{ return 0; }}\n");
        let base = layout_fp(&src("chan[J, 4]"), X86);
        assert_eq!(base, layout_fp(&src("chan[J, 4]"), X86));
        for other in ["chan[J, 5]", "chan[u64, 4]", "chan[(u32, u64), 4]", "[4]J"] {
            assert_ne!(base, layout_fp(&src(other), X86), "{other}");
        }
        assert_ne!(layout_fp(&src("chan[u8, 8]"), X86), layout_fp(&src("chan[i8, 8]"), X86), "same size, another type");
    }
}
