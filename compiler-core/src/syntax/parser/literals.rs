//! Literals: integers, strings, characters and their escapes.

use super::*;

impl<'s> Builder<'s> {
    pub(super) fn int_value(&mut self, text: &str, span: Span) -> u128 {
        let (digits, radix) = match text.get(..2) {
            Some("0x" | "0X") => (&text[2..], 16),
            Some("0b" | "0B") => (&text[2..], 2),
            Some("0o" | "0O") => (&text[2..], 8),
            _ => (text, 10),
        };
        let mut v: u128 = 0;
        for ch in digits.chars() {
            let d = ch.to_digit(radix).unwrap_or(0) as u128;
            match v.checked_mul(radix as u128).and_then(|x| x.checked_add(d)) {
                Some(n) if n <= u64::MAX as u128 => v = n,
                _ => {
                    self.error(span, format!("integer literal `{text}` is too large (the largest is {})", u64::MAX));
                    return 0;
                }
            }
        }
        v
    }

    /// Bytes of a string literal (`str_lit` pair) after escape processing.
    pub(super) fn string_bytes(&mut self, p: P<'_>) -> Vec<u8> {
        let Some(inner) = p.into_inner().next() else { return Vec::new() };
        let start = self.base + inner.as_span().start();
        self.unescape(inner.as_str(), start)
    }

    pub(super) fn char_value(&mut self, p: P<'_>) -> u8 {
        let span = self.span(&p);
        let Some(inner) = p.into_inner().next() else { return 0 };
        let start = self.base + inner.as_span().start();
        let text = inner.as_str();
        if text.is_empty() {
            self.error(span, "empty character literal");
            return 0;
        }
        let errors_before = self.diags.len();
        let bytes = self.unescape(text, start);
        if self.diags.len() > errors_before {
            return 0;
        }
        if bytes.len() != 1 {
            let inside = Span::new(self.file, start, start + text.len());
            if text.starts_with('\\') || text.chars().count() > 1 {
                self.error(inside, "character literal holds more than one character");
            } else {
                self.error(inside, "character literal does not fit in one byte (only ASCII is allowed)");
            }
            return 0;
        }
        bytes[0]
    }

    /// Process escapes of a literal's body; `start` is its offset in the file.
    pub(super) fn unescape(&mut self, text: &str, start: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b != b'\\' {
                out.push(b);
                i += 1;
                continue;
            }
            let Some(&e) = bytes.get(i + 1) else {
                out.push(b'\\');
                break;
            };
            let v = match e {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'\\' => b'\\',
                b'\'' => b'\'',
                b'"' => b'"',
                b'x' => {
                    let hex = text.get(i + 2..i + 4).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                    match hex {
                        Some(h) => {
                            out.push(u8::from_str_radix(h, 16).unwrap_or(0));
                            i += 4;
                            continue;
                        }
                        None => {
                            let span = Span::new(self.file, start + i, start + i + 2);
                            self.error(span, "`\\x` must be followed by two hexadecimal digits");
                            i += 2;
                            continue;
                        }
                    }
                }
                _ => {
                    let ch = text[i + 1..].chars().next().unwrap_or('?');
                    let span = Span::new(self.file, start + i, start + i + 1 + ch.len_utf8());
                    self.error(span, format!("unknown escape sequence `\\{ch}`"));
                    i += 1 + ch.len_utf8();
                    continue;
                }
            };
            out.push(v);
            i += 2;
        }
        out
    }
}
