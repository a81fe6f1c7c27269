//! How deep pest may recurse on a text, measured before pest sees it.
//!
//! pest is built without its `std` feature, which would probe the native stack at every
//! combinator call (about a fifth of a parse's instructions). A text that nests deeper than
//! the stack holds is instead cut here: [`cut`] finds the first place where the grammar's
//! recursion could go past [`cycles_on_this_stack`], and the parser hands pest only the text
//! before it (errors there are "nested too deeply", as the probe gave).
//!
//! Every recursive cycle of the grammar (`truk.pest`) consumes one of: an opening `(`, `[`
//! or `{` still open; a type step (`*` of a pointer, the `]` of `[]T`/`[N]T`, the `:` of a
//! function type's result); an `else` of an `if`/`else if` chain. A type step is never
//! active across `;`, `,`, `{` or `}` at its bracket level, an `else` chain never across
//! `;` or `,`, nor past an `if` that does not follow an `else`. So the recursion at any
//! point is at most the open brackets plus, per open level, the type steps and `else`s
//! since those. Strings, characters and comments are skipped as the grammar skips them (a
//! `/*` without its `*/` is no comment to pest, so none here).

/// The most stack one recursive cycle of the grammar takes (measured about 1 KiB per `(`
/// in release builds; unoptimized builds take more).
const CYCLE_BYTES: usize = 16 << 10;

/// Recursive cycles that fit on the current thread's remaining stack.
pub(super) fn cycles_on_this_stack() -> usize {
    let left = stacker::remaining_stack().unwrap_or(8 << 20);
    left.saturating_sub(256 << 10) / CYCLE_BYTES
}

#[derive(Clone, Copy, Default)]
struct Level {
    types: usize,
    elses: usize,
}

/// The first position at or after `from` where the recursion could exceed `limit` cycles,
/// scanning from `from` (where pest starts an item); `None` if it never does.
pub(super) fn cut(src: &str, from: usize, limit: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut open: Vec<Level> = Vec::new();
    let mut top = Level::default();
    // Open levels plus every level's type steps and elses.
    let mut total = 0usize;
    let mut after_else = false;
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        let at = i;
        i += 1;
        match c {
            // Most bytes: nothing to count.
            b' ' | b'\n' | b'\t' | b'\r' => continue,
            b'/' if b.get(i) == Some(&b'/') => {
                i = src[i..].find('\n').map_or(b.len(), |n| i + n);
                continue;
            }
            b'/' if b.get(i) == Some(&b'*') => {
                if let Some(n) = src[i + 1..].find("*/") {
                    i += 1 + n + 2;
                }
                continue;
            }
            b'"' | b'\'' => {
                i = literal_end(b, at);
                continue;
            }
            b'(' | b'[' | b'{' => {
                if c == b'{' {
                    total -= top.types;
                    top.types = 0;
                }
                open.push(top);
                top = Level::default();
                total += 1;
            }
            b')' | b']' | b'}' => {
                if let Some(outer) = open.pop() {
                    total -= 1 + top.types + top.elses;
                    top = outer;
                }
                if c == b']' {
                    top.types += 1;
                    total += 1;
                } else if c == b'}' {
                    total -= top.types;
                    top.types = 0;
                    if open.is_empty() {
                        // The end of a top-level item (no chain continues past it).
                        total -= top.elses;
                        top.elses = 0;
                    }
                }
            }
            b'*' | b':' => {
                top.types += 1;
                total += 1;
            }
            b';' | b',' => {
                total -= top.types + top.elses;
                top = Level::default();
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                match &src[at..i] {
                    "else" => {
                        top.elses += 1;
                        total += 1;
                        after_else = true;
                        continue;
                    }
                    "if" if !after_else => {
                        total -= top.elses;
                        top.elses = 0;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        after_else = false;
        if total > limit {
            return Some(at);
        }
    }
    None
}

/// The end of the string or character literal opening at `at`, as the grammar reads it:
/// to the closing quote on the line (`\` escapes the next character), else (`bad_str`,
/// `bad_char`) to the end of the line, a character one also to `;`, `,` or `)`.
fn literal_end(b: &[u8], at: usize) -> usize {
    let q = b[at];
    let mut i = at + 1;
    while i < b.len() && b[i] != b'\n' {
        if b[i] == q {
            return i + 1;
        }
        i += if b[i] == b'\\' && b.get(i + 1).is_some_and(|&n| n != b'\n') { 2 } else { 1 };
    }
    if q == b'"' {
        return i;
    }
    // `bad_char`: `\` and any character but a newline, or anything but ' \n ; , )
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if b.get(i + 1).is_some_and(|&n| n != b'\n') => i += 2,
            b'\'' | b'\n' | b';' | b',' | b')' => break,
            _ => i += 1,
        }
    }
    i
}
