//! Build and layout fingerprints, and the note that carries them inside binaries.
//!
//! See `shared/spec/fleet.md` ("Words", "Where the fingerprint lives").
//!
//! # Build fingerprint (format 1)
//! SHA-256 over this byte string (every `str(x)` is a u64 little-endian byte length followed
//! by the bytes; every `u64(n)` is 8 bytes little-endian):
//!
//! ```text
//! "truk-build-fingerprint\0"  u32le(1)            -- domain tag, format version
//! str(compiler_version) str(target) str(profile)
//! u64(#flags)  str(flag)...                        -- sorted, duplicates removed
//! u64(#files)  (str(path) str(contents))...        -- sorted by path, then contents
//! ```
//!
//! The driver passes `driver::build::fingerprint_version()` as `compiler_version`: the crate
//! version and a hash of the runtime's C sources.
//!
//! Flags are a *set*: their order on the command line does not matter, and the caller passes
//! each option that changes the output once, normalized as `name=value` (e.g.
//! `fleet-capacity=1024`), with its effective value (after defaults). A default that is left
//! out and the same default spelled out give different fingerprints, so callers must be
//! consistent: always pass every output-changing option, or only the non-default ones.
//!
//! File paths are relative to the entry file's folder and `/`-separated; they are hashed as
//! given (no normalization here), so the caller must produce them canonically (no `./`, no
//! `..`, no absolute paths). The order of the `files` vector does not matter.
//!
//! # Layout fingerprint (format 1)
//! SHA-256 over:
//!
//! ```text
//! "truk-layout-fingerprint\0" u32le(1)
//! u64(#vars)
//! -- only when #vars > 0:
//! str(data_layout)  (str(var name) type(var type))...   -- declaration order
//! ```
//!
//! where `type(t)` is a one-byte tag followed by the variant's fields (see
//! [`LayoutType`] and `encode_layout_type`). With no shared variables the fingerprint is the
//! hash of the tag, the version and a zero count only: the constant
//! [`EMPTY_LAYOUT_FINGERPRINT_HEX`], the same on every target (nothing is laid out, so the
//! data layout does not matter).

use sha2::{Digest, Sha256};

/// Domain-separation tag of the build fingerprint.
pub const BUILD_FP_TAG: &[u8] = b"truk-build-fingerprint\0";
/// Format version of the build fingerprint encoding.
pub const BUILD_FP_VERSION: u32 = 1;
/// Domain-separation tag of the layout fingerprint.
pub const LAYOUT_FP_TAG: &[u8] = b"truk-layout-fingerprint\0";
/// Format version of the layout fingerprint encoding.
pub const LAYOUT_FP_VERSION: u32 = 1;
/// `hex(layout_fingerprint(&[], any_data_layout))`: the layout fingerprint of a build with no
/// shared variables. Also `TRUK_LAYOUT_FP_EMPTY_HEX` in `runtime-c/truk_note.h`.
pub const EMPTY_LAYOUT_FINGERPRINT_HEX: &str =
    "02d5a6f705a597a9fbfceaa589283869afa6265c4861c5d73497932eea102138";

/// Everything that decides what a binary does. See the module documentation.
#[derive(Debug, Clone)]
pub struct BuildInputs<'a> {
    pub compiler_version: &'a str,
    pub target: &'a str,
    /// `"debug"` or `"release"`.
    pub profile: &'a str,
    /// Other options that change the output, normalized as `name=value`; a set (sorted and
    /// deduplicated before hashing).
    pub flags: Vec<String>,
    /// `(path relative to the entry file's folder, '/'-separated; contents)`, any order.
    pub files: Vec<(String, &'a [u8])>,
}

fn put_u32(h: &mut Sha256, n: u32) {
    h.update(n.to_le_bytes());
}

fn put_u64(h: &mut Sha256, n: u64) {
    h.update(n.to_le_bytes());
}

fn put_str(h: &mut Sha256, s: &[u8]) {
    put_u64(h, s.len() as u64);
    h.update(s);
}

/// The build fingerprint of `inputs` (format 1, see the module documentation).
pub fn build_fingerprint(inputs: &BuildInputs) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(BUILD_FP_TAG);
    put_u32(&mut h, BUILD_FP_VERSION);
    put_str(&mut h, inputs.compiler_version.as_bytes());
    put_str(&mut h, inputs.target.as_bytes());
    put_str(&mut h, inputs.profile.as_bytes());

    let mut flags: Vec<&str> = inputs.flags.iter().map(String::as_str).collect();
    flags.sort_unstable();
    flags.dedup();
    put_u64(&mut h, flags.len() as u64);
    for f in flags {
        put_str(&mut h, f.as_bytes());
    }

    let mut files: Vec<(&str, &[u8])> =
        inputs.files.iter().map(|(p, b)| (p.as_str(), *b)).collect();
    files.sort_unstable();
    put_u64(&mut h, files.len() as u64);
    for (path, bytes) in files {
        put_str(&mut h, path.as_bytes());
        put_str(&mut h, bytes);
    }
    h.finalize().into()
}

/// A finalized layout, as placed in shared memory. Plain data; the compiler's type checker
/// builds it after layout, the fingerprint hashes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutType {
    /// Integers, bool, floats: `name` is the Truk spelling (`u64`, `bool`, ...).
    Prim { name: String, size: u64, align: u64 },
    /// `fields`: `(field name, byte offset, type)` in declaration order.
    Struct {
        name: String,
        size: u64,
        align: u64,
        fields: Vec<(String, u64, LayoutType)>,
    },
    Array {
        len: u64,
        elem: Box<LayoutType>,
        size: u64,
        align: u64,
    },
    /// An enum is laid out as its base integer type; `variants` are its names and values
    /// (what `truk fleet inspect` shows).
    Enum { name: String, base: Box<LayoutType>, variants: Vec<(String, i128)> },
    /// `fields`: `(byte offset, type)` in order.
    Tuple {
        size: u64,
        align: u64,
        fields: Vec<(u64, LayoutType)>,
    },
    /// The builtin `Mutex` (a robust process-shared mutex; 40 bytes, 8-aligned today).
    Mutex { size: u64, align: u64 },
    /// `chan[T, N]`: header, then `cap` cells holding `elem` (`runtime-c/truk_fleet.h`).
    Chan { cap: u64, size: u64, align: u64, elem: Box<LayoutType> },
    /// `table[K, V, N]`: header, then `cap` slots of `key` and `value` (`runtime-c/truk_fleet.h`).
    Table { cap: u64, size: u64, align: u64, key: Box<LayoutType>, value: Box<LayoutType> },
}

// Tags of the layout type encoding (format 1). Never reuse a number.
const LT_PRIM: u8 = 1;
const LT_STRUCT: u8 = 2;
const LT_ARRAY: u8 = 3;
const LT_ENUM: u8 = 4;
const LT_TUPLE: u8 = 5;
const LT_MUTEX: u8 = 6;
// 7: `chan` before its header held the sides' leases (retired).
const LT_CHAN: u8 = 9;
const LT_TABLE: u8 = 8;

/// `type(t)` of the layout fingerprint:
/// - Prim:   `1 str(name) u64(size) u64(align)`
/// - Struct: `2 str(name) u64(size) u64(align) u64(#fields) (str(field) u64(offset) type)...`
/// - Array:  `3 u64(len) u64(size) u64(align) type(elem)`
/// - Enum:   `4 str(name) type(base) u64(#variants) (str(variant) i128(value))...`
/// - Tuple:  `5 u64(size) u64(align) u64(#fields) (u64(offset) type)...`
/// - Mutex:  `6 u64(size) u64(align)`
/// - Chan:   `9 u64(cap) u64(size) u64(align) type(elem)`
/// - Table:  `8 u64(cap) u64(size) u64(align) type(key) type(value)`
fn encode_layout_type(h: &mut Sha256, t: &LayoutType) {
    match t {
        LayoutType::Prim { name, size, align } => {
            h.update([LT_PRIM]);
            put_str(h, name.as_bytes());
            put_u64(h, *size);
            put_u64(h, *align);
        }
        LayoutType::Struct {
            name,
            size,
            align,
            fields,
        } => {
            h.update([LT_STRUCT]);
            put_str(h, name.as_bytes());
            put_u64(h, *size);
            put_u64(h, *align);
            put_u64(h, fields.len() as u64);
            for (fname, off, ft) in fields {
                put_str(h, fname.as_bytes());
                put_u64(h, *off);
                encode_layout_type(h, ft);
            }
        }
        LayoutType::Array {
            len,
            elem,
            size,
            align,
        } => {
            h.update([LT_ARRAY]);
            put_u64(h, *len);
            put_u64(h, *size);
            put_u64(h, *align);
            encode_layout_type(h, elem);
        }
        LayoutType::Enum { name, base, variants } => {
            h.update([LT_ENUM]);
            put_str(h, name.as_bytes());
            encode_layout_type(h, base);
            put_u64(h, variants.len() as u64);
            for (v, value) in variants {
                put_str(h, v.as_bytes());
                h.update(value.to_le_bytes());
            }
        }
        LayoutType::Tuple {
            size,
            align,
            fields,
        } => {
            h.update([LT_TUPLE]);
            put_u64(h, *size);
            put_u64(h, *align);
            put_u64(h, fields.len() as u64);
            for (off, ft) in fields {
                put_u64(h, *off);
                encode_layout_type(h, ft);
            }
        }
        LayoutType::Mutex { size, align } => {
            h.update([LT_MUTEX]);
            put_u64(h, *size);
            put_u64(h, *align);
        }
        LayoutType::Chan { cap, size, align, elem } => {
            h.update([LT_CHAN]);
            put_u64(h, *cap);
            put_u64(h, *size);
            put_u64(h, *align);
            encode_layout_type(h, elem);
        }
        LayoutType::Table { cap, size, align, key, value } => {
            h.update([LT_TABLE]);
            put_u64(h, *cap);
            put_u64(h, *size);
            put_u64(h, *align);
            encode_layout_type(h, key);
            encode_layout_type(h, value);
        }
    }
}

/// The layout fingerprint of the shared variables `vars` (declaration order) under the
/// target's LLVM `data_layout` string. With no variables: [`EMPTY_LAYOUT_FINGERPRINT_HEX`].
pub fn layout_fingerprint(vars: &[(String, LayoutType)], data_layout: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LAYOUT_FP_TAG);
    put_u32(&mut h, LAYOUT_FP_VERSION);
    put_u64(&mut h, vars.len() as u64);
    if !vars.is_empty() {
        put_str(&mut h, data_layout.as_bytes());
        for (name, t) in vars {
            put_str(&mut h, name.as_bytes());
            encode_layout_type(&mut h, t);
        }
    }
    h.finalize().into()
}

/// Lower-case hex, 64 digits.
pub fn hex(fp: &[u8; 32]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in fp {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The note
// ---------------------------------------------------------------------------------------------

/// ELF note owner name (without the terminating NUL; `namesz` counts it: 5).
pub const NOTE_NAME: &str = "Truk";
/// ELF note type of the fingerprint note (scoped by the owner name).
pub const NOTE_TYPE: u32 = 0x5452_4b31; // "TRK1" read as a big-endian word: easy to spot in dumps
/// ELF section holding the note.
pub const NOTE_SECTION_ELF: &str = ".note.truk";
/// Mach-O segment and section holding the same bytes (a complete ELF-style note record).
pub const NOTE_SEGMENT_MACHO: &str = "__TEXT";
pub const NOTE_SECTION_MACHO: &str = "__truk_fp";
/// Descriptor format version.
pub const NOTE_VERSION: u32 = 1;
/// Fixed-offset fields of the descriptor (all little-endian, on every target).
pub const NOTE_OFF_VERSION: usize = 0; // u32
pub const NOTE_OFF_FLEET_CAPACITY: usize = 4; // u32
pub const NOTE_OFF_REGION_SIZE: usize = 8; // u64
pub const NOTE_OFF_BUILD_FP: usize = 16; // [u8; 32]
pub const NOTE_OFF_LAYOUT_FP: usize = 48; // [u8; 32]
/// Size of the fixed part; the strings follow: target, profile, compiler_version, each a u32
/// little-endian byte length followed by UTF-8 bytes (no NUL, no padding).
pub const NOTE_OFF_STRINGS: usize = 80;
pub const NOTE_FIXED_SIZE: usize = 80;
/// Largest string accepted by `decode` (a sanity bound, not a format limit of encode).
pub const NOTE_MAX_STRING: usize = 4096;

/// What the note says about the binary that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteInfo {
    pub build_fp: [u8; 32],
    pub layout_fp: [u8; 32],
    pub target: String,
    pub profile: String,
    pub compiler_version: String,
    pub region_size: u64,
    pub fleet_capacity: u32,
}

impl NoteInfo {
    /// The note *descriptor* (format 1), without the ELF note header and without padding.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(
            NOTE_FIXED_SIZE
                + 12
                + self.target.len()
                + self.profile.len()
                + self.compiler_version.len(),
        );
        v.extend_from_slice(&NOTE_VERSION.to_le_bytes());
        v.extend_from_slice(&self.fleet_capacity.to_le_bytes());
        v.extend_from_slice(&self.region_size.to_le_bytes());
        v.extend_from_slice(&self.build_fp);
        v.extend_from_slice(&self.layout_fp);
        debug_assert_eq!(v.len(), NOTE_OFF_STRINGS);
        for s in [&self.target, &self.profile, &self.compiler_version] {
            v.extend_from_slice(&(s.len() as u32).to_le_bytes());
            v.extend_from_slice(s.as_bytes());
        }
        v
    }

    /// Parses a descriptor made by [`NoteInfo::encode`]. Every length is checked; damaged
    /// input gives `Err` with a one-line reason, never a panic.
    pub fn decode(d: &[u8]) -> Result<NoteInfo, String> {
        if d.len() < 4 {
            return Err(format!(
                "descriptor is {} bytes, too short for a format version",
                d.len()
            ));
        }
        let version = u32::from_le_bytes(d[0..4].try_into().unwrap());
        if version != NOTE_VERSION {
            return Err(format!(
                "unsupported note format version {version} (this truk reads version {NOTE_VERSION})"
            ));
        }
        if d.len() < NOTE_FIXED_SIZE {
            return Err(format!(
                "descriptor is {} bytes, shorter than its fixed part ({NOTE_FIXED_SIZE})",
                d.len()
            ));
        }
        let fleet_capacity =
            u32::from_le_bytes(d[NOTE_OFF_FLEET_CAPACITY..][..4].try_into().unwrap());
        let region_size = u64::from_le_bytes(d[NOTE_OFF_REGION_SIZE..][..8].try_into().unwrap());
        let build_fp: [u8; 32] = d[NOTE_OFF_BUILD_FP..][..32].try_into().unwrap();
        let layout_fp: [u8; 32] = d[NOTE_OFF_LAYOUT_FP..][..32].try_into().unwrap();
        let mut pos = NOTE_OFF_STRINGS;
        let mut strings = Vec::with_capacity(3);
        for what in ["target", "profile", "compiler version"] {
            let Some(len_bytes) = d.get(pos..pos + 4) else {
                return Err(format!("descriptor ends before the length of the {what}"));
            };
            let len = u32::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            pos += 4;
            if len > NOTE_MAX_STRING {
                return Err(format!(
                    "{what} length {len} is implausible (limit {NOTE_MAX_STRING})"
                ));
            }
            let Some(bytes) = d.get(pos..pos + len) else {
                return Err(format!(
                    "{what} ({len} bytes) runs past the end of the descriptor"
                ));
            };
            let s = std::str::from_utf8(bytes).map_err(|_| format!("{what} is not valid UTF-8"))?;
            strings.push(s.to_string());
            pos += len;
        }
        if pos != d.len() {
            return Err(format!(
                "{} unexpected bytes after the descriptor's last field",
                d.len() - pos
            ));
        }
        let compiler_version = strings.pop().unwrap();
        let profile = strings.pop().unwrap();
        let target = strings.pop().unwrap();
        Ok(NoteInfo {
            build_fp,
            layout_fp,
            target,
            profile,
            compiler_version,
            region_size,
            fleet_capacity,
        })
    }
}

/// Is `triple`'s architecture big-endian? (The ELF note *header* words follow the file's byte
/// order; the descriptor is little-endian everywhere.)
pub fn triple_is_big_endian(triple: &str) -> bool {
    let arch = triple.split('-').next().unwrap_or("");
    matches!(
        arch,
        "aarch64_be"
            | "armeb"
            | "armebv7"
            | "thumbeb"
            | "bpfeb"
            | "mips"
            | "mips64"
            | "powerpc"
            | "powerpc64"
            | "ppc"
            | "ppc64"
            | "s390x"
            | "sparc"
            | "sparcv9"
            | "sparc64"
            | "m68k"
    )
}

/// A complete note record: `namesz descsz type`, `"Truk\0"` padded to 4, the descriptor padded
/// to 4. Header words in the byte order of `triple`.
pub fn note_record(info: &NoteInfo, triple: &str) -> Vec<u8> {
    let desc = info.encode();
    let be = triple_is_big_endian(triple);
    let word = |n: u32| if be { n.to_be_bytes() } else { n.to_le_bytes() };
    let mut v = Vec::with_capacity(12 + 8 + desc.len() + 3);
    v.extend_from_slice(&word(NOTE_NAME.len() as u32 + 1));
    v.extend_from_slice(&word(desc.len() as u32));
    v.extend_from_slice(&word(NOTE_TYPE));
    v.extend_from_slice(NOTE_NAME.as_bytes());
    v.push(0);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v.extend_from_slice(&desc);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs<'a>(files: Vec<(&str, &'a [u8])>) -> BuildInputs<'a> {
        BuildInputs {
            compiler_version: "0.1.0",
            target: "x86_64-unknown-linux-gnu",
            profile: "debug",
            flags: vec!["fleet-capacity=1024".into()],
            files: files.into_iter().map(|(p, b)| (p.to_string(), b)).collect(),
        }
    }

    #[test]
    fn build_fp_is_deterministic_and_path_independent() {
        // The inputs carry only relative paths: a checkout in another folder produces the
        // same BuildInputs, hence the same fingerprint.
        let a = build_fingerprint(&inputs(vec![
            ("main.truk", b"fn main() {}"),
            ("lib/x.truk", b"x"),
        ]));
        let b = build_fingerprint(&inputs(vec![
            ("main.truk", b"fn main() {}"),
            ("lib/x.truk", b"x"),
        ]));
        assert_eq!(a, b);
        assert_eq!(hex(&a).len(), 64);
    }

    #[test]
    fn build_fp_file_order_does_not_matter() {
        let a = build_fingerprint(&inputs(vec![
            ("main.truk", b"m"),
            ("a.truk", b"a"),
            ("z/b.truk", b"b"),
        ]));
        let b = build_fingerprint(&inputs(vec![
            ("z/b.truk", b"b"),
            ("main.truk", b"m"),
            ("a.truk", b"a"),
        ]));
        assert_eq!(a, b);
    }

    #[test]
    fn build_fp_flag_order_does_not_matter() {
        let mut i1 = inputs(vec![("main.truk", b"m")]);
        i1.flags = vec!["fleet-capacity=8".into(), "opt=2".into()];
        let mut i2 = i1.clone();
        i2.flags = vec!["opt=2".into(), "fleet-capacity=8".into()];
        assert_eq!(build_fingerprint(&i1), build_fingerprint(&i2));
    }

    #[test]
    fn build_fp_changes_with_every_input() {
        let base = inputs(vec![("main.truk", b"fn main() {}"), ("lib/x.truk", b"x")]);
        let fp = build_fingerprint(&base);
        let mut seen = vec![fp];
        let mut check = |i: &BuildInputs, what: &str| {
            let f = build_fingerprint(i);
            assert!(!seen.contains(&f), "{what}: fingerprint did not change");
            seen.push(f);
        };
        check(
            &inputs(vec![("main.truk", b"fn main() {]"), ("lib/x.truk", b"x")]),
            "one byte",
        );
        check(
            &inputs(vec![("main.truk", b"fn main() {}"), ("lib/y.truk", b"x")]),
            "path",
        );
        check(
            &inputs(vec![("main.truk", b"fn main() {}")]),
            "file removed",
        );
        check(
            &inputs(vec![
                ("main.truk", b"fn main() {}"),
                ("lib/x.truk", b"x"),
                ("e.truk", b""),
            ]),
            "empty file added",
        );
        let mut i = base.clone();
        i.profile = "release";
        check(&i, "profile");
        let mut i = base.clone();
        i.target = "aarch64-unknown-linux-gnu";
        check(&i, "target");
        let mut i = base.clone();
        i.compiler_version = "0.1.1";
        check(&i, "compiler version");
        let mut i = base.clone();
        i.flags = vec!["fleet-capacity=1025".into()];
        check(&i, "flag value");
        let mut i = base.clone();
        i.flags.push("opt=3".into());
        check(&i, "flag added");
        let mut i = base.clone();
        i.flags.clear();
        check(&i, "flags removed");
    }

    #[test]
    fn build_fp_encoding_is_unambiguous() {
        // Moving bytes between a path and its contents, or between two files, must change it.
        let a = build_fingerprint(&inputs(vec![("ab", b"c")]));
        let b = build_fingerprint(&inputs(vec![("a", b"bc")]));
        assert_ne!(a, b);
        let a = build_fingerprint(&inputs(vec![("a", b"xy"), ("b", b"z")]));
        let b = build_fingerprint(&inputs(vec![("a", b"x"), ("b", b"yz")]));
        assert_ne!(a, b);
        let mut i1 = inputs(vec![]);
        i1.flags = vec!["ab".into(), "c".into()];
        let mut i2 = inputs(vec![]);
        i2.flags = vec!["a".into(), "bc".into()];
        assert_ne!(build_fingerprint(&i1), build_fingerprint(&i2));
    }

    /// Known answers, computed by an independent implementation of the documented encoding
    /// (a few lines of Python's hashlib/struct). A change here is a format change: bump the
    /// format version.
    #[test]
    fn known_answers() {
        let i = BuildInputs {
            compiler_version: "0.1.0",
            target: "x86_64-unknown-linux-gnu",
            profile: "release",
            flags: vec!["opt=2".into(), "fleet-capacity=1024".into(), "opt=2".into()],
            files: vec![
                ("main.truk".into(), b"fn main() {}\n"),
                ("lib/a.truk".into(), b""),
            ],
        };
        assert_eq!(
            hex(&build_fingerprint(&i)),
            "bbfdb3cf1dca022bcb9293883bf421e98fcd0514a26c4db0825a17ff30400bd1"
        );
        let vars = vec![
            ("hits".to_string(), u64t()),
            (
                "e".to_string(),
                LayoutType::Struct {
                    name: "E".into(),
                    size: 16,
                    align: 8,
                    fields: vec![
                        ("k".into(), 0, u32t()),
                        ("m".into(), 8, LayoutType::Mutex { size: 8, align: 8 }),
                    ],
                },
            ),
        ];
        assert_eq!(
            hex(&layout_fingerprint(&vars, "DL")),
            "638cfdc3a8a243f80961d3fe96d170bcda8d3f99106676b5efaaab78f04092c2"
        );
    }

    fn u64t() -> LayoutType {
        LayoutType::Prim {
            name: "u64".into(),
            size: 8,
            align: 8,
        }
    }
    fn u32t() -> LayoutType {
        LayoutType::Prim {
            name: "u32".into(),
            size: 4,
            align: 4,
        }
    }

    #[test]
    fn layout_fp_empty_is_the_documented_constant() {
        let e1 = layout_fingerprint(
            &[],
            "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128",
        );
        let e2 = layout_fingerprint(&[], "");
        assert_eq!(e1, e2);
        assert_eq!(hex(&e1), EMPTY_LAYOUT_FINGERPRINT_HEX);
    }

    #[test]
    fn layout_fp_sensitivity() {
        let dl = "e-m:e-i64:64-n32:64-S128";
        let entry = LayoutType::Struct {
            name: "Entry".into(),
            size: 16,
            align: 8,
            fields: vec![("key".into(), 0, u32t()), ("val".into(), 8, u64t())],
        };
        let base = vec![
            ("hits".to_string(), u64t()),
            (
                "table".to_string(),
                LayoutType::Array {
                    len: 4,
                    elem: Box::new(entry.clone()),
                    size: 64,
                    align: 8,
                },
            ),
            ("lock".to_string(), LayoutType::Mutex { size: 40, align: 8 }),
        ];
        let fp = layout_fingerprint(&base, dl);
        assert_eq!(fp, layout_fingerprint(&base, dl));
        assert_ne!(hex(&fp), EMPTY_LAYOUT_FINGERPRINT_HEX);
        let mut seen = vec![fp];
        let mut check = |v: &[(String, LayoutType)], dl: &str, what: &str| {
            let f = layout_fingerprint(v, dl);
            assert!(
                !seen.contains(&f),
                "{what}: layout fingerprint did not change"
            );
            seen.push(f);
        };
        check(&base, "e-m:e-i64:64-n32:64-S64", "data layout");
        let mut v = base.clone();
        v.swap(0, 2);
        check(&v, dl, "declaration order");
        let mut v = base.clone();
        v[0].0 = "hits2".into();
        check(&v, dl, "variable name");
        let mut v = base.clone();
        v[2].1 = LayoutType::Mutex { size: 48, align: 8 };
        check(&v, dl, "mutex size");
        let mut moved = entry.clone();
        if let LayoutType::Struct { fields, .. } = &mut moved {
            fields[1].1 = 4;
        }
        let mut v = base.clone();
        v[1].1 = LayoutType::Array {
            len: 4,
            elem: Box::new(moved),
            size: 64,
            align: 8,
        };
        check(&v, dl, "field offset");
        let mut v = base.clone();
        v[1].1 = LayoutType::Array {
            len: 5,
            elem: Box::new(entry.clone()),
            size: 80,
            align: 8,
        };
        check(&v, dl, "array length");
        let mut v = base.clone();
        v[0].1 = LayoutType::Enum {
            name: "E".into(),
            base: Box::new(u64t()),
            variants: vec![("A".into(), 0)],
        };
        check(&v, dl, "enum instead of prim");
        v[0].1 = LayoutType::Enum {
            name: "E".into(),
            base: Box::new(u64t()),
            variants: vec![("B".into(), 0)],
        };
        check(&v, dl, "enum variant name");
        let mut v = base.clone();
        v[0].1 = LayoutType::Tuple {
            size: 8,
            align: 8,
            fields: vec![(0, u64t())],
        };
        check(&v, dl, "tuple");
        let table = |cap: u64, key: LayoutType, value: LayoutType| LayoutType::Table { cap, size: 576 + cap * 32, align: 8, key: Box::new(key), value: Box::new(value) };
        for (t, what) in [
            (table(4, u64t(), entry.clone()), "table"),
            (table(5, u64t(), entry.clone()), "table capacity"),
            (table(4, u32t(), entry.clone()), "table key"),
            (table(4, u64t(), u64t()), "table value"),
        ] {
            let mut v = base.clone();
            v[1].1 = t;
            check(&v, dl, what);
        }
    }

    fn sample_note() -> NoteInfo {
        NoteInfo {
            build_fp: [0xab; 32],
            layout_fp: core::array::from_fn(|i| i as u8),
            target: "x86_64-unknown-linux-gnu".into(),
            profile: "release".into(),
            compiler_version: "0.1.0".into(),
            region_size: 0x1_0000_2000,
            fleet_capacity: 1024,
        }
    }

    #[test]
    fn note_roundtrip_and_fixed_offsets() {
        let n = sample_note();
        let d = n.encode();
        assert_eq!(NoteInfo::decode(&d).unwrap(), n);
        assert_eq!(
            u32::from_le_bytes(d[NOTE_OFF_VERSION..][..4].try_into().unwrap()),
            NOTE_VERSION
        );
        assert_eq!(
            u32::from_le_bytes(d[NOTE_OFF_FLEET_CAPACITY..][..4].try_into().unwrap()),
            1024
        );
        assert_eq!(
            u64::from_le_bytes(d[NOTE_OFF_REGION_SIZE..][..8].try_into().unwrap()),
            0x1_0000_2000
        );
        assert_eq!(&d[NOTE_OFF_BUILD_FP..][..32], &n.build_fp);
        assert_eq!(&d[NOTE_OFF_LAYOUT_FP..][..32], &n.layout_fp);
        let empty = NoteInfo {
            target: String::new(),
            profile: String::new(),
            compiler_version: String::new(),
            ..n
        };
        assert_eq!(NoteInfo::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn note_damaged_descriptors_are_errors() {
        let d = sample_note().encode();
        // Every truncation is an error, never a panic.
        for len in 0..d.len() {
            let e = NoteInfo::decode(&d[..len]).unwrap_err();
            assert!(!e.is_empty() && !e.contains('\n'), "{e}");
        }
        // Trailing bytes.
        let mut x = d.clone();
        x.push(0);
        assert!(NoteInfo::decode(&x)
            .unwrap_err()
            .contains("unexpected bytes"));
        // Wrong version.
        let mut x = d.clone();
        x[0] = 2;
        assert!(NoteInfo::decode(&x).unwrap_err().contains("version 2"));
        // Huge string length.
        let mut x = d.clone();
        x[NOTE_OFF_STRINGS..NOTE_OFF_STRINGS + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(NoteInfo::decode(&x).is_err());
        // Invalid UTF-8.
        let mut x = d.clone();
        x[NOTE_OFF_STRINGS + 4] = 0xff;
        assert!(NoteInfo::decode(&x).unwrap_err().contains("UTF-8"));
        // Every single-byte flip: Ok or Err, never a panic.
        for i in 0..d.len() {
            for bit in 0..8 {
                let mut x = d.clone();
                x[i] ^= 1 << bit;
                let _ = NoteInfo::decode(&x);
            }
        }
    }

    #[test]
    fn note_record_layout() {
        let n = sample_note();
        let r = note_record(&n, "x86_64-unknown-linux-gnu");
        assert_eq!(r.len() % 4, 0);
        assert_eq!(u32::from_le_bytes(r[0..4].try_into().unwrap()), 5);
        let descsz = u32::from_le_bytes(r[4..8].try_into().unwrap()) as usize;
        assert_eq!(u32::from_le_bytes(r[8..12].try_into().unwrap()), NOTE_TYPE);
        assert_eq!(&r[12..20], b"Truk\0\0\0\0");
        assert_eq!(NoteInfo::decode(&r[20..20 + descsz]).unwrap(), n);
        let rb = note_record(&n, "s390x-unknown-linux-gnu");
        assert_eq!(u32::from_be_bytes(rb[0..4].try_into().unwrap()), 5);
    }

    /// `runtime-c/truk_note.h` and the Rust constants agree.
    #[test]
    fn c_header_matches_rust_constants() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime-c/truk_note.h");
        let text = std::fs::read_to_string(path).expect("runtime-c/truk_note.h");
        let mut defs = std::collections::HashMap::new();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            if it.next() == Some("#define") {
                if let (Some(k), Some(v)) = (it.next(), it.next()) {
                    defs.insert(k.to_string(), v.to_string());
                }
            }
        }
        let num = |k: &str| -> u64 {
            let v = defs
                .get(k)
                .unwrap_or_else(|| panic!("{k} missing from truk_note.h"));
            let v = v.trim_end_matches(['u', 'U', 'l', 'L']);
            if let Some(h) = v.strip_prefix("0x") {
                u64::from_str_radix(h, 16).unwrap()
            } else {
                v.parse().unwrap()
            }
        };
        let string = |k: &str| -> String {
            let v = defs
                .get(k)
                .unwrap_or_else(|| panic!("{k} missing from truk_note.h"));
            v.trim_matches('"').to_string()
        };
        assert_eq!(string("TRUK_NOTE_NAME"), NOTE_NAME);
        assert_eq!(num("TRUK_NOTE_NAMESZ"), NOTE_NAME.len() as u64 + 1);
        assert_eq!(num("TRUK_NOTE_TYPE"), NOTE_TYPE as u64);
        assert_eq!(string("TRUK_NOTE_SECTION_ELF"), NOTE_SECTION_ELF);
        assert_eq!(string("TRUK_NOTE_SEGMENT_MACHO"), NOTE_SEGMENT_MACHO);
        assert_eq!(string("TRUK_NOTE_SECTION_MACHO"), NOTE_SECTION_MACHO);
        assert_eq!(num("TRUK_NOTE_VERSION"), NOTE_VERSION as u64);
        assert_eq!(num("TRUK_NOTE_OFF_VERSION"), NOTE_OFF_VERSION as u64);
        assert_eq!(
            num("TRUK_NOTE_OFF_FLEET_CAPACITY"),
            NOTE_OFF_FLEET_CAPACITY as u64
        );
        assert_eq!(
            num("TRUK_NOTE_OFF_REGION_SIZE"),
            NOTE_OFF_REGION_SIZE as u64
        );
        assert_eq!(num("TRUK_NOTE_OFF_BUILD_FP"), NOTE_OFF_BUILD_FP as u64);
        assert_eq!(num("TRUK_NOTE_OFF_LAYOUT_FP"), NOTE_OFF_LAYOUT_FP as u64);
        assert_eq!(num("TRUK_NOTE_OFF_STRINGS"), NOTE_OFF_STRINGS as u64);
        assert_eq!(num("TRUK_NOTE_FIXED_SIZE"), NOTE_FIXED_SIZE as u64);
        assert_eq!(num("TRUK_FP_SIZE"), 32);
        assert_eq!(
            string("TRUK_LAYOUT_FP_EMPTY_HEX"),
            EMPTY_LAYOUT_FINGERPRINT_HEX
        );
    }

    /// The header compiles, and its struct agrees with its own offsets (static asserts).
    #[test]
    fn c_header_compiles() {
        let dir = std::env::temp_dir().join(format!("truk-note-h-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = dir.join("t.c");
        std::fs::write(&c, "#include \"truk_note.h\"\nint main(void){return 0;}\n").unwrap();
        let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime-c");
        let out = std::process::Command::new("cc")
            .args(["-std=c11", "-Wall", "-Werror", "-fsyntax-only", "-I", inc])
            .arg(&c)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        match out {
            Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => eprintln!("skipping: no cc ({e})"),
        }
    }
}
