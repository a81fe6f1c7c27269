//! The description of the shared variables that a fleet region carries for `truk fleet
//! inspect` (format: `runtime-rs/src/desc.rs`), built from the same layouts that the
//! layout fingerprint hashes, so the fingerprint covers everything in it.

use truk_runtime::desc::{self, Type, Var};

use super::layout::SharedLayout;
use crate::fingerprint::LayoutType;

/// The description bytes; empty when there is no shared variable.
pub fn describe(shared: &SharedLayout) -> Vec<u8> {
    if shared.vars.is_empty() {
        return vec![];
    }
    let vars: Vec<Var> = shared
        .vars
        .iter()
        .map(|v| Var { name: v.name.clone(), offset: v.offset, ty: desc_type(&v.layout) })
        .collect();
    desc::encode(&vars)
}

/// `u64` -> (false, 8), `i16` -> (true, 2); None for other names.
fn int_name(name: &str) -> Option<(bool, u64)> {
    let signed = match name.as_bytes().first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits: u64 = name[1..].parse().ok()?;
    Some((signed, bits / 8))
}

fn desc_type(t: &LayoutType) -> Type {
    match t {
        LayoutType::Prim { name, size, .. } => match (name.as_str(), int_name(name)) {
            ("bool", _) => Type::Bool,
            ("f32" | "f64", _) => Type::Float { size: *size },
            (_, Some((signed, s))) if s == *size => Type::Int { signed, size: *size },
            _ => Type::Other { name: name.clone(), size: *size },
        },
        LayoutType::Struct { name, size, fields, .. } => Type::Struct {
            name: name.clone(),
            size: *size,
            fields: fields.iter().map(|(n, off, ft)| (n.clone(), *off, desc_type(ft))).collect(),
        },
        LayoutType::Array { len, elem, .. } => Type::Array { len: *len, elem: Box::new(desc_type(elem)) },
        LayoutType::Tuple { size, fields, .. } => {
            Type::Tuple { size: *size, fields: fields.iter().map(|(off, ft)| (*off, desc_type(ft))).collect() }
        }
        LayoutType::Enum { name, base, variants } => {
            let (signed, size) = match desc_type(base) {
                Type::Int { signed, size } => (signed, size),
                other => (false, other.size()),
            };
            let variants = variants.iter().map(|(n, v)| (n.clone(), *v as i64)).collect();
            Type::Enum { name: name.clone(), signed, size, variants }
        }
        LayoutType::Mutex { .. } => Type::Mutex,
        LayoutType::Chan { cap, elem, .. } => Type::Chan { cap: *cap, elem: Box::new(desc_type(elem)) },
        LayoutType::Table { cap, key, value, .. } => {
            Type::Table { cap: *cap, key: Box::new(desc_type(key)), value: Box::new(desc_type(value)) }
        }
    }
}
