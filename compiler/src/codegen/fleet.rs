//! Fleet lowering: the layout of the shared-variable area, shared variable addresses, the
//! fleet join at the top of `__truk_main`, the atomic builtins (inline LLVM atomics) and the
//! fleet builtins (calls of the `__truk_*` runtime, `runtime-c/truk_rt.h` "Fleets").
//!
//! # The shared-variable area
//! Every `shared var` of the import closure gets a constant offset in one area, whose base
//! `__truk_fleet_join` returns (16-byte aligned). Variables are placed in declaration order,
//! the order the checker declares globals: files in the order the import closure is loaded
//! (deterministic for given sources), each file in source order; each at the next offset
//! that is a multiple of its type's natural (ABI) alignment. The area's size, rounded up to
//! its largest alignment, is the note's `region_size`. The same order, names and layouts
//! feed the layout fingerprint, so two binaries that disagree cannot share a region.

use inkwell::context::Context;
use inkwell::module::Linkage;
use inkwell::targets::TargetData;
use inkwell::types::{ArrayType, BasicMetadataTypeEnum, BasicType};
use inkwell::values::{BasicMetadataValueEnum, BasicValue, BasicValueEnum, GlobalValue, PointerValue};
use inkwell::{AtomicOrdering, AtomicRMWBinOp, IntPredicate};

use super::Emitter;
use crate::fingerprint::LayoutType;
use crate::hir::*;
use crate::syntax::ast::VarKind;

/// The internal global holding the base of the shared-variable area.
const BASE: &str = "__truk_fleet_base";

/// The builtin `Mutex`: opaque, TRUK_MUTEX_SIZE (16) bytes, 8-aligned (truk_rt.h).
pub fn mutex_type(ctx: &Context) -> ArrayType<'_> {
    ctx.i64_type().array_type(2)
}

pub struct SharedVar {
    pub global: GlobalId,
    pub name: String,
    pub offset: u64,
    pub layout: LayoutType,
}

/// Where each shared variable lives in the area, and the area's size.
#[derive(Default)]
pub struct SharedLayout {
    pub vars: Vec<SharedVar>,
    pub size: u64,
}

impl SharedLayout {
    pub fn offset_of(&self, g: GlobalId) -> Option<u64> {
        self.vars.iter().find(|v| v.global == g).map(|v| v.offset)
    }

    /// The input of `fingerprint::layout_fingerprint`.
    pub fn fingerprint_vars(&self) -> Vec<(String, LayoutType)> {
        self.vars.iter().map(|v| (v.name.clone(), v.layout.clone())).collect()
    }
}

/// Lay out the shared variables of `prog` for the target described by `td`.
pub fn shared_layout(prog: &Program, td: &TargetData) -> SharedLayout {
    let ctx = Context::create();
    let mut out = SharedLayout::default();
    let mut end = 0u64;
    let mut max_align = 1u64;
    for (i, g) in prog.globals.iter().enumerate() {
        if g.kind != VarKind::Shared {
            continue;
        }
        let layout = layout_type(prog, td, &ctx, &g.ty);
        let (size, align) = size_align(&layout);
        let offset = end.next_multiple_of(align);
        end = offset + size;
        max_align = max_align.max(align);
        out.vars.push(SharedVar { global: i as GlobalId, name: g.name.clone(), offset, layout });
    }
    out.size = end.next_multiple_of(max_align);
    out
}

fn size_align(t: &LayoutType) -> (u64, u64) {
    match t {
        LayoutType::Prim { size, align, .. }
        | LayoutType::Struct { size, align, .. }
        | LayoutType::Array { size, align, .. }
        | LayoutType::Tuple { size, align, .. }
        | LayoutType::Mutex { size, align } => (*size, *align),
        LayoutType::Enum { base, .. } => size_align(base),
    }
}

/// C's rule for a record, which is also LLVM's for a non-packed struct: each field at the
/// next multiple of its alignment, the size rounded up to the largest alignment.
fn record(fields: Vec<LayoutType>) -> (u64, u64, Vec<(u64, LayoutType)>) {
    let (mut end, mut align) = (0u64, 1u64);
    let mut out = vec![];
    for f in fields {
        let (s, a) = size_align(&f);
        let off = end.next_multiple_of(a);
        end = off + s;
        align = align.max(a);
        out.push((off, f));
    }
    (end.next_multiple_of(align), align, out)
}

fn layout_type(prog: &Program, td: &TargetData, ctx: &Context, ty: &Ty) -> LayoutType {
    let prim = |name: String, t: &dyn BasicType| LayoutType::Prim {
        name,
        size: td.get_abi_size(t),
        align: td.get_abi_alignment(t) as u64,
    };
    match ty {
        Ty::Int { signed, bits } => {
            let name = format!("{}{bits}", if *signed { "i" } else { "u" });
            let t = match bits {
                8 => ctx.i8_type(),
                16 => ctx.i16_type(),
                32 => ctx.i32_type(),
                _ => ctx.i64_type(),
            };
            prim(name, &t)
        }
        Ty::Float { bits: 32 } => prim("f32".into(), &ctx.f32_type()),
        Ty::Float { .. } => prim("f64".into(), &ctx.f64_type()),
        Ty::Bool => prim("bool".into(), &ctx.bool_type()),
        Ty::Enum(id) => {
            let e = &prog.enums[*id as usize];
            LayoutType::Enum { name: e.name.clone(), base: Box::new(layout_type(prog, td, ctx, &e.base)) }
        }
        Ty::Mutex => {
            let t = mutex_type(ctx);
            LayoutType::Mutex { size: td.get_abi_size(&t), align: td.get_abi_alignment(&t) as u64 }
        }
        Ty::Array(n, el) => {
            let elem = layout_type(prog, td, ctx, el);
            let (size, align) = size_align(&elem);
            LayoutType::Array { len: *n, elem: Box::new(elem), size: size * n, align }
        }
        Ty::Tuple(ts) => {
            let (size, align, fields) = record(ts.iter().map(|t| layout_type(prog, td, ctx, t)).collect());
            LayoutType::Tuple { size, align, fields }
        }
        Ty::Struct(id) => {
            let s = &prog.structs[*id as usize];
            let decl = s.fields.as_deref().unwrap_or_default();
            let (size, align, laid) = record(decl.iter().map(|(_, t)| layout_type(prog, td, ctx, t)).collect());
            let fields = decl.iter().zip(laid).map(|((n, _), (off, t))| (n.clone(), off, t)).collect();
            LayoutType::Struct { name: s.name.clone(), size, align, fields }
        }
        // The checker refuses every other type in a `shared var`.
        _ => prim("invalid".into(), &ctx.i8_type()),
    }
}

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    fn fleet_base(&self) -> GlobalValue<'ctx> {
        if let Some(g) = self.module.get_global(BASE) {
            return g;
        }
        let g = self.module.add_global(self.ptr(), None, BASE);
        g.set_linkage(Linkage::Internal);
        g.set_initializer(&self.ptr().const_null());
        g
    }

    /// The address of shared variable `g`: the area's base plus its constant offset.
    pub(super) fn shared_place(&mut self, g: GlobalId) -> PointerValue<'ctx> {
        let base_g = self.fleet_base().as_pointer_value();
        let base = self.b.build_load(self.ptr(), base_g, "fleet.base").unwrap().into_pointer_value();
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
        self.b.build_store(self.fleet_base().as_pointer_value(), base).unwrap();
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
            b.build_store(p, v).unwrap();
        }
        b.build_return(None).unwrap();
        Some(f)
    }

    /// `atomic_*`: sequentially consistent LLVM atomics at natural alignment. A bool is a
    /// byte in memory, so its atomics work on i8.
    pub(super) fn atomic(&mut self, op: AtomicOp, args: &'p [Expr]) -> Option<BasicValueEnum<'ctx>> {
        let Ty::Ptr(elem) = &args[0].ty else { unreachable!("the checker gives atomics a pointer") };
        let is_bool = **elem == Ty::Bool;
        let it = if is_bool { self.ctx.i8_type() } else { self.ty(elem).into_int_type() };
        let align = self.td.get_abi_size(&it) as u32;
        let p = self.rvalue(&args[0]).unwrap().into_pointer_value();
        let mut vals = vec![];
        for a in &args[1..] {
            let v = self.rvalue(a).unwrap().into_int_value();
            vals.push(if is_bool { self.b.build_int_z_extend(v, it, "").unwrap() } else { v });
        }
        let sc = AtomicOrdering::SequentiallyConsistent;
        let old = match op {
            AtomicOp::Load => {
                let v = self.b.build_load(it, p, "").unwrap();
                let i = v.as_instruction_value().unwrap();
                i.set_atomic_ordering(sc).unwrap();
                i.set_alignment(align).unwrap();
                v.into_int_value()
            }
            AtomicOp::Store => {
                let i = self.b.build_store(p, vals[0]).unwrap();
                i.set_atomic_ordering(sc).unwrap();
                i.set_alignment(align).unwrap();
                return None;
            }
            AtomicOp::Cas => {
                let r = self.b.build_cmpxchg(p, vals[0], vals[1], sc, sc).unwrap();
                return Some(self.b.build_extract_value(r, 1, "").unwrap());
            }
            AtomicOp::Add | AtomicOp::Sub | AtomicOp::Swap => {
                let bin = match op {
                    AtomicOp::Add => AtomicRMWBinOp::Add,
                    AtomicOp::Sub => AtomicRMWBinOp::Sub,
                    _ => AtomicRMWBinOp::Xchg,
                };
                self.b.build_atomicrmw(bin, p, vals[0], sc).unwrap()
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
        let (_, ret) = f.signature();
        let ret = if ret.is_void() { None } else { Some(self.ty(&ret)) };
        let func = self.rt(f.symbol(), &params, ret);
        self.b.build_call(func, &vals, "").unwrap().try_as_basic_value().basic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceMap;
    use crate::fingerprint::{hex, layout_fingerprint, EMPTY_LAYOUT_FINGERPRINT_HEX};

    const X86: &str = "x86_64-unknown-linux-gnu";

    fn program(src: &str) -> (Program, SourceMap) {
        let mut sources = SourceMap::default();
        let file = sources.add("t.truk".into(), src.to_string());
        let (module, diags) = crate::syntax::parser::parse_module(&sources.file(file).text, file);
        assert!(diags.is_empty(), "{diags:?}");
        let (prog, diags) = crate::hir::check::check(&[module]);
        assert!(diags.is_empty(), "{diags:?}");
        (prog, sources)
    }

    fn layout_fp(src: &str, triple: &str) -> String {
        let tm = crate::driver::build::target_machine(triple, false).unwrap();
        let td = tm.get_target_data();
        let dl = td.get_data_layout().as_str().to_string_lossy().into_owned();
        hex(&layout_fingerprint(&shared_layout(&program(src).0, &td).fingerprint_vars(), &dl))
    }

    const SAMPLE: &str = "enum Color : u8 { Red, Green }\nstruct Entry { key: u32, val: u64, c: Color, pair: (u8, u16) }\n\
        var private_g: *u8;\nshared var hits: u64;\nshared var table: [4]Entry;\nshared var m: Mutex;\n\
        shared var flag: bool = true;\nshared var epoch: i64 = 7;\nfn main() : i32 { return 0; }\n";

    #[test]
    fn shared_vars_are_laid_out_in_declaration_order_at_natural_alignment() {
        for triple in [X86, "aarch64-unknown-linux-gnu"] {
            let tm = crate::driver::build::target_machine(triple, false).unwrap();
            let td = tm.get_target_data();
            let (prog, _) = program(SAMPLE);
            let l = shared_layout(&prog, &td);
            let got: Vec<(&str, u64)> = l.vars.iter().map(|v| (v.name.as_str(), v.offset)).collect();
            // Entry: key 0, val 8, c 16, pair 18 (u8 at 0, u16 at 2): 24 bytes, 8-aligned.
            assert_eq!(got, [("hits", 0), ("table", 8), ("m", 104), ("flag", 120), ("epoch", 128)], "{triple}");
            assert_eq!(l.size, 136);
            assert_eq!(size_align(&l.vars[2].layout), (16, 8), "Mutex is 16 bytes, 8-aligned on {triple}");
            // The offsets agree with LLVM's layout of the types the emitter generates.
            let ctx = Context::create();
            let (prog, sources) = program(SAMPLE);
            let module = super::super::emit(&ctx, "t", &prog, &sources, &td, super::super::Entry::Main);
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
        let (prog, sources) = program(src);
        let td = tm.get_target_data();
        let module = super::super::emit(&ctx, "t", &prog, &sources, &td, entry);
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
        let tm = crate::driver::build::target_machine(X86, false).unwrap();
        let l = shared_layout(&program(src).0, &tm.get_target_data());
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
}
