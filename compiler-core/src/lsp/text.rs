//! Positions and file names as the protocol has them: lines and UTF-16 columns, `file://`
//! URIs.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The byte offset of a 0-based line and UTF-16 column (clamped to the text).
pub fn offset(text: &str, line: u32, col: u32) -> usize {
    let start = text.split_inclusive('\n').take(line as usize).map(str::len).sum::<usize>();
    let mut units = 0;
    for (i, c) in text[start..].char_indices() {
        if units >= col as usize || c == '\n' {
            return start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// The protocol position (`{line, character}`) of a byte offset.
pub fn position(text: &str, offset: usize) -> Value {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col: usize = before[line_start..].chars().map(char::len_utf16).sum();
    json!({ "line": line, "character": col })
}

pub fn range(text: &str, lo: usize, hi: usize) -> Value {
    json!({ "start": position(text, lo), "end": position(text, hi) })
}

/// The path of a `file://` URI.
pub fn path_of(uri: &str) -> PathBuf {
    let raw = uri.strip_prefix("file://").unwrap_or(uri).as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (raw[i], raw.get(i + 1).and_then(|&b| hex(b)), raw.get(i + 2).and_then(|&b| hex(b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(String::from_utf8_lossy(&out).into_owned())
}

/// The `file://` URI of a path.
pub fn uri_of(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = String::from("file://");
    for b in abs.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The identifier around a byte offset (empty when there is none).
pub fn word_at(text: &str, offset: usize) -> (usize, &str) {
    let is_id = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let offset = offset.min(text.len());
    let lo = text[..offset].rfind(|c| !is_id(c)).map_or(0, |i| i + 1);
    let hi = text[offset..].find(|c| !is_id(c)).map_or(text.len(), |i| offset + i);
    (lo, &text[lo..hi])
}
