//! Semantic types, shared by HIR, MIR and codegen.

use std::fmt;

pub type StructId = u32;
pub type EnumId = u32;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Signed or unsigned integer of 8/16/32/64 bits.
    Int { signed: bool, bits: u8 },
    Float { bits: u8 },
    Bool,
    Void,
    Ptr(Box<Ty>),
    Array(u64, Box<Ty>),
    Slice(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    Tuple(Vec<Ty>),
    Fn { params: Box<[Ty]>, ret: Box<Ty>, c_variadic: bool },
    Struct(StructId),
    Enum(EnumId),
    /// The builtin process-shared robust mutex.
    Mutex,
    /// `chan[T, N]`: a bounded channel of N (>= 1) elements of T, inline (`runtime-c/chan.c`).
    Chan(Box<Ty>, u64),
    /// `table[K, V, N]`: a hash table of N (>= 1) entries, inline (`runtime-c/table.c`).
    Table(Box<Ty>, Box<Ty>, u64),
    /// The type of `nil` before it meets a pointer-like type.
    Nil,
    /// Stands in after an error, so one mistake does not cascade into many.
    Error,
}

impl Default for Ty {
    fn default() -> Ty {
        Ty::Void
    }
}

pub const I8: Ty = Ty::Int { signed: true, bits: 8 };
pub const I32: Ty = Ty::Int { signed: true, bits: 32 };
pub const I64: Ty = Ty::Int { signed: true, bits: 64 };
pub const U8: Ty = Ty::Int { signed: false, bits: 8 };
pub const U32: Ty = Ty::Int { signed: false, bits: 32 };
pub const U64: Ty = Ty::Int { signed: false, bits: 64 };
pub const F64: Ty = Ty::Float { bits: 64 };

impl Ty {
    pub fn ptr(to: Ty) -> Ty {
        Ty::Ptr(Box::new(to))
    }
    pub fn is_int(&self) -> bool {
        matches!(self, Ty::Int { .. })
    }
    pub fn is_float(&self) -> bool {
        matches!(self, Ty::Float { .. })
    }
    pub fn is_numeric(&self) -> bool {
        self.is_int() || self.is_float()
    }
    pub fn is_signed(&self) -> bool {
        matches!(self, Ty::Int { signed: true, .. })
    }
    /// The smallest and largest value of an integer type.
    pub fn int_range(&self) -> Option<(i128, i128)> {
        match *self {
            Ty::Int { signed: true, bits } => Some((-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)),
            Ty::Int { signed: false, bits } => Some((0, (1i128 << bits) - 1)),
            _ => None,
        }
    }
    pub fn is_ptr(&self) -> bool {
        matches!(self, Ty::Ptr(_))
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Ty::Error)
    }
    pub fn is_void(&self) -> bool {
        matches!(self, Ty::Void)
    }
    /// Types whose values may be compared with `nil`.
    pub fn is_nullable(&self) -> bool {
        matches!(self, Ty::Ptr(_) | Ty::Map(..) | Ty::Fn { .. } | Ty::Slice(_) | Ty::Nil)
    }
    pub fn int_bits(&self) -> u8 {
        match self {
            Ty::Int { bits, .. } | Ty::Float { bits } => *bits,
            Ty::Bool => 1,
            _ => 64,
        }
    }
    pub fn from_prim_name(name: &str) -> Option<Ty> {
        Some(match name {
            "i8" => Ty::Int { signed: true, bits: 8 },
            "i16" => Ty::Int { signed: true, bits: 16 },
            "i32" => Ty::Int { signed: true, bits: 32 },
            "i64" => Ty::Int { signed: true, bits: 64 },
            "u8" => Ty::Int { signed: false, bits: 8 },
            "u16" => Ty::Int { signed: false, bits: 16 },
            "u32" => Ty::Int { signed: false, bits: 32 },
            "u64" => Ty::Int { signed: false, bits: 64 },
            "f32" => Ty::Float { bits: 32 },
            "f64" => Ty::Float { bits: 64 },
            "bool" => Ty::Bool,
            "void" => Ty::Void,
            _ => return None,
        })
    }
}

/// `t` as the program writes it, with its struct and enum names.
pub fn ty_name(prog: &super::Program, t: &Ty) -> String {
    TyDisplay {
        ty: t,
        struct_names: &|id| prog.structs.get(id as usize).map(|s| s.name.clone()).unwrap_or_default(),
        enum_names: &|id| prog.enums.get(id as usize).map(|e| e.name.clone()).unwrap_or_default(),
    }
    .to_string()
}

/// Displays a type with struct and enum names looked up in the program.
pub struct TyDisplay<'a> {
    pub ty: &'a Ty,
    pub struct_names: &'a dyn Fn(StructId) -> String,
    pub enum_names: &'a dyn Fn(EnumId) -> String,
}

impl<'a> fmt::Display for TyDisplay<'a> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sub = |ty: &'a Ty| TyDisplay { ty, struct_names: self.struct_names, enum_names: self.enum_names };
        match self.ty {
            Ty::Int { signed, bits } => write!(f, "{}{}", if *signed { "i" } else { "u" }, bits),
            Ty::Float { bits } => write!(f, "f{bits}"),
            Ty::Bool => f.write_str("bool"),
            Ty::Void => f.write_str("void"),
            Ty::Ptr(t) => write!(f, "*{}", sub(t)),
            Ty::Array(n, t) => write!(f, "[{n}]{}", sub(t)),
            Ty::Slice(t) => write!(f, "[]{}", sub(t)),
            Ty::Map(k, v) => write!(f, "map[{}, {}]", sub(k), sub(v)),
            Ty::Tuple(ts) => {
                f.write_str("(")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", sub(t))?;
                }
                f.write_str(")")
            }
            Ty::Fn { params, ret, c_variadic } => {
                f.write_str("fn(")?;
                for (i, t) in params.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", sub(t))?;
                }
                if *c_variadic {
                    f.write_str(", ...")?;
                }
                write!(f, ") : {}", sub(ret))
            }
            Ty::Struct(id) => f.write_str(&(self.struct_names)(*id)),
            Ty::Enum(id) => f.write_str(&(self.enum_names)(*id)),
            Ty::Mutex => f.write_str("Mutex"),
            Ty::Chan(t, n) => write!(f, "chan[{}, {n}]", sub(t)),
            Ty::Table(k, v, n) => write!(f, "table[{}, {}, {n}]", sub(k), sub(v)),
            Ty::Nil => f.write_str("nil"),
            Ty::Error => f.write_str("{error}"),
        }
    }
}
