//! Values of shared variables read from a copy of the shared area, by their described
//! type, and their text and JSON forms. The description was checked against the area's
//! size (truk_runtime::desc::decode), so every slice here is in bounds; `get` still
//! answers a short read with zeros rather than panicking.

use std::fmt::Write;

use truk_runtime::desc::Type;
use truk_runtime::layout::{
    chan_positions, chan_stride, table_stride, CHAN_HEADER_SIZE, CHAN_LEASE_CLOSED, CHAN_LEASE_REVOKING, CHAN_MOVER_SLOT_BITS, MUTEX_OWNER_DIED, MUTEX_TID_MASK, MUTEX_WAITERS, TABLE_BUSY, TABLE_EPOCH_MASK,
    TABLE_FULL, TABLE_HEADER_SIZE,
};

use crate::json_str;

/// Arrays longer than this are elided in text unless `--full`.
pub const SHOWN: u64 = 16;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    UInt(u64),
    Float(f64, bool), // the value, and whether it is an f32
    Bool(bool),
    /// The variant's name (None: a value no variant has), and the number.
    Enum(Option<String>, i64),
    Struct(Vec<(String, Value)>),
    /// Array or tuple elements, and the array's length (more than shown when elided).
    List(Vec<Value>, u64),
    Mutex { holder: Option<u32>, waiters: bool, dead_holder: bool },
    Chan { len: u64, cap: u64, closed: bool, senders: u32, receivers: u32, sent: u64, leases: [Option<u32>; 2] },
    Table { len: u64, cap: u64 },
    Raw(Vec<u8>),
}

fn get(b: &[u8], at: u64, n: usize) -> [u8; 8] {
    let mut o = [0u8; 8];
    let at = at as usize;
    if let Some(s) = b.get(at..at.saturating_add(n)) {
        o[..n].copy_from_slice(s);
    }
    o
}

fn uint(b: &[u8], at: u64, size: u64) -> u64 {
    u64::from_le_bytes(get(b, at, size as usize))
}

fn int(b: &[u8], at: u64, size: u64) -> i64 {
    let shift = 64 - 8 * size as u32;
    ((uint(b, at, size) << shift) as i64) >> shift
}

/// The value of type `t` at `at` in `area`; arrays beyond `limit` elements are cut.
pub fn read(area: &[u8], at: u64, t: &Type, limit: Option<u64>) -> Value {
    match t {
        Type::Int { signed: true, size } => Value::Int(int(area, at, *size)),
        Type::Int { signed: false, size } => Value::UInt(uint(area, at, *size)),
        Type::Float { size: 4 } => Value::Float(f32::from_bits(uint(area, at, 4) as u32) as f64, true),
        Type::Float { .. } => Value::Float(f64::from_bits(uint(area, at, 8)), false),
        Type::Bool => Value::Bool(uint(area, at, 1) != 0),
        Type::Enum { signed, size, variants, .. } => {
            let v = if *signed { int(area, at, *size) } else { uint(area, at, *size) as i64 };
            let name = variants.iter().find(|(_, x)| *x == v).map(|(n, _)| n.clone());
            Value::Enum(name, v)
        }
        Type::Struct { fields, .. } => Value::Struct(
            fields
                .iter()
                .map(|(n, off, ft)| (n.clone(), read(area, at + off, ft, limit)))
                .collect(),
        ),
        Type::Tuple { fields, .. } => Value::List(
            fields.iter().map(|(off, ft)| read(area, at + off, ft, limit)).collect(),
            fields.len() as u64,
        ),
        Type::Array { len, elem } => {
            let step = elem.size();
            // Elements without bytes are all alike, and a hostile description may claim
            // billions of them within any area: show a few.
            let limit = if step == 0 { Some(limit.unwrap_or(SHOWN).min(SHOWN)) } else { limit };
            let shown = limit.map_or(*len, |l| l.min(*len));
            Value::List((0..shown).map(|i| read(area, at + i * step, elem, limit)).collect(), *len)
        }
        Type::Mutex => {
            let word = uint(area, at, 4) as u32;
            let tid = word & MUTEX_TID_MASK;
            Value::Mutex {
                holder: (tid != 0 && word & MUTEX_OWNER_DIED == 0).then_some(tid),
                waiters: word & MUTEX_WAITERS != 0,
                dead_holder: word & MUTEX_OWNER_DIED != 0,
            }
        }
        Type::Chan { cap, elem } => {
            let (stride, cells) = (chan_stride(elem.size()), at + CHAN_HEADER_SIZE as u64);
            let state = |p: u64| uint(area, cells + (p % cap) * stride, 8);
            let (tail, head) = chan_positions(*cap, uint(area, at, 8), uint(area, at + 64, 8), state);
            Value::Chan {
                len: tail.saturating_sub(head).min(*cap),
                cap: *cap,
                closed: uint(area, at + 144, 4) != 0,
                receivers: uint(area, at + 136, 4) as u32,
                senders: uint(area, at + 140, 4) as u32,
                sent: tail,
                leases: [lease_slot(uint(area, at + 8, 4) as u32), lease_slot(uint(area, at + 72, 4) as u32)],
            }
        }
        Type::Table { cap, key, value } => {
            let epoch = uint(area, at, 8) & TABLE_EPOCH_MASK;
            let stride = table_stride(key.size(), value.size());
            let first = at + TABLE_HEADER_SIZE as u64;
            let len = (0..*cap)
                .filter(|i| {
                    let s = uint(area, first + i * stride, 8);
                    let kind = s & 3;
                    // A slot of another epoch is empty; a BUSY replace still holds its entry.
                    s >> 34 == epoch && (kind == TABLE_FULL || (kind == TABLE_BUSY && s & 8 != 0))
                })
                .count() as u64;
            Value::Table { len, cap: *cap }
        }
        Type::Other { size, .. } => {
            let (at, n) = (at as usize, (*size as usize).min(64));
            Value::Raw(area.get(at..at + n).unwrap_or(&[]).to_vec())
        }
    }
}

/// Shortest text that reads back as the same value, always with a `.` or an exponent
/// (so JSON readers see a float).
fn float_text(v: f64, is32: bool) -> String {
    if is32 {
        format!("{:?}", v as f32)
    } else {
        format!("{v:?}")
    }
}

/// Writes each item with `f`, `sep` between them.
fn joined<T>(o: &mut String, items: &[T], sep: &str, mut f: impl FnMut(&mut String, &T)) {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            o.push_str(sep);
        }
        f(o, x);
    }
}

impl Value {
    /// The compact text form: `{id: 7, ok: true}`, `[1, 2, ... 98 more]`.
    pub fn text(&self) -> String {
        let mut o = String::new();
        self.write_text(&mut o);
        o
    }

    fn write_text(&self, o: &mut String) {
        match self {
            Value::Int(v) => { let _ = write!(o, "{v}"); }
            Value::UInt(v) => { let _ = write!(o, "{v}"); }
            Value::Float(v, is32) => o.push_str(&float_text(*v, *is32)),
            Value::Bool(v) => { let _ = write!(o, "{v}"); }
            Value::Enum(Some(n), _) => o.push_str(n),
            Value::Enum(None, v) => { let _ = write!(o, "{v} (no variant)"); }
            Value::Struct(fields) => {
                o.push('{');
                joined(o, fields, ", ", |o, (n, v)| {
                    o.push_str(n);
                    o.push_str(": ");
                    v.write_text(o);
                });
                o.push('}');
            }
            Value::List(items, len) => {
                o.push('[');
                joined(o, items, ", ", |o, v| v.write_text(o));
                let more = len.saturating_sub(items.len() as u64);
                if more > 0 {
                    let _ = write!(o, ", ... {more} more");
                }
                o.push(']');
            }
            Value::Mutex { holder, waiters, dead_holder } => {
                match (holder, dead_holder) {
                    (Some(pid), _) => { let _ = write!(o, "held by pid {pid}"); }
                    (None, true) => o.push_str("free (its holder died holding it)"),
                    (None, false) => o.push_str("free"),
                }
                if *waiters {
                    o.push_str(", waiters asleep");
                }
            }
            Value::Chan { len, cap, closed, senders, receivers, leases, .. } => {
                let _ = write!(
                    o,
                    "{len} of {cap} messages, {}, {senders} senders and {receivers} receivers asleep",
                    if *closed { "closed" } else { "open" }
                );
                for (side, slot) in ["send", "receive"].iter().zip(leases) {
                    if let Some(s) = slot {
                        let _ = write!(o, ", {side} side leased to slot {s}");
                    }
                }
            }
            Value::Table { len, cap } => { let _ = write!(o, "{len} of {cap} entries"); }
            Value::Raw(b) => {
                o.push_str("0x");
                for x in b {
                    let _ = write!(o, "{x:02x}");
                }
            }
        }
    }

    /// The JSON form: structs as objects, arrays and tuples as lists, a Mutex as
    /// `{"holder": PID or null, ...}`.
    pub fn json(&self) -> String {
        let mut o = String::new();
        self.write_json(&mut o);
        o
    }

    fn write_json(&self, o: &mut String) {
        match self {
            Value::Float(v, is32) if v.is_finite() => o.push_str(&float_text(*v, *is32)),
            Value::Float(v, _) => o.push_str(&json_str(&format!("{v}"))),
            Value::Enum(Some(n), _) => o.push_str(&json_str(n)),
            Value::Enum(None, v) => { let _ = write!(o, "{v}"); }
            Value::Struct(fields) => {
                o.push('{');
                joined(o, fields, ",", |o, (n, v)| {
                    o.push_str(&json_str(n));
                    o.push(':');
                    v.write_json(o);
                });
                o.push('}');
            }
            Value::List(items, _) => {
                o.push('[');
                joined(o, items, ",", |o, v| v.write_json(o));
                o.push(']');
            }
            Value::Mutex { holder, waiters, dead_holder } => {
                let h = holder.map_or("null".to_string(), |p| p.to_string());
                let _ = write!(o, "{{\"holder\":{h},\"waiters\":{waiters},\"dead_holder\":{dead_holder}}}");
            }
            Value::Chan { len, cap, closed, senders, receivers, sent, leases } => {
                let [ls, lr] = leases.map(|l| l.map_or("null".to_string(), |s| s.to_string()));
                let _ = write!(
                    o,
                    "{{\"length\":{len},\"capacity\":{cap},\"closed\":{closed},\"sleeping_senders\":{senders},\"sleeping_receivers\":{receivers},\"sent\":{sent},\"send_lease_slot\":{ls},\"recv_lease_slot\":{lr}}}"
                );
            }
            Value::Table { len, cap } => { let _ = write!(o, "{{\"length\":{len},\"capacity\":{cap}}}"); }
            Value::Raw(_) => o.push_str(&json_str(&self.text())),
            _ => self.write_text(o),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_of_empty_elements_stay_small_however_long() {
        let empty = Type::Struct { name: "E".into(), size: 0, fields: vec![] };
        let inner = Type::Array { len: 1 << 40, elem: Box::new(empty) };
        let t = Type::Array { len: 1 << 40, elem: Box::new(inner) };
        let v = read(&[], 0, &t, None);
        let Value::List(items, len) = &v else { panic!("{v:?}") };
        assert_eq!((items.len() as u64, *len), (SHOWN, 1 << 40));
        assert!(v.json().len() < 1000 && v.text().contains("more"));
    }

    #[test]
    fn values_by_type() {
        let area: Vec<u8> = [0xfeu8, 0xff, 0xff, 0xff, 1, 0, 0, 0].to_vec();
        assert_eq!(read(&area, 0, &Type::Int { signed: true, size: 4 }, None), Value::Int(-2));
        assert_eq!(read(&area, 0, &Type::Int { signed: false, size: 2 }, None), Value::UInt(0xfffe));
        assert_eq!(read(&area, 4, &Type::Bool, None).text(), "true");
        let e = Type::Enum { name: "E".into(), signed: true, size: 1, variants: vec![("MINUS".into(), -2)] };
        assert_eq!(read(&area, 0, &e, None).json(), "\"MINUS\"");
        assert_eq!(read(&area, 1, &e, None).text(), "-1 (no variant)");
        // Reads past the end answer zeros, never a panic.
        assert_eq!(read(&area, 6, &Type::Int { signed: false, size: 8 }, None), Value::UInt(0));
    }
}

/// The attach-table slot of a channel side's lease holder (runtime-c/truk_fleet.h,
/// "Channels": leases), None in shared mode, closed or while being revoked.
fn lease_slot(word: u32) -> Option<u32> {
    if word == 0 || word & (CHAN_LEASE_REVOKING | CHAN_LEASE_CLOSED) != 0 {
        return None;
    }
    Some((word & ((1 << CHAN_MOVER_SLOT_BITS) - 1)).wrapping_sub(1))
}
