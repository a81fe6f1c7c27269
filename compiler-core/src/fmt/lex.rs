//! The tokens the formatter lays out: the spelling of every token exactly as written
//! (literals keep their form, comments their text), and the line breaks before each. Only
//! the whitespace between tokens is the formatter's to change.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Identifiers and keywords.
    Word,
    /// Numbers, strings, characters and `<header.h>` after `cimport`.
    Literal,
    Punct,
    LineComment,
    BlockComment,
}

#[derive(Clone, Debug)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// Line breaks in the whitespace before the token.
    pub breaks: usize,
}

/// Longest first, so that `<<=` is not read as `<<` and `=`.
const PUNCTS: [&str; 45] = [
    "...", "<<=", ">>=", "->", "=>", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "+=", "-=", "*=", "/=", "%=",
    "&=", "|=", "^=", "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "+", "-", "*", "/", "%", "&", "|", "^", "!",
    "~", "<", ">", "=", "@",
];

/// The tokens of a source that parses (the caller checks that first); `None` on a character
/// that is no token (which such a source never has).
pub fn tokens(src: &str) -> Option<Vec<Token<'_>>> {
    let b = src.as_bytes();
    let mut out: Vec<Token> = vec![];
    let mut i = 0;
    let mut breaks = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            breaks += (c == b'\n') as usize;
            i += 1;
            continue;
        }
        let start = i;
        let kind = if src[i..].starts_with("//") {
            i = src[i..].find('\n').map_or(b.len(), |n| i + n);
            Kind::LineComment
        } else if src[i..].starts_with("/*") {
            i = src[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            Kind::BlockComment
        } else if c.is_ascii_alphabetic() || c == b'_' {
            i = scan(b, i, |c| c.is_ascii_alphanumeric() || c == b'_');
            Kind::Word
        } else if c.is_ascii_digit() {
            i = number(b, i);
            Kind::Literal
        } else if c == b'"' || c == b'\'' {
            i = quoted(b, i, c);
            Kind::Literal
        } else if c == b'<' && out.last().is_some_and(|t| t.text == "cimport") {
            i = src[i..].find('>').map_or(b.len(), |n| i + n + 1);
            Kind::Literal
        } else {
            let p = PUNCTS.iter().find(|p| src[i..].starts_with(*p))?;
            i += p.len();
            Kind::Punct
        };
        // A line comment's trailing blanks go, as at the end of any other line.
        let text = if kind == Kind::LineComment { src[start..i].trim_end() } else { &src[start..i] };
        out.push(Token { kind, text, breaks });
        breaks = 0;
    }
    Some(out)
}

fn scan(b: &[u8], mut i: usize, ok: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && ok(b[i]) {
        i += 1;
    }
    i
}

/// A number: `0x..`, `0b..`, `0o..`, or decimal digits with an optional fraction and exponent.
fn number(b: &[u8], i: usize) -> usize {
    if b[i] == b'0' && i + 1 < b.len() && matches!(b[i + 1], b'x' | b'X' | b'b' | b'B' | b'o' | b'O') {
        return scan(b, i + 2, |c| c.is_ascii_alphanumeric() || c == b'_');
    }
    let mut j = scan(b, i, |c| c.is_ascii_digit());
    if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
        j = scan(b, j + 1, |c| c.is_ascii_digit());
    }
    if j < b.len() && matches!(b[j], b'e' | b'E') {
        let k = if j + 1 < b.len() && matches!(b[j + 1], b'+' | b'-') { j + 2 } else { j + 1 };
        if k < b.len() && b[k].is_ascii_digit() {
            j = scan(b, k, |c| c.is_ascii_digit());
        }
    }
    scan(b, j, |c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A string or character literal from its opening quote, escapes included.
fn quoted(b: &[u8], mut i: usize, quote: u8) -> usize {
    i += 1;
    while i < b.len() && b[i] != quote && b[i] != b'\n' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(b.len())
}
