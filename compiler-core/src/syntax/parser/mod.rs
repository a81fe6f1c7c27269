//! Parser: source text -> AST, with the pest grammar in `truk.pest`.
//!
//! The grammar is applied one top-level item at a time (rule `next_item`), so that after a
//! syntax error the parser can skip to the next line that starts a top-level item and report
//! the errors of the rest of the file too. Expressions come out of the grammar as flat
//! `operand (op operand)*` lists and are folded here with an explicit operator stack
//! (no recursion, linear time).
//!
//! Precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `|`, `^`, `&`, `<< >>`,
//! `+ -`, `* / %`, `as` (so `-x as i32` is `(-x) as i32` and `a + b as i32` is
//! `a + (b as i32)`), prefix `- ! ~ & *`, postfix call / index / `.` / `->`.

mod errors;
mod expr;
mod items;
mod literals;
mod stack;
mod stmt;
mod types;
#[cfg(test)]
mod tests;

use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

use crate::diag::{Diagnostic, Span};
use crate::syntax::ast::*;
use crate::syntax::depth::{self, MAX_DEPTH};

#[derive(Parser)]
#[grammar = "syntax/truk.pest"]
struct TrukGrammar;


/// Parse one source file. Never panics; syntax errors come back as diagnostics, and the
/// module holds every item that parsed.
pub fn parse_module(src: &str, file: u32) -> (Module, Vec<Diagnostic>) {
    let (items, diags) = if src.len() >= SPLIT_MIN_BYTES { parse_in_halves(src, file) } else { parse_items(src, file, 0, None).0 };
    (Module { file, items }, diags)
}

/// Below this size a file is parsed on one thread (a second thread is not worth starting).
const SPLIT_MIN_BYTES: usize = 64 << 10;

/// A big file is parsed on two threads: the second starts at a line near the middle that
/// looks like the start of a top-level item; the first stops where it reaches that line.
/// Each item parses the same wherever the parse of the file started, so the result is the
/// one-thread parse whenever the first thread arrives at that line between two items (only
/// blanks and comments before it). If it does not (the line was inside a string, a comment
/// or an item), or the second half has syntax errors (where recovery starts could differ),
/// the first thread goes on alone and the second half's work is dropped.
fn parse_in_halves(src: &str, file: u32) -> (Vec<Item>, Vec<Diagnostic>) {
    let Some(split) = recovery_point(src, src.len() / 2) else { return parse_items(src, file, 0, None).0 };
    let ((mut items, mut diags), stop, second) = std::thread::scope(|s| {
        let second = std::thread::Builder::new()
            .name("truk-parse".into())
            .stack_size(crate::driver::build::COMPILER_STACK)
            .spawn_scoped(s, || parse_items(src, file, split, None).0);
        let (first, stop) = parse_items(src, file, 0, Some(split));
        (first, stop, second.ok().and_then(|h| h.join().ok()))
    });
    let from = match (stop, second) {
        (Stop::End, _) => return (items, diags),
        (Stop::Between(_), Some((more, errs))) if errs.is_empty() => {
            items.extend(more);
            return (items, diags);
        }
        (Stop::Between(at) | Stop::Past(at), _) => at,
    };
    let (more, errs) = parse_items(src, file, from, None).0;
    items.extend(more);
    diags.extend(errs);
    (items, diags)
}

/// Where [`parse_items`] with a `stop` line ended.
#[derive(Clone, Copy)]
enum Stop {
    /// At the end of the file, before reaching the line.
    End,
    /// Between two items, at this position, with only blanks and comments up to the line.
    Between(usize),
    /// At this position, past the line (it was inside an item, a string or a comment).
    Past(usize),
}

/// The items of `src` from `start` on, through the end or, with `stop`, until the parse
/// reaches that position.
fn parse_items(src: &str, file: u32, start: usize, stop: Option<usize>) -> ((Vec<Item>, Vec<Diagnostic>), Stop) {
    let mut b = Builder { file, base: 0, diags: Vec::new(), depth: 0, too_deep: false, _src: std::marker::PhantomData };
    let mut items = Vec::new();
    let mut pos = start;
    // pest recurses without a guard: it sees only the text before `cut` (`stack.rs`).
    let limit = stack::cycles_on_this_stack();
    let mut cut = stack::cut(src, start, limit);
    while pos <= src.len() {
        if let Some(line) = stop {
            if pos > line {
                return ((items, b.diags), Stop::Past(pos));
            }
            if only_blanks(&src[pos..line]) {
                return ((items, b.diags), Stop::Between(pos));
            }
        }
        if let Some(at) = cut.filter(|&c| pos >= c) {
            b.diags.push(depth::too_deep(Span::new(file, at, at + 1), "code", None));
            match recovery_point(src, at) {
                Some(next) => {
                    pos = next;
                    cut = stack::cut(src, pos, limit);
                    continue;
                }
                None => break,
            }
        }
        let end = cut.unwrap_or(src.len());
        let rest = &src[pos..end];
        match TrukGrammar::parse(Rule::next_item, rest) {
            Ok(mut pairs) => {
                let Some(next) = pairs.next() else { break };
                let item_end = next.as_span().end();
                let Some(item) = next.into_inner().next() else { break };
                if item.as_rule() == Rule::EOI {
                    match cut {
                        Some(at) => {
                            pos = at;
                            continue;
                        }
                        None => break,
                    }
                }
                b.base = pos;
                b.depth = 0;
                b.too_deep = false;
                if let Some(it) = b.item(item) {
                    // Chains (`a + b + ...`, `x.f.g...`, `else if`) are built without recursion:
                    // measure what was built (nesting past the limit was not).
                    if b.too_deep {
                        // It may hold long chains too: not dropped, as in `check_item`.
                        std::mem::forget(it);
                    } else {
                        items.extend(depth::check_item(it, &mut b.diags));
                    }
                }
                if item_end == 0 {
                    break; // cannot happen (an item is never empty); never loop forever
                }
                pos += item_end;
            }
            Err(err) => {
                // Failing where the text was cut: it nests too deeply there.
                if let Some(at) = cut.filter(|_| errors::reaches_end(rest, &err)) {
                    pos = at;
                    continue;
                }
                let diag = syntax_error(src, pos, end, file, &err);
                let at = diag.span.map(|s| s.hi as usize).unwrap_or(pos).max(pos + 1);
                b.diags.push(diag);
                match recovery_point(src, at) {
                    Some(next) => {
                        pos = next;
                        if cut.is_some_and(|c| c < pos) {
                            cut = stack::cut(src, pos, limit);
                        }
                    }
                    None => break,
                }
            }
        }
    }
    ((items, b.diags), Stop::End)
}

/// Only what the grammar skips between items (WHITESPACE in truk.pest): blanks, `//`
/// comments, and `/* */` comments closed within `s`.
fn only_blanks(s: &str) -> bool {
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\n', '\t', '\r']);
        if rest.is_empty() {
            return true;
        }
        if let Some(after) = rest.strip_prefix("//") {
            match after.find('\n') {
                Some(i) => rest = &after[i..],
                None => return true,
            }
        } else if let Some(after) = rest.strip_prefix("/*") {
            match after.find("*/") {
                Some(i) => rest = &after[i + 2..],
                None => return false,
            }
        } else {
            return false;
        }
    }
}

use errors::{is_keyword, recovery_point, syntax_error, PRIMITIVES};

// ---------------------------------------------------------------- AST building

struct Builder<'s> {
    file: u32,
    /// Offset of the text handed to pest within the file.
    base: usize,
    diags: Vec<Diagnostic>,
    /// Statements, expressions and types the builder is inside (it recurses into them).
    depth: usize,
    /// The current item went past the nesting limit (reported once).
    too_deep: bool,
    _src: std::marker::PhantomData<&'s str>,
}

type P<'i> = Pair<'i, Rule>;

fn is_kw(r: Rule) -> bool {
    use Rule::*;
    matches!(
        r,
        kw_fn | kw_struct | kw_enum | kw_var | kw_const | kw_let | kw_extern | kw_import | kw_cimport
            | kw_shard | kw_shared | kw_if | kw_else | kw_while | kw_for | kw_return | kw_break
            | kw_continue | kw_defer | kw_match | kw_case | kw_as | kw_map
    )
}

/// Children of a pair without the keyword tokens (an iterator: no vector per node).
fn kids(p: P<'_>) -> impl Iterator<Item = P<'_>> {
    p.into_inner().filter(|c| !is_kw(c.as_rule()))
}

fn is_type(r: Rule) -> bool {
    use Rule::*;
    matches!(r, prim_ty | ptr_ty | slice_ty | array_ty | map_ty | chan_ty | table_ty | fn_ty | tuple_ty | ident)
}

impl<'s> Builder<'s> {
    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        Span::new(self.file, self.base + s.start(), self.base + s.end())
    }

    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    /// A name; reserved words are rejected here rather than in the grammar.
    fn ident(&mut self, p: &P<'_>) -> Ident {
        let id = Ident { name: p.as_str().to_string(), span: self.span(p) };
        if is_keyword(&id.name) {
            let what = if PRIMITIVES.contains(&id.name.as_str()) { " (primitive type names are reserved)" } else { "" };
            self.error(id.span, format!("expected an identifier, found keyword `{}`{what}", id.name));
        }
        id
    }

    /// Enter one nesting level; false (with a diagnostic) when too deep.
    fn enter(&mut self, span: Span, what: &str) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH && !self.too_deep {
            self.too_deep = true;
            self.diags.push(depth::too_deep(Span { hi: span.lo + 1, ..span }, what, None));
        }
        self.depth <= MAX_DEPTH
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

}
