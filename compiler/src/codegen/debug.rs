//! DWARF line tables: one compile unit per module (named after the entry file), a file per
//! Truk source, a subprogram per Truk function (its Truk name, with the symbol as linkage
//! name), and on each emitted instruction the location of the MIR statement or terminator
//! it belongs to: breakpoints, backtraces and stepping. Variables and their types are in
//! `debug_types.rs`.
//! `__truk_main` gets an artificial subprogram with line-0 locations; the fleet initializer
//! calls nothing and has no debug info at all.

use std::path::Path;

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::debug_info::{
    AsDIScope, DIFile, DIFlags, DIFlagsConstants, DIScope, DISubroutineType, DWARFEmissionKind,
    DWARFSourceLanguage, DebugInfoBuilder,
};
use inkwell::module::{FlagBehavior, Module};
use inkwell::values::FunctionValue;

use crate::diag::{SourceMap, Span};

/// What debug information a module gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugInfo {
    None,
    /// Line tables; `optimized` marks the compile unit as built by the O2 pipeline.
    Lines { optimized: bool },
}

/// DWARF 5, whose sections are smaller than 4's, with fewer relocations (10k lines of
/// `bench/compile`: 112 KB of debug sections rather than 124; 2.6 M fewer instructions in
/// codegen, 1.7 M in gold). The compile unit has no name tables (`finalize`): LLVM would add
/// a `.debug_names` index, and gdb, trusting the linked index, would not see the C runtime's
/// units.
const DWARF_VERSION: u64 = 5;

pub struct Dwarf<'ctx> {
    pub(super) ctx: &'ctx Context,
    pub(super) dib: DebugInfoBuilder<'ctx>,
    /// The entry file, the compile unit's.
    pub(super) cu_file: DIFile<'ctx>,
    /// Indexed by `SourceMap` file id, created on first use.
    pub(super) files: Vec<Option<DIFile<'ctx>>>,
    /// One untyped signature serves every function: line tables need no types.
    fn_ty: DISubroutineType<'ctx>,
    /// Folder that relative source paths are relative to.
    dir: String,
    optimized: bool,
    /// The subprogram of the function being emitted (`None` in generated functions).
    pub(super) scope: Option<DIScope<'ctx>>,
    /// The file of that function: a location's line is read in its subprogram's file.
    pub(super) fn_file: u32,
    /// The last (line, column) set, so a run of statements on one line sets it once.
    last: (u32, u32),
    /// The types of variables (`debug_types.rs`).
    pub(super) types: super::debug_types::DebugTypes<'ctx>,
    /// The lexical blocks of the function being emitted that declare variables.
    pub(super) blocks: Vec<(Span, DIScope<'ctx>)>,
    /// The module the compile unit is in.
    module: inkwell::llvm_sys::prelude::LLVMModuleRef,
}

impl<'ctx> Dwarf<'ctx> {
    pub fn new(ctx: &'ctx Context, module: &Module<'ctx>, sources: &SourceMap, optimized: bool) -> Dwarf<'ctx> {
        let i32t = ctx.i32_type();
        module.add_basic_value_flag("Dwarf Version", FlagBehavior::Warning, i32t.const_int(DWARF_VERSION, false));
        let version = inkwell::debug_info::debug_metadata_version() as u64;
        module.add_basic_value_flag("Debug Info Version", FlagBehavior::Warning, i32t.const_int(version, false));
        let dir = std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
        let entry = sources.files.first().map(|f| f.path.as_path()).unwrap_or(Path::new("main.truk"));
        let (name, file_dir) = split(entry, &dir);
        let producer = format!("truk {}", crate::driver::build::COMPILER_VERSION);
        let (dib, cu) = module.create_debug_info_builder(
            true,
            DWARFSourceLanguage::C,
            &name,
            &file_dir,
            &producer,
            optimized,
            "",
            0,
            "",
            // Not `LineTablesOnly`: that emits no subprograms, so gdb would know no `main`.
            DWARFEmissionKind::Full,
            0,
            false,
            false,
            "",
            "",
        );
        let fn_ty = dib.create_subroutine_type(cu.get_file(), None, &[], DIFlags::ZERO);
        let mut files = vec![None; sources.files.len()];
        if let Some(f) = files.first_mut() {
            *f = Some(cu.get_file());
        }
        Dwarf { ctx, dib, cu_file: cu.get_file(), files, fn_ty, dir, optimized, scope: None, fn_file: 0, last: (0, 0), types: Default::default(), blocks: vec![], module: module.as_mut_ptr() }
    }

    fn file(&mut self, sources: &SourceMap, id: u32) -> DIFile<'ctx> {
        if let Some(Some(f)) = self.files.get(id as usize) {
            return *f;
        }
        let (name, dir) = split(&sources.file(id).path, &self.dir);
        let f = self.dib.create_file(&name, &dir);
        if let Some(slot) = self.files.get_mut(id as usize) {
            *slot = Some(f);
        }
        f
    }

    /// Start a Truk function: its subprogram.
    pub fn begin_function(&mut self, b: &Builder<'ctx>, fv: FunctionValue<'ctx>, name: &str, symbol: &str, sources: &SourceMap, span: Span) {
        let file = self.file(sources, span.file);
        let (line, _) = sources.file(span.file).line_col(span.lo);
        let line = line as u32;
        // gdb names a C function by its linkage name: the user's `main` (symbol
        // `truk_main`) must stay `main` for `break main`.
        let linkage = if name == "main" { None } else { Some(symbol) };
        let sp = self.dib.create_function(
            file.as_debug_info_scope(),
            name,
            linkage,
            file,
            line,
            self.fn_ty,
            true,
            true,
            line,
            DIFlags::PROTOTYPED,
            self.optimized,
        );
        fv.set_subprogram(sp);
        self.scope = Some(sp.as_debug_info_scope());
        self.fn_file = span.file;
        self.last = (0, 0);
        // As clang does: the parameter stores carry no location, so the first statement is
        // where the prologue ends and where `break FUNCTION` stops.
        b.unset_current_debug_location();
    }

    /// Start a generated function (`__truk_main`): an artificial subprogram at line 0. Without
    /// one, the optimizer would inline Truk functions into a function that has no debug info,
    /// and their lines would be lost.
    pub fn begin_generated(&mut self, b: &Builder<'ctx>, fv: FunctionValue<'ctx>, name: &str) {
        let file = self.cu_file;
        let sp = self.dib.create_function(file.as_debug_info_scope(), name, None, file, 0, self.fn_ty, false, true, 0, DIFlags::ARTIFICIAL, self.optimized);
        fv.set_subprogram(sp);
        self.scope = None;
        b.set_current_debug_location(self.dib.create_debug_location(self.ctx, 0, 0, sp.as_debug_info_scope(), None));
    }

    /// Generated code follows: its instructions carry no location.
    pub fn end_function(&mut self, b: &Builder<'ctx>) {
        self.scope = None;
        b.unset_current_debug_location();
    }

    /// Give the instructions built from here on the location of `span`.
    pub fn at(&mut self, b: &Builder<'ctx>, sources: &SourceMap, span: Span) {
        let Some(scope) = self.scope else { return };
        if span.file != self.fn_file {
            return;
        }
        let (line, col) = sources.file(span.file).line_col(span.lo);
        let lc = (line as u32, col as u32);
        if lc == self.last {
            return;
        }
        self.last = lc;
        let scope = self.block_at(span).unwrap_or(scope);
        let loc = self.dib.create_debug_location(self.ctx, lc.0, lc.1, scope, None);
        b.set_current_debug_location(loc);
    }

    pub fn finalize(&self) {
        self.dib.finalize();
        // SAFETY: the module is live (it outlives its emitter and so this builder); the call
        // replaces the compile unit's metadata in it, after the builder is done with it.
        unsafe { truk_no_name_tables(self.module) };
    }
}

extern "C" {
    /// `compiler/llvm-shim/shim.cpp`: the compile units get no name tables.
    fn truk_no_name_tables(module: inkwell::llvm_sys::prelude::LLVMModuleRef);
}

/// A source path as DWARF wants it: (name, folder). Relative paths stay as the user gave
/// them, relative to the compilation folder, as C compilers record them.
fn split(path: &Path, cwd: &str) -> (String, String) {
    if path.is_absolute() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = path.parent().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
        (name, dir)
    } else {
        (path.to_string_lossy().into_owned(), cwd.to_string())
    }
}
