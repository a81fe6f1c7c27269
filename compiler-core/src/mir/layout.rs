//! Finalized layouts: size, alignment and field offsets of every type, for the target.
//!
//! The rules are the C ABI's on x86_64 and aarch64 (Linux and macOS), which agree for every
//! Truk type: a scalar is aligned to its size, an aggregate to its most aligned field,
//! fields are placed in order at the next aligned offset and the size is rounded up to the
//! alignment.
//! Struct layouts are computed once, up front; other types are cheap to derive from them.
//! Codegen builds LLVM types that must agree (checked in debug builds and in the tests).

use crate::fingerprint::LayoutType;
use crate::hir::{GlobalId, Program, StructId, Ty};
use crate::syntax::ast::VarKind;

/// The builtin `Mutex`, as the runtime defines it (`TRUK_MUTEX_SIZE` in `runtime-c/truk_rt.h`).
pub const MUTEX_SIZE: u64 = 40;
pub const MUTEX_ALIGN: u64 = 8;

/// `chan[T, N]`, as `runtime-c/truk_fleet.h` ("Channels") lays it out: a 192-byte header,
/// then N cells of an 8-byte state word and the payload padded to a multiple of 8.
pub const CHAN_HEADER_SIZE: u64 = 192;

/// 16 for elements of 1 to 8 bytes (`truk_chan_whole`): their 16-byte cells move with one
/// 16-byte CAS, which needs 16-aligned cells; 8 otherwise.
pub fn chan_align(elem_size: u64) -> u64 {
    if (1..=8).contains(&elem_size) {
        16
    } else {
        8
    }
}

/// Bytes of one channel cell for an element of `elem_size` bytes (`truk_chan_stride`).
pub fn chan_stride(elem_size: u64) -> u64 {
    8 + align_up(elem_size, 8)
}

/// The size of a channel's element: elements hold no addresses (the checker refuses them),
/// so their layout is the same on every 64-bit target.
pub fn chan_elem_size(prog: &Program, el: &Ty) -> u64 {
    Layouts::new(prog, "x86_64-unknown-linux-gnu").size_of(el)
}

pub fn chan_size(elem_size: u64, cap: u64) -> u64 {
    CHAN_HEADER_SIZE.saturating_add(cap.saturating_mul(chan_stride(elem_size)))
}

fn chan_size_align(elem_size: u64, cap: u64) -> SizeAlign {
    SizeAlign { size: chan_size(elem_size, cap), align: chan_align(elem_size) }
}

/// `table[K, V, N]`, as `runtime-c/truk_fleet.h` ("Tables") lays it out: a header of
/// 640 bytes, then N slots of an 8-byte state word, the key and two copies of the value,
/// each padded to a multiple of 8.
pub const TABLE_HEADER_SIZE: u64 = 640;
pub const TABLE_ALIGN: u64 = 8;

/// Bytes of one table slot (`truk_table_stride`).
pub fn table_stride(key_size: u64, value_size: u64) -> u64 {
    8 + align_up(key_size, 8) + 2 * align_up(value_size, 8)
}

pub fn table_size(key_size: u64, value_size: u64, cap: u64) -> u64 {
    TABLE_HEADER_SIZE.saturating_add(cap.saturating_mul(table_stride(key_size, value_size)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeAlign {
    pub size: u64,
    pub align: u64,
}

/// A struct or tuple: its size, alignment and the byte offset of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateLayout {
    pub size: u64,
    pub align: u64,
    pub offsets: Vec<u64>,
}

#[derive(Debug)]
pub struct Layouts {
    pointer_bytes: u64,
    structs: Vec<AggregateLayout>,
    enum_bases: Vec<Ty>,
}

/// Pointer width of a target triple; our targets are 64-bit.
pub fn pointer_bytes(triple: &str) -> u64 {
    let arch = triple.split('-').next().unwrap_or("");
    if arch.contains("64") {
        8
    } else {
        4
    }
}

fn align_up(off: u64, align: u64) -> u64 {
    off.div_ceil(align.max(1)).saturating_mul(align.max(1))
}

/// Struct layouts while they are being computed: `Busy` marks a by-value cycle.
enum Slot {
    Todo,
    Busy,
    Done(AggregateLayout),
}

impl Layouts {
    pub fn new(prog: &Program, triple: &str) -> Layouts {
        let mut l = Layouts {
            pointer_bytes: pointer_bytes(triple),
            structs: vec![],
            enum_bases: prog.enums.iter().map(|e| e.base.clone()).collect(),
        };
        let mut slots: Vec<Slot> = prog.structs.iter().map(|_| Slot::Todo).collect();
        for id in 0..prog.structs.len() {
            l.compute_struct(prog, id as StructId, &mut slots);
        }
        l.structs = slots
            .into_iter()
            .map(|s| match s {
                Slot::Done(a) => a,
                _ => AggregateLayout { size: 0, align: 1, offsets: vec![] },
            })
            .collect();
        l
    }

    fn compute_struct(&self, prog: &Program, id: StructId, slots: &mut Vec<Slot>) -> SizeAlign {
        match &slots[id as usize] {
            Slot::Done(a) => return SizeAlign { size: a.size, align: a.align },
            // A struct that contains itself by value: the checker reports it; stay finite.
            Slot::Busy => return SizeAlign { size: 0, align: 1 },
            Slot::Todo => {}
        }
        slots[id as usize] = Slot::Busy;
        let layout = match &prog.structs[id as usize].fields {
            Some(fields) => {
                let fields: Vec<SizeAlign> = fields.iter().map(|(_, t)| self.compute(prog, t, slots)).collect();
                aggregate(&fields)
            }
            // Opaque extern struct: only ever behind pointers; codegen gives it one byte.
            None => AggregateLayout { size: 1, align: 1, offsets: vec![0] },
        };
        let sa = SizeAlign { size: layout.size, align: layout.align };
        slots[id as usize] = Slot::Done(layout);
        sa
    }

    /// `size_align` while struct layouts are still being filled in.
    fn compute(&self, prog: &Program, t: &Ty, slots: &mut Vec<Slot>) -> SizeAlign {
        match t {
            Ty::Struct(id) => self.compute_struct(prog, *id, slots),
            Ty::Array(n, el) => {
                let e = self.compute(prog, el, slots);
                SizeAlign { size: e.size.saturating_mul(*n), align: e.align }
            }
            Ty::Tuple(ts) => {
                let fields: Vec<SizeAlign> = ts.iter().map(|t| self.compute(prog, t, slots)).collect();
                let a = aggregate(&fields);
                SizeAlign { size: a.size, align: a.align }
            }
            Ty::Chan(el, n) => chan_size_align(self.compute(prog, el, slots).size, *n),
            Ty::Table(k, v, n) => {
                let (ks, vs) = (self.compute(prog, k, slots).size, self.compute(prog, v, slots).size);
                SizeAlign { size: table_size(ks, vs, *n), align: TABLE_ALIGN }
            }
            _ => self.scalar(t),
        }
    }

    /// Types that contain no struct.
    fn scalar(&self, t: &Ty) -> SizeAlign {
        let same = |n: u64| SizeAlign { size: n, align: n };
        match t {
            Ty::Int { bits, .. } | Ty::Float { bits } => same((*bits as u64 / 8).max(1)),
            Ty::Ptr(_) | Ty::Map(..) | Ty::Fn { .. } | Ty::Nil => same(self.pointer_bytes),
            Ty::Slice(_) => SizeAlign { size: 2 * self.pointer_bytes, align: self.pointer_bytes },
            Ty::Enum(id) => match self.enum_bases.get(*id as usize) {
                Some(base) => self.scalar(base),
                None => same(4),
            },
            Ty::Mutex => SizeAlign { size: MUTEX_SIZE, align: MUTEX_ALIGN },
            // `void` only occurs behind pointers (or after an error): one byte, as in codegen.
            Ty::Bool | Ty::Void | Ty::Error => same(1),
            Ty::Struct(_) | Ty::Array(..) | Ty::Tuple(_) | Ty::Chan(..) | Ty::Table(..) => self.size_align(t),
        }
    }

    pub fn size_align(&self, t: &Ty) -> SizeAlign {
        match t {
            Ty::Struct(id) => match self.structs.get(*id as usize) {
                Some(a) => SizeAlign { size: a.size, align: a.align },
                None => SizeAlign { size: 0, align: 1 },
            },
            Ty::Array(n, el) => {
                let e = self.size_align(el);
                SizeAlign { size: e.size.saturating_mul(*n), align: e.align }
            }
            Ty::Tuple(ts) => {
                let a = self.tuple(ts);
                SizeAlign { size: a.size, align: a.align }
            }
            Ty::Chan(el, n) => chan_size_align(self.size_of(el), *n),
            Ty::Table(k, v, n) => SizeAlign { size: table_size(self.size_of(k), self.size_of(v), *n), align: TABLE_ALIGN },
            _ => self.scalar(t),
        }
    }

    pub fn size_of(&self, t: &Ty) -> u64 {
        self.size_align(t).size
    }

    pub fn align_of(&self, t: &Ty) -> u64 {
        self.size_align(t).align
    }

    pub fn struct_layout(&self, id: StructId) -> Option<&AggregateLayout> {
        self.structs.get(id as usize)
    }

    pub fn tuple(&self, ts: &[Ty]) -> AggregateLayout {
        let fields: Vec<SizeAlign> = ts.iter().map(|t| self.size_align(t)).collect();
        aggregate(&fields)
    }

    /// The layout of `t` as the layout fingerprint hashes it.
    pub fn layout_type(&self, prog: &Program, t: &Ty) -> LayoutType {
        let sa = self.size_align(t);
        let names = |t: &Ty| {
            crate::hir::ty::TyDisplay {
                ty: t,
                struct_names: &|id| prog.structs.get(id as usize).map(|s| s.name.clone()).unwrap_or_default(),
                enum_names: &|id| prog.enums.get(id as usize).map(|e| e.name.clone()).unwrap_or_default(),
            }
            .to_string()
        };
        match t {
            Ty::Struct(id) => {
                let def = &prog.structs[*id as usize];
                let offsets = self.structs.get(*id as usize).map(|a| a.offsets.as_slice()).unwrap_or(&[]);
                let fields = def
                    .fields
                    .iter()
                    .flatten()
                    .zip(offsets)
                    .map(|((name, ft), off)| (name.clone(), *off, self.layout_type(prog, ft)))
                    .collect();
                LayoutType::Struct { name: def.name.clone(), size: sa.size, align: sa.align, fields }
            }
            Ty::Array(n, el) => {
                LayoutType::Array { len: *n, elem: Box::new(self.layout_type(prog, el)), size: sa.size, align: sa.align }
            }
            Ty::Tuple(ts) => {
                let a = self.tuple(ts);
                let fields = a.offsets.iter().zip(ts).map(|(off, t)| (*off, self.layout_type(prog, t))).collect();
                LayoutType::Tuple { size: sa.size, align: sa.align, fields }
            }
            Ty::Enum(id) => LayoutType::Enum {
                name: names(t),
                base: Box::new(self.layout_type(prog, &self.enum_bases[*id as usize])),
                variants: prog.enums[*id as usize].variants.clone(),
            },
            Ty::Mutex => LayoutType::Mutex { size: sa.size, align: sa.align },
            Ty::Chan(el, n) => {
                LayoutType::Chan { cap: *n, size: sa.size, align: sa.align, elem: Box::new(self.layout_type(prog, el)) }
            }
            Ty::Table(k, v, n) => LayoutType::Table {
                cap: *n,
                size: sa.size,
                align: sa.align,
                key: Box::new(self.layout_type(prog, k)),
                value: Box::new(self.layout_type(prog, v)),
            },
            _ => LayoutType::Prim { name: names(t), size: sa.size, align: sa.align },
        }
    }

    /// Lay out the fleet's shared-variable area (see [`SharedLayout`]).
    pub fn shared_area(&self, prog: &Program) -> SharedLayout {
        let mut out = SharedLayout::default();
        let mut end = 0u64;
        let mut max_align = 1u64;
        for (i, g) in prog.globals.iter().enumerate() {
            if g.kind != VarKind::Shared {
                continue;
            }
            let sa = self.size_align(&g.ty);
            let offset = align_up(end, sa.align);
            end = offset.saturating_add(sa.size);
            max_align = max_align.max(sa.align);
            out.vars.push(SharedVar { global: i as GlobalId, name: g.name.clone(), offset, layout: self.layout_type(prog, &g.ty) });
        }
        out.size = align_up(end, max_align);
        out
    }
}

/// One `shared var`: where it lives in the area, and its layout as the fingerprint sees it.
#[derive(Debug, Clone)]
pub struct SharedVar {
    pub global: GlobalId,
    pub name: String,
    pub offset: u64,
    pub layout: LayoutType,
}

/// The shared-variable area. Every `shared var` of the import closure gets a constant offset
/// in one area, whose base `__truk_fleet_join` returns (16-byte aligned). Variables are
/// placed in declaration order, the order the checker declares globals: files in the order
/// the import closure is loaded (deterministic for given sources), each file in source
/// order; each at the next offset that is a multiple of its type's alignment. The area's
/// size, rounded up to its largest alignment, is the note's `region_size`. The same order,
/// names and layouts feed the layout fingerprint, so two binaries that disagree cannot share
/// a region.
#[derive(Debug, Default)]
pub struct SharedLayout {
    /// In increasing `global` order.
    pub vars: Vec<SharedVar>,
    pub size: u64,
}

impl SharedLayout {
    pub fn offset_of(&self, g: GlobalId) -> Option<u64> {
        self.vars.binary_search_by_key(&g, |v| v.global).ok().map(|i| self.vars[i].offset)
    }

    /// The input of `fingerprint::layout_fingerprint`.
    pub fn fingerprint_vars(&self) -> Vec<(String, LayoutType)> {
        self.vars.iter().map(|v| (v.name.clone(), v.layout.clone())).collect()
    }
}

/// C struct layout of fields in order.
fn aggregate(fields: &[SizeAlign]) -> AggregateLayout {
    let mut off = 0u64;
    let mut align = 1u64;
    let mut offsets = Vec::with_capacity(fields.len());
    for f in fields {
        off = align_up(off, f.align);
        offsets.push(off);
        off = off.saturating_add(f.size);
        align = align.max(f.align);
    }
    AggregateLayout { size: align_up(off, align), align, offsets }
}

/// A program with structs of every kind of field, for the layout tests here and for the
/// `truk` crate's check of these layouts against LLVM's.
#[doc(hidden)]
pub mod tests_support {
    use super::*;
    use crate::diag::Span;
    use crate::hir::{EnumDef, StructDef};

    pub fn int(bits: u8) -> Ty {
        Ty::Int { signed: true, bits }
    }

    pub fn program() -> Program {
        let st = |name: &str, fields: Vec<Ty>| StructDef {
            name: name.into(),
            fields: Some(fields.into_iter().enumerate().map(|(i, t)| (format!("f{i}"), t)).collect()),
            is_extern: false,
            domain: 0,
            span: Span::default(),
        };
        let mut p = Program::default();
        p.enums.push(EnumDef { name: "E".into(), base: int(16), variants: vec![], domain: 0, span: Span::default() });
        p.structs.push(st("A", vec![int(8), int(64), int(16)]));
        p.structs.push(st("B", vec![Ty::Bool, Ty::Struct(0), Ty::Float { bits: 32 }, Ty::Array(3, Box::new(int(8)))]));
        p.structs.push(st("C", vec![Ty::Slice(Box::new(int(8))), Ty::Enum(0), Ty::Tuple(vec![int(8), Ty::Float { bits: 64 }]), Ty::Bool]));
        p.structs.push(st("D", vec![Ty::Array(2, Box::new(Ty::Struct(1))), Ty::Mutex, int(8)]));
        p.structs.push(st("Empty", vec![]));
        p.structs.push(StructDef { name: "Opaque".into(), fields: None, is_extern: true, domain: 0, span: Span::default() });
        // Declared before the struct it holds by value: layouts must not depend on order.
        p.structs.push(st("Outer", vec![int(8), Ty::Struct(7)]));
        p.structs.push(st("Inner", vec![int(32), int(64)]));
        p
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::{int, program};
    use super::*;
    use crate::diag::Span;
    use crate::hir::StructDef;

    #[test]
    fn c_rules() {
        let p = program();
        let l = Layouts::new(&p, "x86_64-unknown-linux-gnu");
        assert_eq!(l.struct_layout(0).unwrap(), &AggregateLayout { size: 24, align: 8, offsets: vec![0, 8, 16] });
        assert_eq!(l.struct_layout(1).unwrap().offsets, vec![0, 8, 32, 36]);
        assert_eq!(l.size_of(&Ty::Struct(1)), 40);
        assert_eq!(l.struct_layout(6).unwrap(), &AggregateLayout { size: 24, align: 8, offsets: vec![0, 8] });
        assert_eq!(l.size_of(&Ty::Struct(4)), 0);
        assert_eq!(l.size_of(&Ty::Mutex), MUTEX_SIZE);
    }

    #[test]
    fn tables_agree_with_the_runtime_layout() {
        assert_eq!(TABLE_HEADER_SIZE, truk_runtime::layout::TABLE_HEADER_SIZE as u64);
        for (k, v, n) in [(1, 1, 1), (8, 12, 4096), (32, 60, 7), (3, 0, 2)] {
            assert_eq!(table_size(k, v, n), truk_runtime::layout::table_size(k, v, n), "table of {k}/{v}-byte keys/values, {n} slots");
        }
    }

    #[test]
    fn channels_agree_with_the_runtime_layout() {
        // runtime-rs's mirror is itself tested against runtime-c/truk_fleet.h.
        assert_eq!(CHAN_HEADER_SIZE, truk_runtime::layout::CHAN_HEADER_SIZE as u64);
        for (el, n) in [(0, 1), (1, 1), (8, 256), (13, 7), (60, 3)] {
            assert_eq!(chan_size(el, n), truk_runtime::layout::chan_size(el, n), "chan of {el}-byte elements, {n} cells");
        }
        let mut p = program();
        p.structs.push(StructDef { name: "J".into(), fields: Some(vec![("id".into(), int(32)), ("n".into(), int(64))]), is_extern: false, domain: 0, span: Span::default() });
        let l = Layouts::new(&p, "aarch64-unknown-linux-gnu");
        let ch = Ty::Chan(Box::new(Ty::Struct(8)), 4);
        assert_eq!(l.size_align(&ch), SizeAlign { size: 192 + 4 * 24, align: 8 });
        assert_eq!(chan_elem_size(&p, &Ty::Struct(8)), 16);
        // Elements of 1 to 8 bytes move whole: 16-byte cells, 16-aligned.
        assert_eq!(l.size_align(&Ty::Chan(Box::new(int(64)), 3)), SizeAlign { size: 192 + 3 * 16, align: 16 });
        assert_eq!(l.size_align(&Ty::Chan(Box::new(Ty::Bool), 1)), SizeAlign { size: 208, align: 16 });
    }
}
