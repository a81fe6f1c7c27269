//! Unbalanced `{`, `(` and `[`, found on the source text when the parse fails: the parser
//! only notices the problem where the text stops making sense, often far below; this pass
//! reports an unclosed delimiter where it opens, and a stray closing one where it stands.
//!
//! Strings, characters and comments are skipped as the grammar reads them (a string or
//! character literal ends at the end of its line at the latest).

use crate::diag::{Diagnostic, Span};

struct Open {
    ch: u8,
    at: usize,
    /// Indentation of the line the delimiter opens on.
    indent: usize,
}

/// Diagnostics for the unbalanced delimiters of `text` (file id `file`); none when balanced.
pub fn check(text: &str, file: u32) -> Vec<Diagnostic> {
    let b = text.as_bytes();
    // Where each line starts: a delimiter's line is found in O(log n), not by a scan back
    // (which made long one-line sources quadratic).
    let starts: Vec<usize> = std::iter::once(0).chain(b.iter().enumerate().filter(|(_, c)| **c == b'\n').map(|(i, _)| i + 1)).collect();
    let line_start = |i: usize| starts[starts.partition_point(|s| *s <= i) - 1];
    let indent_of = |i: usize| b[line_start(i)..].iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    let mut stack: Vec<Open> = vec![];
    // The first closing delimiter that is indented unlike the line of the one it closes:
    // a hint to which block really lacks its end.
    let mut misaligned: Option<(Open, usize)> = None;
    // One report per problem, and a few at most: past that they only repeat.
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() && out.len() < 3 {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => i = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2),
            q @ (b'"' | b'\'') => i = literal_end(b, i, q),
            c @ (b'{' | b'(' | b'[') => {
                stack.push(Open { ch: c, at: i, indent: indent_of(i) });
                i += 1;
            }
            c @ (b'}' | b')' | b']') => {
                let want = opener(c);
                match stack.iter().rposition(|o| o.ch == want) {
                    Some(k) => {
                        // Openers above the match were never closed: report the innermost.
                        if k + 1 < stack.len() {
                            out.push(unclosed(file, stack.last().unwrap(), Some((c, i))));
                            stack.truncate(k + 1);
                        }
                        let o = stack.pop().unwrap();
                        let starts_line = line_start(i) + indent_of(i) == i;
                        if misaligned.is_none() && starts_line && indent_of(i) != o.indent {
                            misaligned = Some((o, i));
                        }
                    }
                    None => {
                        let d = Diagnostic::error(Span::new(file, i, i + 1), format!("unexpected closing `{}`: nothing open here", c as char));
                        out.push(d);
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    if let Some(o) = stack.last() {
        let mut d = unclosed(file, o, None);
        if let Some((inner, _)) = misaligned {
            let note = Diagnostic::note(
                Span::new(file, inner.at, inner.at + 1),
                format!("this `{}` may be the one left open: the `{}` that closes it is indented differently", inner.ch as char, closer(inner.ch) as char),
            );
            d = d.with_related(note);
        }
        out.push(d);
    }
    out
}

fn unclosed(file: u32, o: &Open, closed_by: Option<(u8, usize)>) -> Diagnostic {
    let (c, end) = (o.ch as char, closer(o.ch) as char);
    let mut d = Diagnostic::error(Span::new(file, o.at, o.at + 1), format!("unclosed `{c}`: no `{end}` closes it"));
    if let Some((ch, at)) = closed_by {
        d = d.with_related(Diagnostic::note(Span::new(file, at, at + 1), format!("this `{}` closes the enclosing `{}` first", ch as char, opener(ch) as char)));
    }
    d
}

fn opener(c: u8) -> u8 {
    match c {
        b'}' => b'{',
        b')' => b'(',
        _ => b'[',
    }
}

fn closer(c: u8) -> u8 {
    match c {
        b'{' => b'}',
        b'(' => b')',
        _ => b']',
    }
}

fn line_end(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|c| *c == b'\n').map_or(b.len(), |p| i + p)
}

/// Just past the string or character literal opening at `i` with quote `q`.
fn literal_end(b: &[u8], mut i: usize, q: u8) -> usize {
    i += 1;
    while i < b.len() && b[i] != b'\n' {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            return i + 1;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::check;

    fn lines(text: &str) -> Vec<(u32, String)> {
        check(text, 0).iter().map(|d| (d.span.unwrap().lo, d.message.clone())).collect()
    }

    #[test]
    fn balanced_text_and_delimiters_in_strings_and_comments_are_fine() {
        assert!(lines("fn f() { g(\"{(\", '}'); // {\n /* ( */ a[1]; }\n").is_empty());
    }

    #[test]
    fn an_unclosed_delimiter_is_reported_where_it_opens() {
        assert_eq!(lines("fn f() {\n  g(1;\n}\n"), vec![(12, "unclosed `(`: no `)` closes it".to_string())]);
        assert_eq!(lines("fn f() {\n  x;\n"), vec![(7, "unclosed `{`: no `}` closes it".to_string())]);
        assert_eq!(lines("fn f() {\n}\n}\n"), vec![(11, "unexpected closing `}`: nothing open here".to_string())]);
    }
}
