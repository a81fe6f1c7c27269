//! The description of a fleet's shared variables that a region carries (truk_fleet.h,
//! "Layout": `desc_offset`, `desc_size`): names, types and offsets, recursively, so that
//! `truk fleet inspect` needs nothing but the region. The compiler encodes it
//! (`codegen/fleet.rs`), the creator copies it into the region, and [`decode`] reads it
//! back as untrusted input: every length, offset and size is bounds-checked, nesting is
//! limited, and a damaged description is one error line.
//!
//! Format, little-endian: `MAGIC u32(#vars) var...`, `var = str(name) u64(offset) type`,
//! `str = u32(len) bytes` (UTF-8), and `type` one of (tag first):
//! - 1 int:    `u8(signed) u64(size)`        size 1, 2, 4 or 8
//! - 2 float:  `u64(size)`                   size 4 or 8
//! - 3 bool
//! - 4 struct: `str(name) u64(size) u32(#fields) (str(name) u64(offset) type)...`
//! - 5 array:  `u64(len) type(elem)`
//! - 6 tuple:  `u64(size) u32(#fields) (u64(offset) type)...`
//! - 7 enum:   `str(name) u8(signed) u64(size) u32(#variants) (str(name) i64(value))...`
//! - 8 mutex
//! - 9 chan:   `u64(cap) type(elem)`
//! - 10 table: `u64(cap) type(key) type(value)`
//! - 11 other: `str(name) u64(size)`         shown as raw bytes

use crate::layout::{chan_size, table_size, MutexLayout};

pub const MAGIC: &[u8; 8] = b"TRUKDSC1";
/// Deepest nesting of types a description may have (the compiler's nesting limit).
pub const DEPTH_MAX: usize = 1000;

#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Int { signed: bool, size: u64 },
    Float { size: u64 },
    Bool,
    Struct { name: String, size: u64, fields: Vec<(String, u64, Type)> },
    Array { len: u64, elem: Box<Type> },
    Tuple { size: u64, fields: Vec<(u64, Type)> },
    Enum { name: String, signed: bool, size: u64, variants: Vec<(String, i64)> },
    Mutex,
    Chan { cap: u64, elem: Box<Type> },
    Table { cap: u64, key: Box<Type>, value: Box<Type> },
    Other { name: String, size: u64 },
}

/// One shared variable: its offset in the shared area.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub name: String,
    pub offset: u64,
    pub ty: Type,
}

impl Type {
    /// Bytes the type occupies (saturating: decoded types are checked not to overflow).
    pub fn size(&self) -> u64 {
        match self {
            Type::Int { size, .. } | Type::Float { size } | Type::Enum { size, .. } => *size,
            Type::Struct { size, .. } | Type::Tuple { size, .. } | Type::Other { size, .. } => *size,
            Type::Bool => 1,
            Type::Array { len, elem } => len.saturating_mul(elem.size()),
            Type::Mutex => std::mem::size_of::<MutexLayout>() as u64,
            Type::Chan { cap, elem } => chan_size(elem.size(), *cap),
            Type::Table { cap, key, value } => table_size(key.size(), value.size(), *cap),
        }
    }

    /// The Truk spelling: `u64`, `[4]Job`, `chan[u64, 16]`, `(i32, bool)`.
    pub fn name(&self) -> String {
        match self {
            Type::Int { signed, size } => format!("{}{}", if *signed { 'i' } else { 'u' }, size * 8),
            Type::Float { size } => format!("f{}", size * 8),
            Type::Bool => "bool".into(),
            Type::Struct { name, .. } | Type::Enum { name, .. } | Type::Other { name, .. } => name.clone(),
            Type::Array { len, elem } => format!("[{len}]{}", elem.name()),
            Type::Tuple { fields, .. } => {
                let names: Vec<String> = fields.iter().map(|(_, t)| t.name()).collect();
                format!("({})", names.join(", "))
            }
            Type::Mutex => "Mutex".into(),
            Type::Chan { cap, elem } => format!("chan[{}, {cap}]", elem.name()),
            Type::Table { cap, key, value } => format!("table[{}, {}, {cap}]", key.name(), value.name()),
        }
    }
}

fn put_u32(o: &mut Vec<u8>, n: u32) {
    o.extend_from_slice(&n.to_le_bytes());
}
fn put_u64(o: &mut Vec<u8>, n: u64) {
    o.extend_from_slice(&n.to_le_bytes());
}
fn put_str(o: &mut Vec<u8>, s: &str) {
    put_u32(o, s.len() as u32);
    o.extend_from_slice(s.as_bytes());
}

fn put_type(o: &mut Vec<u8>, t: &Type) {
    match t {
        Type::Int { signed, size } => {
            o.extend_from_slice(&[1, *signed as u8]);
            put_u64(o, *size);
        }
        Type::Float { size } => {
            o.push(2);
            put_u64(o, *size);
        }
        Type::Bool => o.push(3),
        Type::Struct { name, size, fields } => {
            o.push(4);
            put_str(o, name);
            put_u64(o, *size);
            put_u32(o, fields.len() as u32);
            for (n, off, ft) in fields {
                put_str(o, n);
                put_u64(o, *off);
                put_type(o, ft);
            }
        }
        Type::Array { len, elem } => {
            o.push(5);
            put_u64(o, *len);
            put_type(o, elem);
        }
        Type::Tuple { size, fields } => {
            o.push(6);
            put_u64(o, *size);
            put_u32(o, fields.len() as u32);
            for (off, ft) in fields {
                put_u64(o, *off);
                put_type(o, ft);
            }
        }
        Type::Enum { name, signed, size, variants } => {
            o.push(7);
            put_str(o, name);
            o.push(*signed as u8);
            put_u64(o, *size);
            put_u32(o, variants.len() as u32);
            for (n, v) in variants {
                put_str(o, n);
                put_u64(o, *v as u64);
            }
        }
        Type::Mutex => o.push(8),
        Type::Chan { cap, elem } => {
            o.push(9);
            put_u64(o, *cap);
            put_type(o, elem);
        }
        Type::Table { cap, key, value } => {
            o.push(10);
            put_u64(o, *cap);
            put_type(o, key);
            put_type(o, value);
        }
        Type::Other { name, size } => {
            o.push(11);
            put_str(o, name);
            put_u64(o, *size);
        }
    }
}

/// The description of `vars`, as the compiler emits it.
pub fn encode(vars: &[Var]) -> Vec<u8> {
    let mut o = MAGIC.to_vec();
    put_u32(&mut o, vars.len() as u32);
    for v in vars {
        put_str(&mut o, &v.name);
        put_u64(&mut o, v.offset);
        put_type(&mut o, &v.ty);
    }
    o
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.b.len() - self.at < n {
            return Err(format!("damaged description (truncated at byte {})", self.at));
        }
        self.at += n;
        Ok(&self.b[self.at - n..self.at])
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u32()? as usize;
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| format!("damaged description (a name at byte {at} is not UTF-8)"))
    }
    /// A count of items that each take at least one byte: never more than the bytes left.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > self.b.len() - self.at {
            return Err(format!("damaged description (count {n} at byte {})", self.at - 4));
        }
        Ok(n)
    }
    fn bad<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("damaged description ({what}, before byte {})", self.at))
    }

    fn ty(&mut self, depth: usize) -> Result<Type, String> {
        if depth > DEPTH_MAX {
            return self.bad(&format!("types nest deeper than {DEPTH_MAX} levels"));
        }
        let t = match self.u8()? {
            1 => {
                let signed = self.u8()? != 0;
                let size = self.u64()?;
                if ![1, 2, 4, 8].contains(&size) {
                    return self.bad(&format!("an integer of {size} bytes"));
                }
                Type::Int { signed, size }
            }
            2 => {
                let size = self.u64()?;
                if size != 4 && size != 8 {
                    return self.bad(&format!("a float of {size} bytes"));
                }
                Type::Float { size }
            }
            3 => Type::Bool,
            4 => {
                let name = self.str()?;
                let size = self.u64()?;
                let n = self.count()?;
                let mut fields = Vec::with_capacity(n);
                for _ in 0..n {
                    let fname = self.str()?;
                    let off = self.u64()?;
                    let ft = self.ty(depth + 1)?;
                    if off.checked_add(ft.size()).is_none_or(|end| end > size) {
                        return self.bad(&format!("field {fname} of {name} lies outside it"));
                    }
                    fields.push((fname, off, ft));
                }
                Type::Struct { name, size, fields }
            }
            5 => {
                let len = self.u64()?;
                let elem = self.ty(depth + 1)?;
                if len.checked_mul(elem.size()).is_none_or(|s| s > i64::MAX as u64) {
                    return self.bad("an array larger than memory");
                }
                Type::Array { len, elem: Box::new(elem) }
            }
            6 => {
                let size = self.u64()?;
                let n = self.count()?;
                let mut fields = Vec::with_capacity(n);
                for i in 0..n {
                    let off = self.u64()?;
                    let ft = self.ty(depth + 1)?;
                    if off.checked_add(ft.size()).is_none_or(|end| end > size) {
                        return self.bad(&format!("tuple field {i} lies outside it"));
                    }
                    fields.push((off, ft));
                }
                Type::Tuple { size, fields }
            }
            7 => {
                let name = self.str()?;
                let signed = self.u8()? != 0;
                let size = self.u64()?;
                if ![1, 2, 4, 8].contains(&size) {
                    return self.bad(&format!("an enum of {size} bytes"));
                }
                let n = self.count()?;
                let mut variants = Vec::with_capacity(n);
                for _ in 0..n {
                    let v = self.str()?;
                    variants.push((v, self.u64()? as i64));
                }
                Type::Enum { name, signed, size, variants }
            }
            8 => Type::Mutex,
            9 => {
                let cap = self.u64()?;
                let elem = self.ty(depth + 1)?;
                if sized(cap, &[elem.size()], 1).is_none() {
                    return self.bad("a channel larger than memory");
                }
                Type::Chan { cap, elem: Box::new(elem) }
            }
            10 => {
                let cap = self.u64()?;
                let key = self.ty(depth + 1)?;
                let value = self.ty(depth + 1)?;
                if sized(cap, &[key.size(), value.size()], 2).is_none() {
                    return self.bad("a table larger than memory");
                }
                Type::Table { cap, key: Box::new(key), value: Box::new(value) }
            }
            11 => {
                let name = self.str()?;
                let size = self.u64()?;
                if size > i64::MAX as u64 {
                    return self.bad("a value larger than memory");
                }
                Type::Other { name, size }
            }
            tag => return self.bad(&format!("unknown type tag {tag}")),
        };
        Ok(t)
    }
}

/// Whether `cap` cells of the padded `sizes` (the last one `copies` times) plus a header
/// stay far from overflowing (so that `Type::size` is exact).
fn sized(cap: u64, sizes: &[u64], copies: u64) -> Option<u64> {
    let mut cell = 8u64;
    for (i, s) in sizes.iter().enumerate() {
        let padded = s.checked_add(7)? / 8 * 8;
        let times = if i + 1 == sizes.len() { copies } else { 1 };
        cell = cell.checked_add(padded.checked_mul(times)?)?;
    }
    let total = cap.checked_mul(cell)?.checked_add(1024)?;
    (total <= i64::MAX as u64).then_some(total)
}

/// Reads a description back; every variable must lie inside a shared area of
/// `region_size` bytes.
pub fn decode(b: &[u8], region_size: u64) -> Result<Vec<Var>, String> {
    let mut r = Reader { b, at: 0 };
    if r.take(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
        return Err("damaged description (bad magic)".into());
    }
    let n = r.count()?;
    let mut vars = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?;
        let offset = r.u64()?;
        let ty = r.ty(0)?;
        if offset.checked_add(ty.size()).is_none_or(|end| end > region_size) {
            return r.bad(&format!("variable {name} lies outside the shared area"));
        }
        vars.push(Var { name, offset, ty });
    }
    if r.at != b.len() {
        return r.bad("bytes after the last variable");
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Var> {
        let job = Type::Struct {
            name: "Job".into(),
            size: 16,
            fields: vec![
                ("id".into(), 0, Type::Int { signed: false, size: 4 }),
                ("ok".into(), 4, Type::Bool),
                ("x".into(), 8, Type::Float { size: 8 }),
            ],
        };
        let color = Type::Enum { name: "Color".into(), signed: true, size: 4, variants: vec![("RED".into(), 0), ("BLUE".into(), -2)] };
        vec![
            Var { name: "jobs".into(), offset: 0, ty: Type::Array { len: 3, elem: Box::new(job.clone()) } },
            Var { name: "c".into(), offset: 48, ty: color },
            Var { name: "m".into(), offset: 56, ty: Type::Mutex },
            Var { name: "q".into(), offset: 96, ty: Type::Chan { cap: 2, elem: Box::new(job) } },
            Var { name: "t".into(), offset: 96 + chan_size(16, 2), ty: Type::Table { cap: 1, key: Box::new(Type::Int { signed: false, size: 8 }), value: Box::new(Type::Bool) } },
        ]
    }

    #[test]
    fn roundtrip() {
        let v = sample();
        let b = encode(&v);
        assert_eq!(decode(&b, 4096).unwrap(), v);
        assert_eq!(v[3].ty.name(), "chan[Job, 2]");
        assert_eq!(v[0].ty.name(), "[3]Job");
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_in_bounds() {
        let b = encode(&sample());
        for n in 0..b.len() {
            assert!(decode(&b[..n], 4096).is_err(), "truncated to {n}");
        }
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut d = b.clone();
                d[i] ^= 1 << bit;
                if let Ok(vars) = decode(&d, 4096) {
                    assert!(vars.iter().all(|v| v.offset + v.ty.size() <= 4096));
                }
            }
        }
        assert!(decode(&b, 100).unwrap_err().contains("outside the shared area"));
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing_forever() {
        let mut t = Type::Bool;
        for _ in 0..DEPTH_MAX + 5 {
            t = Type::Array { len: 1, elem: Box::new(t) };
        }
        let b = encode(&[Var { name: "d".into(), offset: 0, ty: t }]);
        assert!(decode(&b, 8).unwrap_err().contains("nest deeper"));
    }
}
