//! The canonical layout of a token stream. Line breaks stay where the author put them (at
//! most one blank line in a row, none after an opening or before a closing bracket);
//! indentation is two spaces per open bracket, one more for a statement continued on the
//! next line; spaces within a line follow from the tokens alone. So formatting twice gives
//! what formatting once did.

use super::lex::{Kind, Token};

/// Words after which `-`, `*` and `&` are prefix operators and `(` or `[` opens a new
/// expression, not a call or an index.
const KEYWORDS: [&str; 17] = [
    "return", "case", "if", "else", "while", "for", "match", "defer", "as", "var", "let", "const", "shared",
    "import", "cimport", "extern", "struct",
];

fn is_keyword(t: &Token) -> bool {
    t.kind == Kind::Word && KEYWORDS.contains(&t.text)
}

/// An open bracket: its character, the indentation of the line it opened on, and for `[`
/// whether it indexes a value (`a[i]`) rather than starting a type or an array literal,
/// for `{` whether it holds a struct literal's fields (`P{x: 1}`) rather than a block.
struct Open {
    ch: u8,
    level: usize,
    index: bool,
    fields: bool,
}

pub fn layout(toks: &[Token]) -> String {
    let mut out = String::new();
    let mut stack: Vec<Open> = vec![];
    let mut level = 0;
    // The last token, and the last that is not a comment.
    let mut prev: Option<&Token> = None;
    let mut prev_code: Option<&Token> = None;
    // The token before `prev_code` (for `enum E : T`), and whether the last `]` closed an index.
    let mut before_code: Option<&Token> = None;
    let mut closed_index = false;
    for (i, t) in toks.iter().enumerate() {
        let closer = matches!(t.text, ")" | "]" | "}") && t.kind == Kind::Punct;
        if prev.is_none() || t.breaks > 0 {
            if prev.is_some() {
                out.push('\n');
                let after_open = prev.is_some_and(|p| p.kind == Kind::Punct && matches!(p.text, "(" | "[" | "{"));
                if t.breaks > 1 && !after_open && !closer {
                    out.push('\n');
                }
            }
            level = match stack.last() {
                Some(o) if closer => o.level,
                Some(o) => o.level + 1,
                None => 0,
            };
            let in_block = stack.last().is_none_or(|o| o.ch == b'{');
            let ended = prev_code.is_none_or(|p| p.kind == Kind::Punct && matches!(p.text, ";" | "{" | "}" | ","));
            if in_block && !ended && !closer && t.text != "{" {
                level += 1;
            }
            out.push_str(&"  ".repeat(level));
        } else if space_between(prev.unwrap(), t, before_code, closed_index, fields_follow(toks, i), stack.last().is_some_and(|o| o.fields)) {
            out.push(' ');
        }
        out.push_str(t.text);
        if t.kind == Kind::Punct {
            match t.text {
                "(" => stack.push(Open { ch: b'(', level, index: false, fields: false }),
                "{" => stack.push(Open { ch: b'{', level, index: false, fields: fields_follow(toks, i) }),
                "[" => {
                    // `a[0][1]` indexes twice, `[2][3]i32` is a type.
                    let index = match prev_code {
                        Some(p) if p.text == "]" => closed_index,
                        p => p.is_some_and(ends_value),
                    };
                    stack.push(Open { ch: b'[', level, index, fields: false })
                }
                ")" | "]" | "}" => {
                    closed_index = stack.pop().is_some_and(|o| o.index);
                }
                _ => {}
            }
        }
        prev = Some(t);
        if !matches!(t.kind, Kind::LineComment | Kind::BlockComment) {
            before_code = prev_code;
            prev_code = Some(t);
        }
    }
    out.push('\n');
    out
}

/// Whether the token at `i` is a `{` opening a struct literal's fields: a name before it and
/// `field:` after it (a block never starts so). Tokens are looked at past comments.
fn fields_follow(toks: &[Token], i: usize) -> bool {
    let mut code = toks[i..].iter().filter(|t| !matches!(t.kind, Kind::LineComment | Kind::BlockComment));
    let mut before = toks[..i].iter().rev().filter(|t| !matches!(t.kind, Kind::LineComment | Kind::BlockComment));
    matches!(code.next(), Some(t) if t.text == "{" && t.kind == Kind::Punct)
        && before.next().is_some_and(|b| b.kind == Kind::Word && !is_keyword(b))
        && before.next().is_none_or(|b| b.text != "struct")
        && code.next().is_some_and(|t| t.kind == Kind::Word)
        && code.next().is_some_and(|t| t.text == ":")
}

/// Whether a token ends a value, so that a `[` after it indexes and a `-` after it subtracts.
fn ends_value(t: &Token) -> bool {
    match t.kind {
        Kind::Word => !is_keyword(t),
        Kind::Literal => true,
        Kind::Punct => matches!(t.text, ")" | "]"),
        _ => false,
    }
}

/// Whether `-`, `*`, `&`, `!`, `~` (`t`) after `p` is a prefix operator.
fn is_prefix(t: &Token, p: Option<&Token>, closed_index: bool) -> bool {
    match t.text {
        "!" | "~" => true,
        "-" | "*" | "&" => match p {
            // After a type's `]` (`[]*T`), a pointer type.
            Some(p) if p.text == "]" && p.kind == Kind::Punct => !closed_index,
            Some(p) => !ends_value(p),
            None => true,
        },
        _ => false,
    }
}

/// Whether a space goes between `p` and `t` on one line; `before_p` is the code token before
/// `p`, and `closed_index` whether the last closed bracket was an index's `]`.
/// `fields`: `t` opens a struct literal's fields; `in_fields`: the innermost bracket holds them.
fn space_between(p: &Token, t: &Token, before_p: Option<&Token>, closed_index: bool, fields: bool, in_fields: bool) -> bool {
    use Kind::*;
    if matches!(t.kind, LineComment | BlockComment) || p.kind == BlockComment {
        return true;
    }
    let pt = if p.kind == Punct { p.text } else { "" };
    let tt = if t.kind == Punct { t.text } else { "" };
    if fields || in_fields && (p.text == "{" || t.text == "}") {
        return false;
    }
    // Prefix operators hold on to their operand.
    if matches!(pt, "-" | "*" | "&" | "!" | "~") && is_prefix(p, before_p, closed_index) {
        return false;
    }
    if matches!(pt, "(" | "[" | "." | "->" | "@" | "...") || matches!(tt, ")" | "]" | "," | "." | "->") {
        return false;
    }
    match tt {
        "(" => return !(p.kind == Word && !is_keyword(p) || matches!(pt, ")" | "]")),
        "[" => return !(p.kind == Word && !is_keyword(p) || matches!(pt, ")" | "]")),
        // `fn f() : T` and `enum E : T`, but `name: T`.
        ":" => return pt == ")" || before_p.is_some_and(|b| b.text == "enum"),
        "}" => return pt != "{",
        // `for ; ; {`, but `x;`.
        ";" => return pt == ";" || p.text == "for",
        _ => {}
    }
    // A type after `]` (`[3]i32`, `[]*T`), but `a[0] as T`.
    if pt == "]" && !closed_index && (t.kind == Word || matches!(tt, "*" | "[" | "(")) {
        return false;
    }
    true
}
