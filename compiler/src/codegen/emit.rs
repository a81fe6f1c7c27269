//! MIR -> LLVM IR.
//!
//! Every local lives in an `alloca` of the entry block (LLVM's mem2reg turns them into
//! registers in release builds). Places (`x`, `*p`, `s.f`, `a[i]`) are emitted as pointers
//! and read with a load. Each MIR block becomes one LLVM block (plus the blocks of implicit
//! bounds and division checks). Types get the layouts MIR finalized (`mir/layout.rs`).

use std::collections::{HashMap, HashSet};

use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::{Linkage, Module};
use inkwell::targets::TargetData;
use inkwell::types::{BasicMetadataTypeEnum, BasicType, BasicTypeEnum, FunctionType, StructType};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, GlobalValue, InstructionOpcode, IntValue, PointerValue};
use inkwell::{AddressSpace, FloatPredicate, IntPredicate};

use crate::diag::{SourceMap, Span};
use crate::hir::*;
use crate::mir;
use crate::syntax::ast::{BinOp, VarKind};

#[path = "fleet.rs"]
pub mod fleet;
#[path = "chan.rs"]
pub mod chan;
#[path = "table.rs"]
pub mod table;
#[path = "debug.rs"]
pub mod debug;
#[path = "debug_types.rs"]
mod debug_types;
#[path = "map.rs"]
mod map;
#[path = "attrs.rs"]
mod attrs;
#[path = "entry.rs"]
mod entry;
#[path = "alloc.rs"]
mod alloc;
#[path = "checks.rs"]
mod checks;
#[path = "mem.rs"]
mod mem;
pub use mem::llvm_type_of;
use mem::slice_type;

pub use super::parts::Part;

pub use debug::DebugInfo;

/// What kind of entry point to generate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `__truk_main` calls the user's `main`.
    Main,
    /// `__truk_main` runs the `test_*` functions through the runtime's test runner.
    Tests,
    /// No entry point (an object to link elsewhere).
    None,
}

pub struct Emitter<'ctx, 'p> {
    ctx: &'ctx Context,
    module: Module<'ctx>,
    b: Builder<'ctx>,
    /// Positioned in the entry block for allocas, so mem2reg can promote them.
    entry_b: Builder<'ctx>,
    td: &'p TargetData,
    prog: &'p Program,
    layouts: &'p mir::Layouts,
    sources: &'p SourceMap,
    structs: Vec<StructType<'ctx>>,
    /// Declared on first use, but for the functions this part defines (declared at once, in
    /// order): a part of a split build declares only what it calls, not the whole program.
    funcs: Vec<Option<FunctionValue<'ctx>>>,
    /// Per function: how many functions before it (by id) have its symbol, which its symbol
    /// then ends with in a split build, so that every part names it alike whatever order it
    /// declares functions in (private functions of two files share a symbol).
    symbol_nth: Vec<u32>,
    /// `None` for a shared variable: it lives in the fleet's area, at `shared`'s offset.
    globals: Vec<Option<GlobalValue<'ctx>>>,
    shared: &'p mir::SharedLayout,
    strings: HashMap<Vec<u8>, PointerValue<'ctx>>,
    // Per-function state.
    cur_fn: Option<FunctionValue<'ctx>>,
    locals: Vec<Option<PointerValue<'ctx>>>,
    /// The LLVM block of each MIR block of the function being emitted.
    blocks: Vec<BasicBlock<'ctx>>,
    /// For Truk variadic functions: the slot array and the read cursor.
    va: Option<(PointerValue<'ctx>, PointerValue<'ctx>)>,
    ret_ty: Ty,
    /// Locals and temporaries of the function being emitted that live on the heap.
    heap_locals: Vec<PointerValue<'ctx>>,
    /// The caller's slot for the result, when the function returns an aggregate.
    sret: Option<PointerValue<'ctx>>,
    /// The function's copy as written, which `Terminator::Restart` calls (`checks.rs`).
    restart_fn: Option<FunctionValue<'ctx>>,
    /// Unoptimized builds: the failure blocks of the function being emitted, one per kind of
    /// check, that its sites branch to (`checks.rs`).
    fails: Vec<checks::SharedFail<'ctx>>,
    /// Debug builds: the pointers known not nil (`checks.rs`).
    nonnil: checks::NilFacts<'ctx>,
    /// Unoptimized builds, per local: the argument of a scalar parameter that the function
    /// never changes (`mir::bounds::unchanged_params`), read as it is rather than from a
    /// slot (which only builds with debug information keep, for the debugger), so that a
    /// nil check of it covers the later ones.
    param_vals: Vec<Option<BasicValueEnum<'ctx>>>,
    /// Unoptimized builds, per local: an unchanged slice parameter's pointer and length,
    /// loaded at the top of the function on first use (`Some(None)` until then).
    param_slices: Vec<Option<Option<(PointerValue<'ctx>, IntValue<'ctx>)>>>,
    dwarf: Option<debug::Dwarf<'ctx>>,
    /// Debug builds: a dereference of nil panics with its location (release: a SIGSEGV).
    nil_checks: bool,
    /// Optimized builds: the indexing of the current function that MIR's range facts prove
    /// in bounds (`mir/bounds.rs`), by address; it gets no check.
    unchecked: HashSet<*const Expr>,
    /// The functions this module defines, and whether it holds the program's globals.
    part: &'p Part,
}

/// The LLVM module of `part` of `prog` (`Part::whole` for all of it): the entry only in
/// the first part.
#[allow(clippy::too_many_arguments)]
pub fn emit<'ctx>(
    ctx: &'ctx Context,
    name: &str,
    prog: &mir::Program,
    sources: &SourceMap,
    td: &TargetData,
    entry: Entry,
    debug_info: DebugInfo,
    nil_checks: bool,
    part: &Part,
) -> Module<'ctx> {
    let module = ctx.create_module(name);
    // Before any load or store is built: they take their alignment from the module's layout
    // (LLVM's default one gives i64 and f64 an alignment of 4).
    module.set_data_layout(&td.get_data_layout());
    let dwarf = match debug_info {
        DebugInfo::None => None,
        DebugInfo::Lines { optimized } => Some(debug::Dwarf::new(ctx, &module, sources, optimized)),
    };
    let mut e = Emitter {
        ctx,
        module,
        b: ctx.create_builder(),
        entry_b: ctx.create_builder(),
        td,
        prog: &prog.hir,
        layouts: &prog.layouts,
        sources,
        structs: vec![],
        funcs: vec![],
        symbol_nth: vec![],
        globals: vec![],
        shared: &prog.shared,
        strings: HashMap::new(),
        cur_fn: None,
        locals: vec![],
        blocks: vec![],
        va: None,
        ret_ty: Ty::Void,
        heap_locals: vec![],
        sret: None,
        restart_fn: None,
        fails: vec![],
        nonnil: Default::default(),
        param_vals: vec![],
        param_slices: vec![],
        dwarf,
        nil_checks,
        unchecked: HashSet::new(),
        part,
    };
    e.declare_all();
    if part.is_first() {
        if part.is_split() && !prog.shared.vars.is_empty() {
            // Defined here for every part's shared variables.
            e.fleet_base();
        }
        e.declare_globals();
    }
    for (i, body) in prog.bodies.iter().enumerate() {
        if let Some(body) = body.as_ref().filter(|_| part.defines(i)) {
            e.function(i, &prog.hir.funcs[i], body);
        }
    }
    if let Some(d) = &mut e.dwarf {
        d.end_function(&e.b);
    }
    match entry {
        _ if !part.is_first() => {}
        Entry::Main => e.main_wrapper(),
        Entry::Tests => e.test_main(),
        Entry::None => {}
    }
    if let Some(d) = &e.dwarf {
        // Before verification: resolves the subprograms' deferred parts.
        d.finalize();
    }
    e.module
}

/// The source of a statement, for its debug location.
fn stmt_span(s: &mir::Stmt) -> Span {
    match s {
        mir::Stmt::Assign { place, value, .. } => place.span.to(value.span),
        mir::Stmt::LetTuple(_, e) | mir::Stmt::Eval(e) => e.span,
        mir::Stmt::MapNext { map, .. } => map.span,
    }
}

/// For each block of `body` that only jumps on (no statements, a `Goto`; never the entry),
/// the block that its chain of such jumps leads to: it gets no LLVM block of its own, and
/// branches to it go there (one machine block and one jump less each, in unoptimized code).
fn forwarded_blocks(body: &mir::Body) -> Vec<Option<mir::BlockId>> {
    let empty_goto = |b: usize| match &body.blocks[b].term {
        mir::Terminator::Goto(to) if b != 0 && body.blocks[b].stmts.is_empty() => Some(*to),
        _ => None,
    };
    (0..body.blocks.len())
        .map(|b| {
            let mut to = empty_goto(b)?;
            // A chain longer than the function's blocks is a loop of empty blocks: kept.
            for _ in 0..body.blocks.len() {
                match empty_goto(to as usize) {
                    Some(next) => to = next,
                    None => return Some(to),
                }
            }
            None
        })
        .collect()
}

/// The source of a terminator; jumps keep the location of what came before them.
fn term_span(t: &mir::Terminator) -> Option<Span> {
    match t {
        mir::Terminator::Branch { cond: e, .. } | mir::Terminator::Switch { value: e, .. } | mir::Terminator::Panic(e) => Some(e.span),
        mir::Terminator::Return(e) => e.as_ref().map(|e| e.span),
        mir::Terminator::Goto(_) | mir::Terminator::Unreachable | mir::Terminator::Restart => None,
    }
}

/// Whether values of `t` live only in memory. Truk functions return them through a hidden
/// first parameter (the caller's slot) and take them as pointers to copies the caller made
/// (sized arrays: to the caller's array, as in C); they are copied with memcpy. No
/// whole-aggregate loads, stores or returns: LLVM's cost for those grows with the type's size
/// (a 256 KB struct took minutes or crashed it) and its fast instruction selector rejects them.
/// Slices too: as `{ptr, len}` values they sent every function that takes or passes one to
/// the slow selector. `extern fn`s keep C's by-value convention.
fn in_memory(t: &Ty) -> bool {
    matches!(t, Ty::Struct(_) | Ty::Tuple(_) | Ty::Array(..) | Ty::Slice(_) | Ty::Mutex | Ty::Chan(..) | Ty::Table(..))
}

/// An element of a literal: its GEP path and its value, or (with its type) a pointer to it.
type Leaf<'ctx, 'p> = (Vec<IntValue<'ctx>>, BasicValueEnum<'ctx>, Option<&'p Ty>);

/// Locals and temporaries of at least this many bytes live on the heap.
const HEAP_LOCAL_MIN: u64 = 1 << 20;

/// Switches with at most this many cases are emitted as compare-and-branch chains.
const SWITCH_CHAIN_MAX: usize = 8;

/// Integer parameters narrower than 32 bits travel as `i32` (sign- or zero-extended by the
/// caller, truncated by the callee), as C compilers pass them: LLVM's fast instruction
/// selector lowers no `i1`, `i8` or `i16` argument, and sends the whole call or prologue to
/// the slow one.
fn widened(t: BasicTypeEnum<'_>) -> BasicTypeEnum<'_> {
    match t {
        BasicTypeEnum::IntType(i) if i.get_bit_width() < 32 => i.get_context().i32_type().into(),
        t => t,
    }
}

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    // ---- types -----------------------------------------------------------------------------

    /// The LLVM type of a value of type `t`: a bool is an `i1` (in memory an `i8`, see `mem.rs`).
    fn ty(&self, t: &Ty) -> BasicTypeEnum<'ctx> {
        match t {
            Ty::Bool => self.ctx.bool_type().into(),
            _ => self.mty(t),
        }
    }

    fn slice_ty(&self) -> StructType<'ctx> {
        slice_type(self.ctx)
    }

    /// `c_abi`: the convention of `extern fn`s, aggregates by value (sized arrays by
    /// reference, as in C). Otherwise Truk's (see [`in_memory`]).
    fn fn_type(&self, params: &[Ty], ret: &Ty, variadic: Variadic, c_abi: bool) -> FunctionType<'ctx> {
        let sret = !c_abi && in_memory(ret);
        let mut ps: Vec<BasicMetadataTypeEnum> = if sret { vec![self.ptr().into()] } else { vec![] };
        for p in params {
            let by_ptr = matches!(p, Ty::Array(..)) || (!c_abi && in_memory(p));
            let c_ty = if c_abi { self.c_int_pair(p) } else { None };
            ps.push(if by_ptr { self.ptr().into() } else { widened(c_ty.unwrap_or_else(|| self.ty(p))).into() });
        }
        if variadic == Variadic::Truk {
            ps.push(self.ptr().into());
        }
        let c_var = variadic == Variadic::C;
        if ret.is_void() || sret {
            self.ctx.void_type().fn_type(&ps, c_var)
        } else {
            let c_ty = if c_abi { self.c_int_pair(ret) } else { None };
            c_ty.unwrap_or_else(|| self.ty(ret)).fn_type(&ps, c_var)
        }
    }

    /// C passes and returns a struct of at most 16 bytes without floats in one or two
    /// integer registers, its bytes packed (x86_64 and aarch64 agree): the LLVM type that
    /// says so, `i64` or `{i64, i64}`. LLVM would give each field a register of its own.
    /// Structs with floats or of more bytes keep LLVM's by-value lowering (see the docs).
    fn c_int_pair(&self, t: &Ty) -> Option<BasicTypeEnum<'ctx>> {
        fn has_float(p: &Program, t: &Ty) -> bool {
            match t {
                Ty::Float { .. } => true,
                Ty::Array(_, el) => has_float(p, el),
                Ty::Tuple(ts) => ts.iter().any(|t| has_float(p, t)),
                Ty::Struct(id) => p.structs[*id as usize].fields.iter().flatten().any(|(_, t)| has_float(p, t)),
                _ => false,
            }
        }
        let size = self.size_of(t);
        if !matches!(t, Ty::Struct(_) | Ty::Tuple(_)) || size == 0 || size > 16 || has_float(self.prog, t) {
            return None;
        }
        let i64t = self.ctx.i64_type();
        Some(if size <= 8 { i64t.into() } else { self.ctx.struct_type(&[i64t.into(), i64t.into()], false).into() })
    }

    /// The bytes of the aggregate at `src`, as `c_ty` (from [`Self::c_int_pair`]), through
    /// `tmp`, a slot of that type.
    fn to_c_int_pair(&self, b: &Builder<'ctx>, src: PointerValue<'ctx>, t: &Ty, c_ty: BasicTypeEnum<'ctx>, tmp: PointerValue<'ctx>) -> BasicValueEnum<'ctx> {
        b.build_memcpy(tmp, 8, src, self.align_of(t), self.i64c(self.size_of(t))).unwrap();
        mem::load(&b, c_ty, tmp, "")
    }

    /// Store `v`, a C result of a type from [`Self::c_int_pair`], as the aggregate at `dst`.
    fn from_c_int_pair(&self, b: &Builder<'ctx>, v: BasicValueEnum<'ctx>, dst: PointerValue<'ctx>, t: &Ty, tmp: PointerValue<'ctx>) {
        mem::store(&b, tmp, v);
        b.build_memcpy(dst, self.align_of(t), tmp, 8, self.i64c(self.size_of(t))).unwrap();
    }

    /// A slot for a value of a type from [`Self::c_int_pair`] in the function being emitted.
    fn c_pair_slot(&mut self) -> PointerValue<'ctx> {
        self.alloca(&Ty::Array(2, Box::new(Ty::Int { signed: false, bits: 64 })), "c")
    }

    /// Whether LLVM will optimize this module (release builds, which are also the ones
    /// without nil checks): inline copies of runtime fast paths only pay there, and at -O0
    /// they would send functions to the slow instruction selector.
    fn optimized(&self) -> bool {
        !self.nil_checks
    }

    /// Whether a parameter of type `t` gets a local copy of the caller's (optimized builds, a
    /// slice): promoted to registers, its pointer and length are not loaded again after every
    /// store through the slice, which LLVM cannot tell from a store to the caller's copy.
    pub(super) fn copies_param(&self, t: &Ty) -> bool {
        self.optimized() && matches!(t, Ty::Slice(_))
    }

    fn ptr(&self) -> inkwell::types::PointerType<'ctx> {
        self.ctx.ptr_type(AddressSpace::default())
    }

    fn size_of(&self, t: &Ty) -> u64 {
        self.layouts.size_of(t)
    }

    fn align_of(&self, t: &Ty) -> u32 {
        self.layouts.align_of(t) as u32
    }

    fn i64c(&self, v: u64) -> IntValue<'ctx> {
        self.ctx.i64_type().const_int(v, false)
    }

    // ---- declarations ----------------------------------------------------------------------

    fn declare_all(&mut self) {
        for s in &self.prog.structs {
            self.structs.push(self.ctx.opaque_struct_type(&format!("struct.{}", s.name)));
        }
        for (i, s) in self.prog.structs.iter().enumerate() {
            if let Some(fields) = &s.fields {
                let fs: Vec<BasicTypeEnum> = fields.iter().map(|(_, t)| self.mty(t)).collect();
                self.structs[i].set_body(&fs, false);
            } else {
                // Opaque: give it a body of one byte so it can sit behind pointers in GEPs.
                self.structs[i].set_body(&[self.ctx.i8_type().into()], false);
            }
        }
        if cfg!(debug_assertions) {
            self.check_layouts();
        }
        self.funcs = vec![None; self.prog.funcs.len()];
        if self.part.is_split() {
            let mut seen: HashMap<&str, u32> = HashMap::new();
            self.symbol_nth = self.prog.funcs.iter().map(|f| if f.is_extern { 0 } else { post_inc(seen.entry(f.symbol.as_str()).or_insert(0)) }).collect();
        }
        for i in self.part.funcs.clone() {
            if !self.prog.funcs[i].is_extern {
                self.func(i as FuncId);
            }
        }
        for g in &self.prog.globals {
            if g.kind == VarKind::Shared {
                self.globals.push(None);
                continue;
            }
            let ty = self.mty(&g.ty);
            let name = if g.via_c_shim { format!("__truk_unused_{}", g.symbol) } else { self.part.symbol(&g.symbol).into_owned() };
            let gv = self.module.add_global(ty, None, &name);
            if g.via_c_shim {
                gv.set_linkage(Linkage::Private);
                gv.set_initializer(&ty.const_zero());
                self.globals.push(Some(gv));
                continue;
            }
            if g.is_extern {
                gv.set_linkage(Linkage::External);
            } else if !self.part.is_first() {
                // Defined by the first part.
                self.part.link_internal(gv);
                gv.set_constant(g.kind == VarKind::Const);
            } else {
                self.part.link_internal(gv);
                let init = match &g.init {
                    Some(c) => self.const_value(c, &g.ty),
                    None => ty.const_zero(),
                };
                gv.set_initializer(&init);
                gv.set_constant(g.kind == VarKind::Const);
            }
            self.globals.push(Some(gv));
        }
    }

    /// The constant `c` as it lies in memory.
    fn const_value(&mut self, c: &Const, ty: &Ty) -> BasicValueEnum<'ctx> {
        let lt = self.mty(ty);
        match (c, ty) {
            (Const::Int(v), Ty::Float { .. }) => lt.into_float_type().const_float(*v as f64).into(),
            (Const::Int(v), _) if lt.is_int_type() => lt.into_int_type().const_int(*v as u64, false).into(),
            (Const::Float(v), _) if lt.is_float_type() => lt.into_float_type().const_float(*v).into(),
            (Const::Bool(b), _) => self.ctx.i8_type().const_int(*b as u64, false).into(),
            (Const::Str(s), _) => self.string(s).into(),
            (Const::Func(f), _) => self.func_value(*f).into(),
            (Const::Aggregate(items), Ty::Struct(id)) => {
                let fields = self.prog.structs[*id as usize].fields.clone().unwrap_or_default();
                let vals: Vec<BasicValueEnum> = items.iter().zip(&fields).map(|(c, (_, t))| self.const_value(c, t)).collect();
                self.structs[*id as usize].const_named_struct(&vals).into()
            }
            (Const::Aggregate(items), Ty::Tuple(ts)) => {
                let vals: Vec<BasicValueEnum> = items.iter().zip(ts).map(|(c, t)| self.const_value(c, t)).collect();
                lt.into_struct_type().const_named_struct(&vals).into()
            }
            (Const::Aggregate(items), Ty::Array(n, el)) => {
                let mut vals: Vec<BasicValueEnum> = items.iter().map(|c| self.const_value(c, el)).collect();
                while (vals.len() as u64) < *n {
                    vals.push(self.mty(el).const_zero());
                }
                const_array(self.mty(el), &vals)
            }
            _ => lt.const_zero(),
        }
    }

    fn string(&mut self, s: &[u8]) -> PointerValue<'ctx> {
        if let Some(p) = self.strings.get(s) {
            return *p;
        }
        let arr = self.ctx.const_string(s, true);
        let g = self.module.add_global(arr.get_type(), None, ".str");
        g.set_linkage(Linkage::Private);
        g.set_initializer(&arr);
        g.set_constant(true);
        g.set_unnamed_addr(true);
        let p = g.as_pointer_value();
        self.strings.insert(s.to_vec(), p);
        p
    }

    /// Function `f`, declared in this module on first use.
    pub(super) fn func(&mut self, id: FuncId) -> FunctionValue<'ctx> {
        if let Some(fv) = self.funcs[id as usize] {
            return fv;
        }
        let f = &self.prog.funcs[id as usize];
        let params: Vec<Ty> = f.params.iter().map(|&p| f.locals[p as usize].ty.clone()).collect();
        let fty = self.fn_type(&params, &f.ret, f.variadic, f.is_extern);
        let fv = if f.is_extern {
            self.module.get_function(&f.symbol).unwrap_or_else(|| self.module.add_function(&f.symbol, fty, Some(Linkage::External)))
        } else {
            let name = match self.symbol_nth.get(id as usize) {
                Some(&n) if n > 0 => format!("{}.{n}", self.part.symbol(&f.symbol)),
                _ => self.part.symbol(&f.symbol).into_owned(),
            };
            let fv = self.module.add_function(&name, fty, None);
            self.part.link_internal(fv.as_global_value());
            if f.ret == Ty::Bool {
                // As C compilers do: the fast instruction selector cannot return a bare i1.
                let zext = self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("zeroext"), 0);
                fv.add_attribute(AttributeLoc::Return, zext);
            }
            self.mark_private_copies(fv, &params, &f.ret);
            fv
        };
        self.funcs[id as usize] = Some(fv);
        fv
    }

    /// The address of function `f` as a value: function values have Truk's convention, so
    /// an `extern fn` that takes or returns aggregates is reached through a thunk.
    fn func_value(&mut self, f: FuncId) -> PointerValue<'ctx> {
        let fd = &self.prog.funcs[f as usize];
        let target = self.func(f);
        let params: Vec<Ty> = fd.params.iter().map(|&p| fd.locals[p as usize].ty.clone()).collect();
        let differs = in_memory(&fd.ret) || params.iter().any(|p| in_memory(p) && !matches!(p, Ty::Array(..)));
        if !fd.is_extern || !differs || fd.variadic != Variadic::None {
            return target.as_global_value().as_pointer_value();
        }
        let name = format!("__truk_thunk.{}", fd.symbol);
        if let Some(t) = self.module.get_function(&name) {
            return t.as_global_value().as_pointer_value();
        }
        // One copy in the linked program: a function value has one address in every part.
        let linkage = if self.part.is_split() { Linkage::LinkOnceODR } else { Linkage::Internal };
        let thunk = self.module.add_function(&name, self.fn_type(&params, &fd.ret, Variadic::None, false), Some(linkage));
        if self.part.is_split() {
            thunk.as_global_value().set_visibility(inkwell::GlobalVisibility::Hidden);
        }
        let b = self.ctx.create_builder();
        b.position_at_end(self.ctx.append_basic_block(thunk, "entry"));
        let sret = in_memory(&fd.ret).then(|| thunk.get_nth_param(0).unwrap().into_pointer_value());
        let mut args: Vec<BasicMetadataValueEnum> = vec![];
        let tmp = b.build_alloca(self.ctx.i64_type().array_type(2), "c").unwrap();
        for (i, p) in params.iter().enumerate() {
            let v = thunk.get_nth_param(sret.is_some() as u32 + i as u32).unwrap();
            let by_value = in_memory(p) && !matches!(p, Ty::Array(..));
            args.push(match self.c_int_pair(p) {
                Some(c_ty) if by_value => self.to_c_int_pair(&b, v.into_pointer_value(), p, c_ty, tmp).into(),
                _ if by_value => mem::load(&b, self.ty(p), v.into_pointer_value(), "").into(),
                _ => v.into(),
            });
        }
        let r = b.build_call(target, &args, "").unwrap().try_as_basic_value().basic();
        match (sret, r) {
            (Some(slot), Some(v)) => {
                if self.c_int_pair(&fd.ret).is_some() {
                    self.from_c_int_pair(&b, v, slot, &fd.ret, tmp);
                } else {
                    mem::store(&b, slot, v);
                }
                b.build_return(None).unwrap()
            }
            (None, Some(v)) => b.build_return(Some(&v)).unwrap(),
            _ => b.build_return(None).unwrap(),
        };
        thunk.as_global_value().as_pointer_value()
    }

    /// Declare (once) a runtime function.
    fn rt(&self, name: &str, params: &[BasicMetadataTypeEnum<'ctx>], ret: Option<BasicTypeEnum<'ctx>>) -> FunctionValue<'ctx> {
        if let Some(f) = self.module.get_function(name) {
            return f;
        }
        let fty = match ret {
            Some(r) => r.fn_type(params, false),
            None => self.ctx.void_type().fn_type(params, false),
        };
        let f = self.module.add_function(name, fty, Some(Linkage::External));
        if matches!(name, "__truk_panic" | "__truk_panic_cstr" | "__truk_bounds_fail" | "__truk_nil_fail" | "__truk_div_fail" | "__truk_div_overflow" | "__truk_out_of_memory") {
            // Failure paths: cold and noreturn, so they stay out of the hot code and do not
            // count against inlining the function that checks.
            for attr in ["noreturn", "cold", "nounwind"] {
                f.add_attribute(AttributeLoc::Function, self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(attr), 0));
            }
        }
        if matches!(name, "__truk_new" | "__truk_alloc" | "__truk_alloc_array") {
            // Fresh memory no other pointer reaches: the zeroing of `make(@T)` is dropped
            // where the fields are stored before any use.
            f.add_attribute(AttributeLoc::Return, self.ctx.create_enum_attribute(Attribute::get_named_enum_kind_id("noalias"), 0));
        }
        f
    }

    // ---- functions -------------------------------------------------------------------------

    /// Debug builds: LLVM must lay every struct out as MIR's layouts say.
    fn check_layouts(&self) {
        for (i, st) in self.structs.iter().enumerate() {
            let Some(l) = self.layouts.struct_layout(i as StructId) else { continue };
            debug_assert_eq!(self.td.get_abi_size(st), l.size, "size of struct {}", self.prog.structs[i].name);
            debug_assert_eq!(self.td.get_abi_alignment(st) as u64, l.align, "alignment of struct {}", self.prog.structs[i].name);
            for (f, off) in l.offsets.iter().enumerate() {
                debug_assert_eq!(self.td.offset_of_element(st, f as u32), Some(*off), "field {f} of struct {}", self.prog.structs[i].name);
            }
        }
    }

    // ---- functions -------------------------------------------------------------------------

    fn function(&mut self, idx: usize, f: &'p Function, body: &'p mir::Body) {
        let fv = self.func(idx as FuncId);
        let Some(checked) = &body.checked else { return self.function_body(fv, f, &f.symbol, body) };
        let copy = self.checked_copy(fv);
        self.restart_fn = Some(copy);
        self.function_body(fv, f, &f.symbol, body);
        self.restart_fn = None;
        let symbol = copy.get_name().to_string_lossy().into_owned();
        self.function_body(copy, f, &symbol, checked);
    }

    fn function_body(&mut self, fv: FunctionValue<'ctx>, f: &'p Function, symbol: &str, body: &'p mir::Body) {
        self.cur_fn = Some(fv);
        self.fails.clear();
        self.ret_ty = f.ret.clone();
        let forward = forwarded_blocks(body);
        let mut blocks: Vec<_> = forward.iter().map(|f| if f.is_none() { Some(self.ctx.append_basic_block(fv, "")) } else { None }).collect();
        for i in 0..blocks.len() {
            if let Some(to) = forward[i] {
                blocks[i] = blocks[to as usize];
            }
        }
        self.blocks = blocks.into_iter().flatten().collect();
        let Some(&entry) = self.blocks.first() else { return };
        self.b.position_at_end(entry);
        if let Some(d) = &mut self.dwarf {
            d.begin_function(&self.b, fv, &f.name, symbol, self.sources, f.span);
        }
        self.locals = vec![None; body.locals.len()];
        self.param_vals = vec![None; body.locals.len()];
        self.param_slices = vec![None; body.locals.len()];
        let unchanged = if self.optimized() { vec![] } else { mir::bounds::unchanged_params(body) };
        self.unchecked = if self.optimized() { mir::bounds::unchecked(body) } else { HashSet::new() };
        self.sret = if in_memory(&f.ret) { fv.get_nth_param(0).map(|p| p.into_pointer_value()) } else { None };
        let first = self.sret.is_some() as u32;
        for (i, &p) in body.params.iter().enumerate() {
            let Some(param) = fv.get_nth_param(first + i as u32) else { continue };
            let l = &body.locals[p as usize];
            if self.copies_param(&l.ty) {
                let slot = self.alloca(&l.ty, &l.name);
                let st = self.slice_ty();
                for k in 0..2 {
                    let (from, to) = (self.b.build_struct_gep(st, param.into_pointer_value(), k, "").unwrap(), self.b.build_struct_gep(st, slot, k, "").unwrap());
                    let ft = st.get_field_type_at_index(k).unwrap();
                    let v = mem::load(&self.b, ft, from, "");
                    mem::store(&self.b, to, v);
                }
                self.locals[p as usize] = Some(slot);
                continue;
            }
            if in_memory(&l.ty) {
                // The caller's copy (or, for a sized array, the caller's array).
                self.locals[p as usize] = Some(param.into_pointer_value());
                if matches!(l.ty, Ty::Slice(_)) && unchanged.contains(&p) {
                    self.param_slices[p as usize] = Some(None);
                }
                continue;
            }
            let param = match (param, self.ty(&l.ty)) {
                // Passed widened (see `widened`).
                (BasicValueEnum::IntValue(v), BasicTypeEnum::IntType(t)) if t != v.get_type() => self.b.build_int_truncate(v, t, "").unwrap().into(),
                _ => param,
            };
            if unchanged.contains(&p) {
                self.param_vals[p as usize] = Some(param);
                if self.dwarf.is_none() {
                    continue;
                }
            }
            let slot = self.alloca(&l.ty, &l.name);
            mem::store(&self.b, slot, param);
            self.locals[p as usize] = Some(slot);
        }
        for (i, l) in body.locals.iter().enumerate() {
            if self.locals[i].is_none() && self.param_vals[i].is_none() {
                self.locals[i] = Some(self.alloca(&l.ty, &l.name));
            }
        }
        self.declare_variables(body);
        self.va = None;
        if f.variadic == Variadic::Truk {
            if let Some(base) = fv.get_nth_param(first + f.params.len() as u32) {
                let cursor = self.b.build_alloca(self.ctx.i64_type(), "va.cursor").unwrap();
                mem::store(&self.b, cursor, self.i64c(0));
                self.va = Some((base.into_pointer_value(), cursor));
            }
        }
        if self.nil_checks {
            self.nonnil.begin(body, &forward);
        }
        for (i, block) in body.blocks.iter().enumerate() {
            if forward[i].is_some() {
                continue;
            }
            self.b.position_at_end(self.blocks[i]);
            self.nonnil.enter(i);
            for s in &block.stmts {
                self.at(stmt_span(s));
                self.stmt(s, body);
            }
            self.nonnil.leave(i);
            if let Some(span) = term_span(&block.term) {
                self.at(span);
            }
            self.terminator(&block.term);
        }
        self.finish_fails();
        self.free_heap_locals();
    }

    /// Debug info: the instructions built next belong to `span`.
    fn at(&mut self, span: Span) {
        if let Some(d) = &mut self.dwarf {
            d.at(&self.b, self.sources, span);
        }
    }

    /// A local or temporary of type `t`, for the whole call of the function.
    fn alloca(&mut self, t: &Ty, name: &str) -> PointerValue<'ctx> {
        self.position_entry_builder();
        let size = self.size_of(t);
        if size < HEAP_LOCAL_MIN {
            return self.entry_b.build_alloca(self.mty(t), name).unwrap();
        }
        // The stack (8 MB by default) would overflow: the heap, zeroed, freed on return.
        let (ptr, i64t) = (self.ptr(), self.ctx.i64_type());
        let alloc = self.rt("__truk_alloc", &[i64t.into()], Some(ptr.into()));
        let p = self.entry_b.build_call(alloc, &[self.i64c(size).into()], name).unwrap();
        let p = p.try_as_basic_value().basic().unwrap().into_pointer_value();
        self.heap_locals.push(p);
        p
    }

    /// Put `entry_b` first in the current function's entry block: allocas go there, where
    /// mem2reg can promote them. They carry no debug location (as clang's): positioning takes
    /// the next instruction's location, and at the end of an empty block the builder would keep
    /// one from the function emitted before, which the verifier rejects.
    pub(super) fn position_entry_builder(&mut self) {
        let entry = self.cur_fn.unwrap().get_first_basic_block().unwrap();
        match entry.get_first_instruction() {
            Some(i) => self.entry_b.position_before(&i),
            None => self.entry_b.position_at_end(entry),
        }
        self.entry_b.unset_current_debug_location();
    }

    /// Free the heap locals before every return of the function being emitted.
    fn free_heap_locals(&mut self) {
        if self.heap_locals.is_empty() {
            return;
        }
        let free = self.rt("__truk_free", &[self.ptr().into()], None);
        let b = self.ctx.create_builder();
        for bb in self.cur_fn.unwrap().get_basic_blocks() {
            let Some(ret) = bb.get_terminator().filter(|t| t.get_opcode() == InstructionOpcode::Return) else { continue };
            b.position_before(&ret);
            for p in &self.heap_locals {
                b.build_call(free, &[(*p).into()], "").unwrap();
            }
        }
        self.heap_locals.clear();
    }

    fn stmt(&mut self, s: &'p mir::Stmt, body: &'p mir::Body) {
        match s {
            mir::Stmt::Assign { place, op, value } => {
                let p = self.place(place);
                match op {
                    None => self.store_expr(p, value),
                    Some(op) => {
                        let cur = mem::load(&self.b, self.ty(&place.ty), p, "");
                        let v = self.rvalue(value).unwrap();
                        let r = self.arith(*op, cur, v, &place.ty, place.span.to(value.span));
                        mem::store(&self.b, p, r);
                    }
                }
            }
            mir::Stmt::LetTuple(ids, e) => {
                let Ty::Tuple(ts) = &e.ty else { return };
                let src = self.place(e);
                let tt = self.ty(&e.ty);
                for (i, id) in ids.iter().enumerate() {
                    if let Some(id) = id {
                        let field = self.field_gep(tt.into_struct_type(), src, i as u32);
                        self.copy(self.locals[*id as usize].unwrap(), field, &ts[i]);
                    }
                }
            }
            mir::Stmt::Eval(e) if in_memory(&e.ty) => {
                self.place(e);
            }
            mir::Stmt::Eval(e) => {
                self.rvalue(e);
            }
            mir::Stmt::MapNext { map, cursor, key, value } => {
                let i64t = self.ctx.i64_type();
                let ptr = self.ptr();
                let m = self.rvalue(map).unwrap();
                let cur_slot = self.locals[*cursor as usize].unwrap();
                let cur = mem::load(&self.b, self.ty(&body.locals[*cursor as usize].ty), cur_slot, "");
                let (k, v) = (self.locals[*key as usize].unwrap(), self.locals[*value as usize].unwrap());
                let f = self.rt("__truk_map_next", &[ptr.into(), i64t.into(), ptr.into(), ptr.into()], Some(i64t.into()));
                let next = self.b.build_call(f, &[m.into(), cur.into(), k.into(), v.into()], "").unwrap().try_as_basic_value().basic().unwrap();
                mem::store(&self.b, cur_slot, next);
            }
        }
    }

    fn terminator(&mut self, t: &'p mir::Terminator) {
        match t {
            mir::Terminator::Goto(b) => {
                self.b.build_unconditional_branch(self.blocks[*b as usize]).unwrap();
            }
            mir::Terminator::Branch { cond, then, els } => {
                let c = self.rvalue(cond).unwrap().into_int_value();
                self.b.build_conditional_branch(c, self.blocks[*then as usize], self.blocks[*els as usize]).unwrap();
            }
            mir::Terminator::Switch { value, cases, default } => {
                let v = self.rvalue(value).unwrap().into_int_value();
                let it = v.get_type();
                let cases: Vec<(IntValue, BasicBlock)> = cases.iter().map(|(x, b)| (it.const_int(*x as u64, false), self.blocks[*b as usize])).collect();
                let default = self.blocks[*default as usize];
                if cases.len() > SWITCH_CHAIN_MAX {
                    self.b.build_switch(v, default, &cases).unwrap();
                    return;
                }
                // A few cases: compares, which the fast instruction selector takes (it has no
                // `switch`); optimized builds turn them back into a switch.
                for (i, (c, bb)) in cases.iter().enumerate() {
                    let eq = self.b.build_int_compare(IntPredicate::EQ, v, *c, "").unwrap();
                    // The next compare right after this one: its branch falls through.
                    let here = self.b.get_insert_block().unwrap();
                    let next = if i + 1 == cases.len() { default } else { self.ctx.insert_basic_block_after(here, "") };
                    self.b.build_conditional_branch(eq, *bb, next).unwrap();
                    self.b.position_at_end(next);
                }
                if cases.is_empty() {
                    self.b.build_unconditional_branch(default).unwrap();
                }
            }
            mir::Terminator::Return(e) => {
                if let Some(slot) = self.sret {
                    if let Some(e) = e {
                        self.store_expr(slot, e);
                    }
                    self.b.build_return(None).unwrap();
                    return;
                }
                let v = e.as_ref().and_then(|e| self.rvalue(e));
                match v {
                    Some(v) if !self.ret_ty.is_void() => self.b.build_return(Some(&v)).unwrap(),
                    _ => self.b.build_return(None).unwrap(),
                };
            }
            mir::Terminator::Panic(msg) => {
                self.panic(msg);
                self.b.build_unreachable().unwrap();
            }
            mir::Terminator::Unreachable => {
                self.b.build_unreachable().unwrap();
            }
            mir::Terminator::Restart => self.restart(),
        }
    }
    // ---- expressions -----------------------------------------------------------------------

    /// Store the value of `e` into `slot`. Aggregates are stored field by field, zeroed with
    /// memset and copied with memcpy: LLVM's fast instruction selector (debug builds) cannot
    /// take whole-aggregate loads and stores and would fall back to the slow one.
    fn store_expr(&mut self, slot: PointerValue<'ctx>, e: &'p Expr) {
        let lt = self.ty(&e.ty);
        if !lt.is_struct_type() && !lt.is_array_type() {
            match &e.kind {
                ExprKind::Zero => mem::store(&self.b, slot, lt.const_zero()),
                _ => match self.rvalue(e) {
                    Some(v) => mem::store(&self.b, slot, v),
                    None => return,
                },
            };
            return;
        }
        match &e.kind {
            ExprKind::Zero => self.zero_fill(slot, &e.ty),
            ExprKind::Builtin(Builtin::MakeSlice(t), args) if args.len() == 1 => {
                let (p, n) = self.alloc_slice(t, &args[0]);
                let st = self.slice_ty();
                let pp = self.field_gep(st, slot, 0);
                mem::store(&self.b, pp, p);
                let lp = self.field_gep(st, slot, 1);
                mem::store(&self.b, lp, n);
            }
            ExprKind::StructLit(_) | ExprKind::TupleLit(_) | ExprKind::ArrayLit(_) => {
                // Every element is computed before any is stored: the literal may read the slot.
                let mut leaves = vec![];
                let mut zero = false;
                self.literal_leaves(e, &mut vec![self.ctx.i32_type().const_zero()], &mut leaves, &mut zero);
                if zero {
                    self.zero_fill(slot, &e.ty);
                }
                for (path, v, t) in leaves {
                    let p = unsafe { self.b.build_in_bounds_gep(lt, slot, &path, "").unwrap() };
                    match t {
                        Some(t) => self.copy(p, v.into_pointer_value(), t),
                        None => _ = mem::store(&self.b, p, v),
                    }
                }
            }
            // The callee writes the slot only when it returns (see `terminator`), after it
            // has read all it reads: the slot may be what it reads.
            ExprKind::Call(callee, args) if in_memory(&e.ty) => {
                self.call(callee, args, Some(slot));
            }
            ExprKind::Builtin(Builtin::Fleet(f), args) if in_memory(&e.ty) => self.fleet_call_into(*f, args, slot),
            ExprKind::Builtin(Builtin::Chan(ChanOp::Recv), args) => self.chan_recv_into(args, slot),
            ExprKind::Builtin(Builtin::Table(TableOp::Get), args) => self.table_get_into(args, slot),
            // Other slices (conversions) are built as a value.
            _ if (in_memory(&e.ty) && !matches!(e.ty, Ty::Slice(_))) || crate::hir::check::is_place(e) => {
                let src = self.place(e);
                // Source and destination are the same object or disjoint, as memcpy requires.
                self.copy(slot, src, &e.ty);
            }
            _ => {
                if let Some(v) = self.rvalue(e) {
                    mem::store(&self.b, slot, v);
                }
            }
        }
    }

    /// `*dst = *src` for a value of type `t`.
    fn copy(&mut self, dst: PointerValue<'ctx>, src: PointerValue<'ctx>, t: &Ty) {
        let lt = self.ty(t);
        if lt.is_struct_type() || lt.is_array_type() {
            let align = self.align_of(t);
            let size = self.i64c(self.size_of(t));
            self.b.build_memcpy(dst, align, src, align, size).unwrap();
        } else {
            let v = mem::load(&self.b, lt, src, "");
            mem::store(&self.b, dst, v);
        }
    }

    fn zero_fill(&mut self, slot: PointerValue<'ctx>, t: &Ty) {
        let size = self.i64c(self.size_of(t));
        self.b.build_memset(slot, self.align_of(t), self.ctx.i8_type().const_zero(), size).unwrap();
    }

    /// The scalar (or non-literal) elements of a nested literal with their GEP index paths,
    /// evaluated in order; `zero` is set when some element is implicitly zero. An aggregate
    /// element is evaluated into a temporary, given with its type.
    fn literal_leaves(&mut self, e: &'p Expr, path: &mut Vec<IntValue<'ctx>>, out: &mut Vec<Leaf<'ctx, 'p>>, zero: &mut bool) {
        match &e.kind {
            ExprKind::StructLit(xs) | ExprKind::TupleLit(xs) | ExprKind::ArrayLit(xs) => {
                if let Ty::Array(n, _) = &e.ty {
                    *zero |= (xs.len() as u64) < *n;
                }
                for (i, x) in xs.iter().enumerate() {
                    path.push(self.ctx.i32_type().const_int(i as u64, false));
                    self.literal_leaves(x, path, out, zero);
                    path.pop();
                }
            }
            ExprKind::Zero => *zero = true,
            _ if in_memory(&e.ty) => {
                let tmp = self.alloca(&e.ty, "elem");
                self.store_expr(tmp, e);
                out.push((path.clone(), tmp.into(), Some(&e.ty)));
            }
            _ => {
                if let Some(v) = self.rvalue(e) {
                    out.push((path.clone(), v, None));
                }
            }
        }
    }

    /// The address of a place expression. Non-places are spilled to a temporary.
    fn place(&mut self, e: &'p Expr) -> PointerValue<'ctx> {
        match &e.kind {
            ExprKind::Local(id) => match (self.locals[*id as usize], self.param_vals[*id as usize]) {
                (Some(slot), _) => slot,
                // An unchanged parameter without a slot: a copy where something needs its address.
                (None, v) => {
                    let slot = self.alloca(&e.ty, "");
                    mem::store(&self.b, slot, v.unwrap());
                    slot
                }
            },
            ExprKind::Global(g) if self.prog.globals[*g as usize].via_c_shim => {
                let name = format!("__truk_addr_{}", self.prog.globals[*g as usize].symbol);
                let f = self.rt(&name, &[], Some(self.ptr().into()));
                self.b.build_call(f, &[], "").unwrap().try_as_basic_value().basic().unwrap().into_pointer_value()
            }
            ExprKind::Global(g) => match self.globals[*g as usize] {
                Some(gv) => gv.as_pointer_value(),
                None => self.shared_place(*g),
            },
            ExprKind::Deref(p) => {
                let ptr = self.rvalue(p).unwrap().into_pointer_value();
                if self.nil_checks {
                    self.nil_check(ptr, e.span);
                }
                ptr
            }
            ExprKind::Field(b, i) => {
                let base = self.place(b);
                let bt = self.ty(&b.ty).into_struct_type();
                self.field_gep(bt, base, *i)
            }
            ExprKind::Index(b, i) => self.index_place(e, b, i),
            _ => {
                let slot = self.alloca(&e.ty, "tmp");
                self.store_expr(slot, e);
                slot
            }
        }
    }

    /// The pointer and length of a slice. From a place, each is loaded on its own: a load of
    /// the whole pair would send debug builds to LLVM's slow instruction selector.
    fn slice_parts(&mut self, e: &'p Expr) -> (PointerValue<'ctx>, IntValue<'ctx>) {
        if let Some(parts) = self.param_slice(e) {
            return parts;
        }
        let p = self.slice_place(e);
        let st = self.slice_ty();
        let pp = self.field_gep(st, p, 0);
        let lp = self.field_gep(st, p, 1);
        let ptr = mem::load(&self.b, self.ptr(), pp, "").into_pointer_value();
        let len = mem::load(&self.b, self.ctx.i64_type(), lp, "").into_int_value();
        (ptr, len)
    }

    /// A slice's length (only that loaded from a place).
    fn slice_len(&mut self, e: &'p Expr) -> IntValue<'ctx> {
        if let Some((_, len)) = self.param_slice(e) {
            return len;
        }
        let p = self.slice_place(e);
        let lp = self.field_gep(self.slice_ty(), p, 1);
        mem::load(&self.b, self.ctx.i64_type(), lp, "").into_int_value()
    }

    /// A slice's pointer (only that loaded from a place).
    fn slice_ptr(&mut self, e: &'p Expr) -> PointerValue<'ctx> {
        if let Some((ptr, _)) = self.param_slice(e) {
            return ptr;
        }
        let p = self.slice_place(e);
        mem::load(&self.b, self.ptr(), p, "").into_pointer_value()
    }

    fn slice_place(&mut self, e: &'p Expr) -> PointerValue<'ctx> {
        if crate::hir::check::is_place(e) {
            return self.place(e);
        }
        let tmp = self.alloca(&e.ty, "slice");
        self.store_expr(tmp, e);
        tmp
    }

    /// An unchanged slice parameter's pointer and length (`param_slices`): loaded once, at
    /// the top of the function, where every use follows.
    fn param_slice(&mut self, e: &Expr) -> Option<(PointerValue<'ctx>, IntValue<'ctx>)> {
        let ExprKind::Local(id) = e.kind else { return None };
        if let Some(Some(parts)) = self.param_slices[id as usize] {
            return Some(parts);
        }
        self.param_slices[id as usize]?;
        let p = self.locals[id as usize].unwrap();
        self.position_entry_builder();
        let st = self.slice_ty();
        let lp = self.entry_b.build_struct_gep(st, p, 1, "").unwrap();
        let ptr = mem::load(&self.entry_b, self.ptr(), p, "").into_pointer_value();
        let len = mem::load(&self.entry_b, self.ctx.i64_type(), lp, "").into_int_value();
        self.param_slices[id as usize] = Some(Some((ptr, len)));
        Some((ptr, len))
    }

    /// The address of field `i` of the struct of type `st` at `p`; unoptimized builds leave
    /// out an instruction for field 0, at `p` itself.
    fn field_gep(&self, st: StructType<'ctx>, p: PointerValue<'ctx>, i: u32) -> PointerValue<'ctx> {
        if i == 0 && !self.optimized() {
            return p;
        }
        self.b.build_struct_gep(st, p, i, "").unwrap()
    }

    /// A source place as the runtime takes it: the file's name (one string per file and
    /// module) and `line << 32 | col` as an immediate, which it prints as `FILE:LINE:COL`.
    /// A string per site cost a global and its data at each of thousands of sites.
    pub(super) fn site(&mut self, span: Span) -> [BasicValueEnum<'ctx>; 2] {
        let file = self.sources.file(span.file);
        let name = file.path.display().to_string();
        [self.string(name.as_bytes()).into(), self.line_col(span).into()]
    }

    fn line_col(&self, span: Span) -> IntValue<'ctx> {
        let (line, col) = self.sources.file(span.file).line_col(span.lo);
        self.i64c((line as u64).min(u32::MAX as u64) << 32 | (col as u64).min(u32::MAX as u64))
    }

    fn rvalue(&mut self, e: &'p Expr) -> Option<BasicValueEnum<'ctx>> {
        let v: BasicValueEnum<'ctx> = match &e.kind {
            ExprKind::Int(v) => match self.ty(&e.ty) {
                BasicTypeEnum::IntType(t) => t.const_int(*v as u64, false).into(),
                BasicTypeEnum::FloatType(t) => t.const_float(*v as f64).into(),
                other => other.const_zero(),
            },
            ExprKind::Float(v) => self.ty(&e.ty).into_float_type().const_float(*v).into(),
            ExprKind::Bool(b) => self.ctx.bool_type().const_int(*b as u64, false).into(),
            ExprKind::Str(s) => self.string(s).into(),
            ExprKind::Nil | ExprKind::Zero => self.ty(&e.ty).const_zero(),
            ExprKind::Local(id) if self.param_vals[*id as usize].is_some() => self.param_vals[*id as usize].unwrap(),
            // A field of a value that is not a place reads it from a temporary.
            ExprKind::Local(_) | ExprKind::Global(_) | ExprKind::Deref(_) | ExprKind::Index(..) | ExprKind::Field(..) => {
                let p = self.place(e);
                mem::load(&self.b, self.ty(&e.ty), p, "")
            }
            ExprKind::Func(f) => self.func_value(*f).into(),
            ExprKind::Binary(op, a, b) => return Some(self.binary(*op, a, b, e.span)),
            ExprKind::Unary(op, x) => {
                let v = self.rvalue(x).unwrap();
                match op {
                    UnOp::Neg if v.is_float_value() => self.b.build_float_neg(v.into_float_value(), "").unwrap().into(),
                    UnOp::Neg => self.b.build_int_neg(v.into_int_value(), "").unwrap().into(),
                    UnOp::Not | UnOp::BitNot => self.b.build_not(v.into_int_value(), "").unwrap().into(),
                }
            }
            ExprKind::AddrOf(p) => self.place(p).into(),
            ExprKind::Call(callee, args) => {
                let v = self.call(callee, args, None);
                if !in_memory(&e.ty) {
                    return v;
                }
                mem::load(&self.b, self.ty(&e.ty), v.unwrap().into_pointer_value(), "")
            }
            ExprKind::MapIndex(m, k) | ExprKind::MapSlot(m, k) => {
                let op = if matches!(e.kind, ExprKind::MapIndex(..)) { map::MapOp::Get } else { map::MapOp::Upsert };
                return self.map_call(op, m, k);
            }
            ExprKind::Cast(x) => return Some(self.cast(x, &e.ty)),
            ExprKind::StructLit(fields) | ExprKind::TupleLit(fields) => {
                let st = self.ty(&e.ty).into_struct_type();
                let mut agg = st.get_undef();
                for (i, f) in fields.iter().enumerate() {
                    let v = self.rvalue(f).unwrap();
                    let v = mem::to_mem(&self.b, v);
                    agg = self.b.build_insert_value(agg, v, i as u32, "").unwrap().into_struct_value();
                }
                agg.into()
            }
            ExprKind::ArrayLit(elems) => {
                let at = self.ty(&e.ty).into_array_type();
                let mut agg = at.const_zero();
                for (i, x) in elems.iter().enumerate() {
                    let v = self.rvalue(x).unwrap();
                    let v = mem::to_mem(&self.b, v);
                    agg = self.b.build_insert_value(agg, v, i as u32, "").unwrap().into_array_value();
                }
                agg.into()
            }
            ExprKind::Builtin(b, args) => return self.builtin(b, args),
        };
        Some(v)
    }

    fn binary(&mut self, op: BinOp, a: &'p Expr, b: &'p Expr, span: Span) -> BasicValueEnum<'ctx> {
        let l = self.rvalue(a).unwrap();
        let r = self.rvalue(b).unwrap();
        if op.is_comparison() {
            return self.compare(op, l, r, &a.ty).into();
        }
        self.arith(op, l, r, &a.ty, span)
    }

    fn compare(&mut self, op: BinOp, l: BasicValueEnum<'ctx>, r: BasicValueEnum<'ctx>, ty: &Ty) -> IntValue<'ctx> {
        if l.is_float_value() {
            let p = match op {
                BinOp::Eq => FloatPredicate::OEQ,
                BinOp::Ne => FloatPredicate::UNE,
                BinOp::Lt => FloatPredicate::OLT,
                BinOp::Le => FloatPredicate::OLE,
                BinOp::Gt => FloatPredicate::OGT,
                _ => FloatPredicate::OGE,
            };
            return self.b.build_float_compare(p, l.into_float_value(), r.into_float_value(), "").unwrap();
        }
        let signed = match ty {
            Ty::Enum(id) => self.prog.enums[*id as usize].base.is_signed(),
            t => t.is_signed(),
        };
        let p = match (op, signed) {
            (BinOp::Eq, _) => IntPredicate::EQ,
            (BinOp::Ne, _) => IntPredicate::NE,
            (BinOp::Lt, true) => IntPredicate::SLT,
            (BinOp::Lt, false) => IntPredicate::ULT,
            (BinOp::Le, true) => IntPredicate::SLE,
            (BinOp::Le, false) => IntPredicate::ULE,
            (BinOp::Gt, true) => IntPredicate::SGT,
            (BinOp::Gt, false) => IntPredicate::UGT,
            (_, true) => IntPredicate::SGE,
            (_, false) => IntPredicate::UGE,
        };
        if l.is_pointer_value() {
            let (lp, rp) = (l.into_pointer_value(), r.into_pointer_value());
            let i = self.ctx.i64_type();
            let li = self.b.build_ptr_to_int(lp, i, "").unwrap();
            let ri = self.b.build_ptr_to_int(rp, i, "").unwrap();
            return self.b.build_int_compare(p, li, ri, "").unwrap();
        }
        self.b.build_int_compare(p, l.into_int_value(), r.into_int_value(), "").unwrap()
    }

    /// `l op r`; `span` is where a division's panic points.
    fn arith(&mut self, op: BinOp, l: BasicValueEnum<'ctx>, r: BasicValueEnum<'ctx>, ty: &Ty, span: Span) -> BasicValueEnum<'ctx> {
        let b = &self.b;
        if l.is_float_value() {
            let (x, y) = (l.into_float_value(), r.into_float_value());
            return match op {
                BinOp::Add => b.build_float_add(x, y, ""),
                BinOp::Sub => b.build_float_sub(x, y, ""),
                BinOp::Mul => b.build_float_mul(x, y, ""),
                BinOp::Div => b.build_float_div(x, y, ""),
                _ => b.build_float_rem(x, y, ""),
            }
            .unwrap()
            .into();
        }
        let (x, y) = (l.into_int_value(), r.into_int_value());
        let signed = ty.is_signed();
        match op {
            BinOp::Add => b.build_int_add(x, y, ""),
            BinOp::Sub => b.build_int_sub(x, y, ""),
            BinOp::Mul => b.build_int_mul(x, y, ""),
            BinOp::Div | BinOp::Rem => {
                self.div_check(op, x, y, signed, span);
                let b = &self.b;
                match (op, signed) {
                    (BinOp::Div, true) => b.build_int_signed_div(x, y, ""),
                    (BinOp::Div, false) => b.build_int_unsigned_div(x, y, ""),
                    (_, true) => b.build_int_signed_rem(x, y, ""),
                    (_, false) => b.build_int_unsigned_rem(x, y, ""),
                }
            }
            // `&&` and `||` are branches in MIR; on plain bools they are these operators.
            BinOp::BitAnd | BinOp::And => b.build_and(x, y, ""),
            BinOp::BitOr | BinOp::Or => b.build_or(x, y, ""),
            BinOp::BitXor => b.build_xor(x, y, ""),
            BinOp::Shl => b.build_left_shift(x, y, ""),
            _ => b.build_right_shift(x, y, signed, ""),
        }
        .unwrap()
        .into()
    }

    /// Integer division by zero, and signed division of the type's minimum by -1 (the
    /// quotient does not fit; x86 traps), are panics, not undefined behaviour.
    fn div_check(&mut self, op: BinOp, x: IntValue<'ctx>, y: IntValue<'ctx>, signed: bool, span: Span) {
        let t = y.get_type();
        let by_zero = self.b.build_int_compare(IntPredicate::EQ, y, t.const_zero(), "").unwrap();
        self.panic_if(by_zero, "__truk_div_fail", &[], span);
        if signed {
            let bits = t.get_bit_width();
            let by_minus_one = self.b.build_int_compare(IntPredicate::EQ, y, t.const_all_ones(), "").unwrap();
            if by_minus_one.get_zero_extended_constant() == Some(0) {
                return;
            }
            let min = t.const_int(1u64 << (bits - 1), false);
            let is_min = self.b.build_int_compare(IntPredicate::EQ, x, min, "").unwrap();
            let overflow = self.b.build_and(is_min, by_minus_one, "").unwrap();
            // The runtime writes the message from the width and the operator.
            let i32t = self.ctx.i32_type();
            let how = [i32t.const_int(bits as u64, false).into(), i32t.const_int(op.symbol().as_bytes()[0] as u64, false).into()];
            self.panic_if(overflow, "__truk_div_overflow", &how, span);
        }
    }

    /// Branch to a call of the runtime's `failure` when `bad` holds, with `args`
    /// and then the site of `span`.
    fn panic_if(&mut self, bad: IntValue<'ctx>, failure: &'static str, args: &[BasicValueEnum<'ctx>], span: Span) {
        if bad.get_zero_extended_constant() == Some(0) {
            // Known not to fail (a constant divisor other than 0 and -1): no blocks, no
            // message, less IR for every later stage.
            return;
        }
        self.fail_if(bad, true, ("panic", "ok"), failure, args, Some(span));
    }

    fn cast(&mut self, x: &'p Expr, to: &Ty) -> BasicValueEnum<'ctx> {
        let from = self.resolve_enum(&x.ty);
        let to_r = self.resolve_enum(to);
        match (&from, &to_r) {
            (Ty::Array(_, _), Ty::Ptr(_)) => return self.place(x).into(),
            (Ty::Slice(_), Ty::Ptr(_)) => return self.slice_ptr(x).into(),
            // An array literal passed for a slice: a temporary of the statement (see check).
            (Ty::Array(n, _), Ty::Slice(_)) => {
                let p = self.place(x);
                let s = self.slice_ty().get_undef();
                let s = self.b.build_insert_value(s, p, 0, "").unwrap();
                return self.b.build_insert_value(s, self.i64c(*n), 1, "").unwrap().into_struct_value().into();
            }
            (Ty::Ptr(_), Ty::Slice(_)) if matches!(x.kind, ExprKind::Str(_)) => {
                let ExprKind::Str(s) = &x.kind else { unreachable!() };
                let p = self.string(s);
                return self.make_slice(p, self.i64c(s.len() as u64));
            }
            _ => {}
        }
        let v = self.rvalue(x).unwrap();
        let tt = self.ty(&to_r);
        let b = &self.b;
        match (&from, &to_r) {
            (Ty::Int { .. }, Ty::Int { .. }) => b.build_int_cast_sign_flag(v.into_int_value(), tt.into_int_type(), from.is_signed(), "").unwrap().into(),
            (Ty::Bool, Ty::Int { .. }) => b.build_int_z_extend(v.into_int_value(), tt.into_int_type(), "").unwrap().into(),
            (Ty::Int { .. }, Ty::Bool) => {
                let z = v.into_int_value().get_type().const_zero();
                b.build_int_compare(IntPredicate::NE, v.into_int_value(), z, "").unwrap().into()
            }
            (Ty::Float { .. }, Ty::Bool) => {
                let z = v.into_float_value().get_type().const_zero();
                b.build_float_compare(FloatPredicate::UNE, v.into_float_value(), z, "").unwrap().into()
            }
            (Ty::Bool, Ty::Float { .. }) => b.build_unsigned_int_to_float(v.into_int_value(), tt.into_float_type(), "").unwrap().into(),
            (Ty::Int { signed: true, .. }, Ty::Float { .. }) => b.build_signed_int_to_float(v.into_int_value(), tt.into_float_type(), "").unwrap().into(),
            (Ty::Int { .. }, Ty::Float { .. }) => b.build_unsigned_int_to_float(v.into_int_value(), tt.into_float_type(), "").unwrap().into(),
            (Ty::Float { .. }, Ty::Int { signed: true, .. }) => b.build_float_to_signed_int(v.into_float_value(), tt.into_int_type(), "").unwrap().into(),
            (Ty::Float { .. }, Ty::Int { .. }) => b.build_float_to_unsigned_int(v.into_float_value(), tt.into_int_type(), "").unwrap().into(),
            (Ty::Float { .. }, Ty::Float { .. }) => b.build_float_cast(v.into_float_value(), tt.into_float_type(), "").unwrap().into(),
            (Ty::Int { .. }, _) if tt.is_pointer_type() => b.build_int_to_ptr(v.into_int_value(), tt.into_pointer_type(), "").unwrap().into(),
            (_, Ty::Int { .. }) if v.is_pointer_value() => b.build_ptr_to_int(v.into_pointer_value(), tt.into_int_type(), "").unwrap().into(),
            _ => v,
        }
    }

    fn resolve_enum(&self, t: &Ty) -> Ty {
        match t {
            Ty::Enum(id) => self.prog.enums[*id as usize].base.clone(),
            t => t.clone(),
        }
    }

    /// An argument `v` of type `t` as a parameter takes it (see [`widened`]).
    pub(crate) fn widen_arg(&self, v: BasicValueEnum<'ctx>, t: &Ty) -> BasicMetadataValueEnum<'ctx> {
        match (v, widened(v.get_type())) {
            (BasicValueEnum::IntValue(i), BasicTypeEnum::IntType(w)) if w != i.get_type() => {
                let signed = self.resolve_enum(t).is_signed();
                self.b.build_int_cast_sign_flag(i, w, signed, "").unwrap().into()
            }
            _ => v.into(),
        }
    }

    /// A call. A result that lives in memory (see [`in_memory`]) goes to `dest`, or to a
    /// temporary whose pointer is returned.
    fn call(&mut self, callee: &'p Expr, args: &'p [Expr], dest: Option<PointerValue<'ctx>>) -> Option<BasicValueEnum<'ctx>> {
        let (params, ret, c_variadic) = match &callee.ty {
            Ty::Fn { params, ret, c_variadic } => (params.to_vec(), (**ret).clone(), *c_variadic),
            _ => unreachable!("call of a non-function passed the checker"),
        };
        let direct = match callee.kind {
            ExprKind::Func(f) => Some(f),
            _ => None,
        };
        let truk_var = direct.map(|f| self.prog.funcs[f as usize].variadic == Variadic::Truk).unwrap_or(false);
        let c_abi = direct.is_some_and(|f| self.prog.funcs[f as usize].is_extern);
        let result = in_memory(&ret).then(|| dest.unwrap_or_else(|| self.alloca(&ret, "ret")));
        let mut vals: Vec<BasicMetadataValueEnum> = vec![];
        if let (Some(slot), false) = (result, c_abi) {
            vals.push(slot.into());
        }
        for a in &args[..params.len().min(args.len())] {
            if matches!(a.ty, Ty::Array(..)) {
                vals.push(self.place(a).into());
            } else if in_memory(&a.ty) && !c_abi {
                // The callee may change its parameter: it gets a copy.
                let copy = self.alloca(&a.ty, "arg");
                self.store_expr(copy, a);
                vals.push(copy.into());
            } else if let (Some(c_ty), true) = (self.c_int_pair(&a.ty), c_abi) {
                let src = self.place(a);
                let tmp = self.c_pair_slot();
                vals.push(self.to_c_int_pair(&self.b, src, &a.ty, c_ty, tmp).into());
            } else {
                let v = self.rvalue(a).unwrap();
                vals.push(self.widen_arg(v, &a.ty));
            }
        }
        let extra = &args[params.len().min(args.len())..];
        if truk_var {
            // Truk varargs: 8-byte slots in a caller-owned array, passed as a hidden argument.
            let n = extra.len().max(1) as u32;
            let arr = self.alloca(&Ty::Array(n as u64, Box::new(Ty::Int { signed: true, bits: 64 })), "va");
            for (i, a) in extra.iter().enumerate() {
                let v = self.rvalue(a).unwrap();
                // Widen to the full slot so any __TRUK_VA_ARG_* width reads a sound value.
                let v: BasicValueEnum = if v.is_int_value() {
                    self.b.build_int_cast_sign_flag(v.into_int_value(), self.ctx.i64_type(), a.ty.is_signed(), "").unwrap().into()
                } else if v.is_float_value() {
                    self.b.build_float_ext(v.into_float_value(), self.ctx.f64_type(), "").unwrap().into()
                } else {
                    v
                };
                let slot = unsafe { self.b.build_in_bounds_gep(self.ctx.i64_type(), arr, &[self.i64c(i as u64)], "").unwrap() };
                mem::store(&self.b, slot, v);
            }
            vals.push(arr.into());
        } else {
            for a in extra {
                vals.push(self.rvalue(a).unwrap().into());
            }
        }
        if direct.is_some_and(|f| is_test_framework_call(&self.prog.funcs[f as usize].name)) {
            // A failed assertion names its call site.
            let [file, line_col] = self.site(callee.span);
            let at = self.rt("__truk_test_at", &[self.ptr().into(), self.ctx.i64_type().into()], None);
            self.b.build_call(at, &[file.into(), line_col.into()], "").unwrap();
        }
        let call = match direct {
            Some(f) => {
                let fv = self.func(f);
                self.b.build_call(fv, &vals, "").unwrap()
            }
            None => {
                let fp = self.rvalue(callee).unwrap().into_pointer_value();
                let fty = self.fn_type(&params, &ret, if c_variadic { Variadic::C } else { Variadic::None }, false);
                self.b.build_indirect_call(fty, fp, &vals, "").unwrap()
            }
        };
        let v = call.try_as_basic_value().basic();
        match result {
            Some(slot) => {
                match v {
                    // A C function's aggregate result, by value.
                    Some(v) if self.c_int_pair(&ret).is_some() => {
                        let tmp = self.c_pair_slot();
                        self.from_c_int_pair(&self.b, v, slot, &ret, tmp);
                    }
                    Some(v) => _ = mem::store(&self.b, slot, v),
                    None => {}
                }
                Some(slot.into())
            }
            None => v,
        }
    }

    fn builtin(&mut self, b: &'p Builtin, args: &'p [Expr]) -> Option<BasicValueEnum<'ctx>> {
        let i64t = self.ctx.i64_type();
        let ptr = self.ptr();
        match b {
            Builtin::MakeOne(t) => {
                let size = self.i64c(self.size_of(t).max(1));
                let p = match self.libc_fn("malloc", ptr.fn_type(&[i64t.into()], false)) {
                    Some(malloc) => {
                        let call = self.b.build_call(malloc, &[size.into()], "").unwrap();
                        let p = call.try_as_basic_value().basic().unwrap().into_pointer_value();
                        self.check_allocated(p);
                        p
                    }
                    None => {
                        let f = self.rt("__truk_new", &[i64t.into()], Some(ptr.into()));
                        self.b.build_call(f, &[size.into()], "").unwrap().try_as_basic_value().basic().unwrap().into_pointer_value()
                    }
                };
                self.b.build_memset(p, self.align_of(t).min(16), self.ctx.i8_type().const_zero(), size).unwrap();
                Some(p.into())
            }
            Builtin::MakeSlice(t) => {
                let (p, n) = self.alloc_slice(t, &args[0]);
                Some(self.make_slice(p, n))
            }
            Builtin::MakeMap(k, v) => {
                let kind = match **k {
                    Ty::Float { .. } => 1,
                    Ty::Ptr(_) => 2,
                    _ => 0,
                };
                let ksize = if **k == Ty::Bool { 1 } else { self.size_of(k) };
                let f = self.rt("__truk_map_new", &[self.ctx.i32_type().into(), i64t.into(), i64t.into()], Some(ptr.into()));
                let args = [self.ctx.i32_type().const_int(kind, false).into(), self.i64c(ksize).into(), self.i64c(self.size_of(v)).into()];
                self.b.build_call(f, &args, "").unwrap().try_as_basic_value().basic()
            }
            Builtin::Free => {
                let p: BasicValueEnum = match args[0].ty {
                    Ty::Slice(_) => self.slice_ptr(&args[0]).into(),
                    _ => self.rvalue(&args[0]).unwrap(),
                };
                let f = self.libc_fn("free", self.ctx.void_type().fn_type(&[ptr.into()], false));
                let f = f.unwrap_or_else(|| self.rt("__truk_free", &[ptr.into()], None));
                self.b.build_call(f, &[p.into()], "").unwrap();
                None
            }
            Builtin::FreeMap => {
                let v = self.rvalue(&args[0]).unwrap();
                let f = self.rt("__truk_map_free", &[ptr.into()], None);
                self.b.build_call(f, &[v.into()], "").unwrap();
                None
            }
            Builtin::MapRemove => {
                self.map_call(map::MapOp::Remove, &args[0], &args[1]);
                None
            }
            Builtin::Len => Some(self.slice_len(&args[0]).into()),
            Builtin::SizeOf(t) => Some(self.i64c(self.size_of(t)).into()),
            Builtin::Panic => {
                // Only where a value was expected; as a statement it is a MIR terminator.
                if let Some(msg) = args.first() {
                    self.panic(msg);
                }
                None
            }
            // Lowered to loops in MIR.
            Builtin::EachMap | Builtin::EachSlice | Builtin::EachStr => None,
            Builtin::Atomic(op) => self.atomic(*op, args),
            Builtin::Fleet(f) => self.fleet_call(*f, args),
            Builtin::Chan(op) => self.chan_call(*op, args),
            Builtin::Table(op) => self.table_call(*op, args),
            Builtin::VaArg(t) => {
                let (base, cursor) = self.va.expect("checker allows va_arg only in variadic functions");
                let i = mem::load(&self.b, i64t, cursor, "").into_int_value();
                let slot = unsafe { self.b.build_in_bounds_gep(i64t, base, &[i], "").unwrap() };
                let next = self.b.build_int_add(i, self.i64c(1), "").unwrap();
                mem::store(&self.b, cursor, next);
                Some(mem::load(&self.b, self.ty(t), slot, ""))
            }
        }
    }

    /// Call the runtime's panic with a string or a C string message.
    fn panic(&mut self, msg: &'p Expr) {
        let (ptr, i64t) = (self.ptr(), self.ctx.i64_type());
        if let Ty::Slice(_) = msg.ty {
            let (p, n) = self.slice_parts(msg);
            let f = self.rt("__truk_panic", &[ptr.into(), i64t.into()], None);
            self.b.build_call(f, &[p.into(), n.into()], "").unwrap();
        } else if let Some(v) = self.rvalue(msg) {
            let f = self.rt("__truk_panic_cstr", &[ptr.into()], None);
            self.b.build_call(f, &[v.into()], "").unwrap();
        }
    }

    /// `make(@T, n)`: the new elements and their count.
    fn alloc_slice(&mut self, t: &Ty, n: &'p Expr) -> (PointerValue<'ctx>, IntValue<'ctx>) {
        let (ptr, i64t) = (self.ptr(), self.ctx.i64_type());
        let n = self.rvalue(n).unwrap().into_int_value();
        let f = self.rt("__truk_alloc_array", &[i64t.into(), i64t.into()], Some(ptr.into()));
        let size = self.i64c(self.size_of(t));
        let p = self.b.build_call(f, &[size.into(), n.into()], "").unwrap().try_as_basic_value().basic().unwrap();
        (p.into_pointer_value(), n)
    }

    fn make_slice(&self, p: PointerValue<'ctx>, n: IntValue<'ctx>) -> BasicValueEnum<'ctx> {
        let st = self.slice_ty();
        let s = self.b.build_insert_value(st.get_undef(), p, 0, "").unwrap();
        self.b.build_insert_value(s, n, 1, "").unwrap().into_struct_value().into()
    }
}

/// The test framework's assertions and `__truk_test_fail` (`std/testing.truk`).
fn is_test_framework_call(name: &str) -> bool {
    name.starts_with("__truk_test_assert_") || name == "__truk_test_fail"
}

fn const_array<'ctx>(elem: BasicTypeEnum<'ctx>, vals: &[BasicValueEnum<'ctx>]) -> BasicValueEnum<'ctx> {
    match elem {
        BasicTypeEnum::IntType(t) => t.const_array(&vals.iter().map(|v| v.into_int_value()).collect::<Vec<_>>()).into(),
        BasicTypeEnum::FloatType(t) => t.const_array(&vals.iter().map(|v| v.into_float_value()).collect::<Vec<_>>()).into(),
        BasicTypeEnum::PointerType(t) => t.const_array(&vals.iter().map(|v| v.into_pointer_value()).collect::<Vec<_>>()).into(),
        BasicTypeEnum::StructType(t) => t.const_array(&vals.iter().map(|v| v.into_struct_value()).collect::<Vec<_>>()).into(),
        BasicTypeEnum::ArrayType(t) => t.const_array(&vals.iter().map(|v| v.into_array_value()).collect::<Vec<_>>()).into(),
        BasicTypeEnum::VectorType(t) => t.const_array(&vals.iter().map(|v| v.into_vector_value()).collect::<Vec<_>>()).into(),
        BasicTypeEnum::ScalableVectorType(t) => t.const_array(&vals.iter().map(|v| v.into_scalable_vector_value()).collect::<Vec<_>>()).into(),
    }
}

/// `*n`, then one more in it.
fn post_inc(n: &mut u32) -> u32 {
    *n += 1;
    *n - 1
}
