//! Debug info for variables: the DWARF type of each Truk type, a variable for each named
//! local and parameter (declared on its entry-block slot), and one for each global. Layouts
//! (sizes, field offsets) are MIR's, so gdb reads exactly the bytes the program writes.
//!
//! How each type looks to gdb: integers, floats and `bool` are base types; pointers,
//! arrays, structs and enums are their C counterparts; a slice is a struct `{ptr, len}`;
//! a tuple a struct with members `_0`, `_1`...; a map a pointer to an opaque struct;
//! a function value a pointer to `void`; `Mutex`, `chan` and `table` structs of their size
//! without members. Shared variables live in the fleet's region, at an address known only
//! at run time: they are the members of one variable `shared`, read through the region's
//! base pointer.

use std::collections::HashMap;

use inkwell::debug_info::{AsDIScope, DIDerivedType, DIFlags, DIFlagsConstants, DIScope, DIType};
use inkwell::llvm_sys::debuginfo::LLVMDIBuilderInsertDeclareRecordAtEnd;
use inkwell::values::AsValueRef;
use inkwell::AddressSpace;

use super::debug::Dwarf;
use super::{in_memory, mem, Emitter, HEAP_LOCAL_MIN};
use crate::hir::ty::{ty_name, I64};
use crate::diag::Span;
use crate::hir::*;
use crate::mir;

const DW_ATE_BOOLEAN: u32 = 0x02;
const DW_ATE_FLOAT: u32 = 0x04;
const DW_ATE_SIGNED: u32 = 0x05;
const DW_ATE_UNSIGNED: u32 = 0x08;
const DW_OP_DEREF: i64 = 0x06;

/// The DWARF types made so far, per Truk type.
#[derive(Default)]
pub struct DebugTypes<'ctx> {
    made: HashMap<Ty, DIType<'ctx>>,
    /// Structs whose members are being described, each with the placeholder that stands for
    /// a pointer to it until it is complete (a struct may point to itself).
    building: HashMap<StructId, Option<DIDerivedType<'ctx>>>,
}

/// What making a type needs: the builder, and the program's types and layouts.
struct TypeMaker<'a, 'ctx> {
    d: &'a mut Dwarf<'ctx>,
    prog: &'a Program,
    layouts: &'a mir::Layouts,
    sources: &'a crate::diag::SourceMap,
}

impl<'ctx> TypeMaker<'_, 'ctx> {
    fn name(&self, t: &Ty) -> String {
        ty_name(self.prog, t)
    }

    fn bits(&self, t: &Ty) -> u64 {
        self.layouts.size_of(t).saturating_mul(8)
    }

    fn basic(&self, name: &str, bits: u64, encoding: u32) -> DIType<'ctx> {
        self.d.dib.create_basic_type(name, bits, encoding, DIFlags::ZERO).expect("named").as_type()
    }

    fn pointer(&self, to: DIType<'ctx>) -> DIType<'ctx> {
        let bits = self.layouts.size_of(&Ty::ptr(Ty::Void)) * 8;
        self.d.dib.create_pointer_type("", to, bits, 0, AddressSpace::default()).as_type()
    }

    /// A struct type named `name` of `t`'s size with `members` (name, type, byte offset).
    fn composite(&mut self, name: &str, t: &Ty, members: &[(String, Ty, u64)], line: u32) -> DIType<'ctx> {
        let (bytes, align) = (self.layouts.size_of(t), self.layouts.align_of(t));
        self.struct_of(name, bytes, align, members, line)
    }

    fn struct_of(&mut self, name: &str, bytes: u64, align: u64, members: &[(String, Ty, u64)], line: u32) -> DIType<'ctx> {
        let file = self.d.cu_file;
        let scope = file.as_debug_info_scope();
        let elements: Vec<DIType<'ctx>> = members
            .iter()
            .map(|(mname, mt, off)| {
                let mty = self.ty(mt);
                let bits = self.bits(mt);
                self.d.dib.create_member_type(scope, mname, file, line, bits, 0, off * 8, DIFlags::ZERO, mty).as_type()
            })
            .collect();
        self.d.dib.create_struct_type(scope, name, file, line, bytes * 8, align as u32 * 8, DIFlags::ZERO, None, &elements, 0, None, "").as_type()
    }

    fn ty(&mut self, t: &Ty) -> DIType<'ctx> {
        if let Some(made) = self.d.types.made.get(t) {
            return *made;
        }
        // A pointer to a struct being described waits for it behind a placeholder.
        if let Ty::Ptr(inner) = t {
            if let Ty::Struct(id) = **inner {
                if let Some(slot) = self.d.types.building.get(&id) {
                    let ph = slot.unwrap_or_else(|| unsafe { self.d.dib.create_placeholder_derived_type(self.d.ctx) });
                    self.d.types.building.insert(id, Some(ph));
                    return ph.as_type();
                }
            }
        }
        let made = match t {
            Ty::Int { signed, .. } => self.basic(&self.name(t), self.bits(t), if *signed { DW_ATE_SIGNED } else { DW_ATE_UNSIGNED }),
            Ty::Float { .. } => self.basic(&self.name(t), self.bits(t), DW_ATE_FLOAT),
            Ty::Bool => self.basic("bool", 8, DW_ATE_BOOLEAN),
            // What `*void` and function values point to: bytes.
            Ty::Void | Ty::Nil | Ty::Error => self.basic("void", 8, DW_ATE_UNSIGNED),
            Ty::Fn { .. } => {
                let void = self.ty(&Ty::Void);
                self.pointer(void)
            }
            Ty::Ptr(inner) => {
                let to = self.ty(inner);
                self.pointer(to)
            }
            Ty::Array(n, el) => {
                let elem = self.ty(el);
                let align = self.layouts.align_of(t) as u32 * 8;
                self.d.dib.create_array_type(elem, self.bits(t), align, &[0..*n as i64]).as_type()
            }
            Ty::Slice(el) => {
                let ptr = Ty::ptr((**el).clone());
                let len_at = self.layouts.size_of(&ptr);
                let members = [("ptr".to_string(), ptr, 0), ("len".to_string(), I64, len_at)];
                self.composite(&self.name(t), t, &members, 0)
            }
            Ty::Tuple(ts) => {
                let offsets = self.layouts.tuple(ts).offsets;
                let members: Vec<_> = ts.iter().zip(offsets).enumerate().map(|(i, (t, off))| (format!("_{i}"), t.clone(), off)).collect();
                self.composite(&self.name(t), t, &members, 0)
            }
            Ty::Struct(id) => self.struct_ty(*id),
            Ty::Enum(id) => self.enum_ty(*id),
            Ty::Map(..) => {
                let file = self.d.cu_file;
                let opaque = self.d.dib.create_struct_type(file.as_debug_info_scope(), &self.name(t), file, 0, 0, 0, DIFlags::FWD_DECL, None, &[], 0, None, "");
                self.pointer(opaque.as_type())
            }
            Ty::Mutex | Ty::Chan(..) | Ty::Table(..) => self.composite(&self.name(t), t, &[], 0),
        };
        self.d.types.made.insert(t.clone(), made);
        made
    }

    fn struct_ty(&mut self, id: StructId) -> DIType<'ctx> {
        let def = &self.prog.structs[id as usize];
        let line = self.sources.file(def.span.file).line_col(def.span.lo).0 as u32;
        let Some(fields) = &def.fields else {
            let file = self.d.cu_file;
            let scope = file.as_debug_info_scope();
            return self.d.dib.create_struct_type(scope, &def.name, file, line, 0, 0, DIFlags::FWD_DECL, None, &[], 0, None, "").as_type();
        };
        let offsets = self.layouts.struct_layout(id).map(|l| l.offsets.clone()).unwrap_or_default();
        let members: Vec<_> = fields.iter().zip(offsets).map(|((n, t), off)| (n.clone(), t.clone(), off)).collect();
        self.d.types.building.insert(id, None);
        let made = self.composite(&def.name, &Ty::Struct(id), &members, line);
        if let Some(Some(ph)) = self.d.types.building.remove(&id) {
            let bits = self.layouts.size_of(&Ty::ptr(Ty::Void)) * 8;
            let real = self.d.dib.create_pointer_type("", made, bits, 0, AddressSpace::default());
            self.d.types.made.insert(Ty::ptr(Ty::Struct(id)), real.as_type());
            // Safety: the placeholder is dropped from `building` and never used again.
            unsafe { self.d.dib.replace_placeholder_derived_type(ph, real) };
        }
        made
    }

    fn enum_ty(&mut self, id: EnumId) -> DIType<'ctx> {
        let def = &self.prog.enums[id as usize];
        let base = self.ty(&def.base);
        let unsigned = !def.base.is_signed();
        let values: Vec<_> = def.variants.iter().map(|(n, v)| self.d.dib.create_enumerator(n, *v as i64, unsigned)).collect();
        let file = self.d.cu_file;
        let line = self.sources.file(def.span.file).line_col(def.span.lo).0 as u32;
        let bits = self.bits(&def.base);
        let align = self.layouts.align_of(&def.base) as u32 * 8;
        self.d.dib.create_enumeration_type(file.as_debug_info_scope(), &def.name, file, line, bits, align, &values, base).as_type()
    }
}

impl<'ctx, 'p> Emitter<'ctx, 'p> {
    fn type_maker(&mut self) -> Option<TypeMaker<'_, 'ctx>> {
        let d = self.dwarf.as_mut()?;
        Some(TypeMaker { d, prog: self.prog, layouts: self.layouts, sources: self.sources })
    }

    /// A debug variable for each named local and parameter of the function being emitted,
    /// once their slots exist (and before its statements are emitted).
    pub(super) fn declare_variables(&mut self, body: &mir::Body) {
        if self.dwarf.as_ref().and_then(|d| d.scope).is_none() {
            return;
        }
        self.lexical_blocks(body);
        let entry = self.blocks[0];
        for (i, l) in body.locals.iter().enumerate() {
            let Some(slot) = self.locals[i] else { continue };
            if l.name.is_empty() || l.name == "_" {
                continue;
            }
            let arg = body.params.iter().position(|&p| p as usize == i);
            // Behind a pointer: in-memory parameters (the caller's copy) and heap locals.
            // The pointer goes in a slot of its own, which the debugger dereferences.
            let indirect = (arg.is_some() && in_memory(&l.ty) && !self.copies_param(&l.ty)) || (arg.is_none() && self.size_of(&l.ty) >= HEAP_LOCAL_MIN);
            let storage = if indirect {
                let p = self.alloca(&Ty::ptr(Ty::Void), &format!("{}.addr", l.name));
                mem::store(&self.b, p, slot);
                p
            } else {
                slot
            };
            let fn_file = self.dwarf.as_ref().map_or(0, |d| d.fn_file);
            let (line, col) = if l.span.file == fn_file { self.sources.file(l.span.file).line_col(l.span.lo) } else { (0, 0) };
            let (line, col, ctx) = (line as u32, col as u32, self.ctx);
            let Some(mut tm) = self.type_maker() else { return };
            let ty = tm.ty(&l.ty);
            let d = tm.d;
            let Some(fn_scope) = d.scope else { return };
            let block = body.scopes.get(i).copied().flatten();
            let scope = d.blocks.iter().find(|b| Some(b.0) == block).map_or(fn_scope, |b| b.1);
            let file = d.files[fn_file as usize].unwrap_or(d.cu_file);
            let var = match arg {
                Some(n) => d.dib.create_parameter_variable(scope, &l.name, n as u32 + 1, file, line, ty, true, DIFlags::ZERO),
                None => d.dib.create_auto_variable(scope, &l.name, file, line, ty, true, DIFlags::ZERO, 0),
            };
            let expr = d.dib.create_expression(if indirect { vec![DW_OP_DEREF] } else { vec![] });
            let loc = d.dib.create_debug_location(ctx, line, col, scope, None);
            // Not inkwell's `insert_declare_at_end`: with LLVM 19 it wraps the debug record it
            // gets back as an instruction, which it is not.
            unsafe {
                LLVMDIBuilderInsertDeclareRecordAtEnd(
                    d.dib.as_mut_ptr(),
                    storage.as_value_ref(),
                    var.as_mut_ptr(),
                    expr.as_mut_ptr(),
                    loc.as_mut_ptr(),
                    entry.as_mut_ptr(),
                );
            }
        }
    }

    /// A lexical block for each nested source block that declares a variable, nested as the
    /// source blocks are. The instructions of its statements get it as their scope
    /// (`Dwarf::at`), so gdb shows a variable only inside its block and tells apart two
    /// variables of one name (the `i` of two loops).
    fn lexical_blocks(&mut self, body: &mir::Body) {
        let mut spans: Vec<Span> = body.scopes.iter().flatten().copied().collect();
        spans.sort_by_key(|s| (s.lo, std::cmp::Reverse(s.hi)));
        spans.dedup();
        let sources = self.sources;
        let Some(d) = self.dwarf.as_mut() else { return };
        d.blocks.clear();
        let Some(fn_scope) = d.scope else { return };
        let file = d.files[d.fn_file as usize].unwrap_or(d.cu_file);
        let mut open: Vec<(Span, DIScope<'ctx>)> = vec![];
        for s in spans.into_iter().filter(|s| s.file == d.fn_file) {
            while open.last().is_some_and(|(o, _)| !contains(*o, s)) {
                open.pop();
            }
            let parent = open.last().map_or(fn_scope, |b| b.1);
            let (line, col) = sources.file(s.file).line_col(s.lo);
            let block = d.dib.create_lexical_block(parent, file, line as u32, col as u32).as_debug_info_scope();
            open.push((s, block));
            d.blocks.push((s, block));
        }
    }

    /// A debug variable for each global the module defines, and `shared` for the shared
    /// variables (its members, at their offsets in the region).
    pub(super) fn declare_globals(&mut self) {
        if self.dwarf.is_none() {
            return;
        }
        let (dbg, ctx) = (self.ctx.get_kind_id("dbg"), self.ctx);
        for (i, g) in self.prog.globals.iter().enumerate() {
            let Some(gv) = self.globals[i] else { continue };
            if g.is_extern || g.via_c_shim {
                continue;
            }
            let line = self.sources.file(g.span.file).line_col(g.span.lo).0 as u32;
            let Some(mut tm) = self.type_maker() else { return };
            let ty = tm.ty(&g.ty);
            let d = tm.d;
            let file = d.cu_file;
            let expr = d.dib.create_expression(vec![]);
            let gve = d.dib.create_global_variable_expression(file.as_debug_info_scope(), &g.name, &g.symbol, file, line, ty, true, Some(expr), None, 0);
            gv.set_metadata(gve.as_metadata_value(ctx), dbg);
        }
        let vars: Vec<(String, Ty, u64)> =
            self.shared.vars.iter().map(|v| (v.name.clone(), self.prog.globals[v.global as usize].ty.clone(), v.offset)).collect();
        if vars.is_empty() {
            return;
        }
        let base = self.fleet_base();
        let size = self.shared.size;
        let Some(mut tm) = self.type_maker() else { return };
        let ty = tm.struct_of("shared", size, 16, &vars, 0);
        let d = tm.d;
        let file = d.cu_file;
        let expr = d.dib.create_expression(vec![DW_OP_DEREF]);
        let gve = d.dib.create_global_variable_expression(file.as_debug_info_scope(), "shared", "", file, 0, ty, true, Some(expr), None, 0);
        base.set_metadata(gve.as_metadata_value(ctx), dbg);
    }
}

fn contains(outer: Span, inner: Span) -> bool {
    outer.lo <= inner.lo && inner.hi <= outer.hi
}

impl<'ctx> Dwarf<'ctx> {
    /// The innermost lexical block of the current function around `span`.
    pub(super) fn block_at(&self, span: Span) -> Option<DIScope<'ctx>> {
        // Outer blocks come first: the last one that contains the span is the innermost.
        self.blocks.iter().filter(|(b, _)| b.lo <= span.lo && span.lo < b.hi).last().map(|b| b.1)
    }
}
