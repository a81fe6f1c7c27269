//! Source files, spans and diagnostics.
//!
//! Every stage reports problems as `Diagnostic`s that point into a `SourceMap`; the driver
//! renders them as `error: MESSAGE` / `--> FILE:LINE:COL` / the source line / a caret.

use std::fmt::Write as _;
use std::path::PathBuf;

/// A byte range in one file of the `SourceMap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub file: u32,
    pub lo: u32,
    pub hi: u32,
}

impl Span {
    pub fn new(file: u32, lo: usize, hi: usize) -> Span {
        Span { file, lo: lo as u32, hi: hi as u32 }
    }
    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, lo: self.lo.min(other.lo), hi: self.hi.max(other.hi) }
    }
}

pub struct SourceFile {
    /// The path as the user should see it in diagnostics.
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of the start of each line, for offset -> line/col in O(log n).
    line_starts: Vec<u32>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i as u32 + 1));
        SourceFile { path, text, line_starts }
    }

    /// 1-based line and column (column counted in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line] as usize;
        // An offset inside a character (the last byte of a span) is that character's column.
        let mut end = (offset as usize).min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let col = self.text[start..end].chars().count();
        (line + 1, col + 1)
    }

    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1] as usize;
        let end = self.line_starts.get(line).map(|&e| e as usize).unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

#[derive(Default)]
pub struct SourceMap {
    pub files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> u32 {
        self.files.push(SourceFile::new(path, text));
        (self.files.len() - 1) as u32
    }
    pub fn file(&self, id: u32) -> &SourceFile {
        &self.files[id as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    /// Reported like an error, but the build goes on (unless `--deny-warnings`).
    Warning,
    Note,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    /// Extra lines: `help: ...` or `note: ...`.
    pub notes: Vec<String>,
    /// Diagnostics about other places, shown after this one (`note: ... declared here`).
    pub related: Vec<Diagnostic>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, message: message.into(), span: Some(span), notes: vec![], related: vec![] }
    }
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(span, message) }
    }
    /// A secondary place for `with_related`, such as a declaration.
    pub fn note(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Note, ..Diagnostic::error(span, message) }
    }
    /// An error that belongs to no place in the sources (a missing file, a linker failure).
    pub fn global(message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, message: message.into(), span: None, notes: vec![], related: vec![] }
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }
    pub fn with_related(mut self, d: Diagnostic) -> Diagnostic {
        self.related.push(d);
        self
    }

    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let head = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let _ = writeln!(out, "{head}: {}", escape_controls(&self.message));
        if let Some(span) = self.span {
            if let Some(file) = sources.files.get(span.file as usize) {
                let (line, col) = file.line_col(span.lo);
                let gutter = line.to_string().len();
                let _ = writeln!(out, "{:gutter$}--> {}:{}:{}", "", escape_controls(&file.path.display().to_string()), line, col);
                let _ = writeln!(out, "{:gutter$} |", "");
                // Underline to the end of the span, or of the line when it spans several.
                let (end_line, end_col) = file.line_col(span.hi.max(span.lo + 1) - 1);
                let width = if end_line == line { (end_col + 1).saturating_sub(col).max(1) } else { 1 };
                let (text, pad, width) = snippet(file.line_text(line), col - 1, width);
                let _ = writeln!(out, "{line} | {text}");
                let _ = writeln!(out, "{:gutter$} | {pad}{}", "", "^".repeat(width));
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "  = {}", escape_controls(note));
        }
        for d in &self.related {
            out.push_str(&d.render(sources));
        }
        out
    }
}

/// Characters that could move the cursor, recolour or reorder the terminal's text: C0 and C1
/// controls but tab, DEL, and the bidirectional embeddings, overrides and isolates.
fn is_control(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// How a character of the source shows in a diagnostic: controls as `\u{1b}`.
fn shown(c: char) -> std::borrow::Cow<'static, str> {
    if is_control(c) {
        format!("\\u{{{:x}}}", c as u32).into()
    } else {
        let mut buf = [0u8; 4];
        c.encode_utf8(&mut buf).to_string().into()
    }
}

/// `s` with its control characters escaped, so a diagnostic cannot rewrite the terminal.
pub fn escape_controls(s: &str) -> String {
    s.chars().map(shown).collect()
}

/// Longest source line a snippet shows whole; longer ones show a window around the caret.
const SNIPPET_CHARS: usize = 160;

/// The snippet of a source line for a caret at character `col` (0-based) `width` characters
/// wide: the line escaped (and cut to a window around the caret when long), the caret's
/// indentation, and its width, in the escaped text's columns.
fn snippet(line: &str, col: usize, width: usize) -> (String, String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let (start, end) = if chars.len() <= SNIPPET_CHARS {
        (0, chars.len())
    } else {
        let start = col.saturating_sub(SNIPPET_CHARS / 3).min(chars.len());
        (start, (start + SNIPPET_CHARS).min(chars.len()))
    };
    let mut text = String::from(if start > 0 { "..." } else { "" });
    let mut pad = " ".repeat(text.len());
    let mut caret = 0;
    for (i, &c) in chars[start..end].iter().enumerate() {
        let s = shown(c);
        let at = start + i;
        if at < col {
            // Tabs stay tabs so that the caret lines up whatever the tab width.
            pad.extend(s.chars().map(|c| if c == '\t' { '\t' } else { ' ' }));
        } else if at < col + width {
            caret += s.chars().count();
        }
        text.push_str(&s);
    }
    if end < chars.len() {
        text.push_str("...");
    }
    (text, pad, caret.max(1))
}

/// Render a list of diagnostics, followed by a count line when there are several errors.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.render(sources));
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    if errors > 1 {
        let _ = writeln!(out, "error: aborting due to {errors} errors");
    }
    out
}

/// Whether diagnostics on stderr get colours: `NO_COLOR` (set, not empty) turns them off,
/// `CLICOLOR_FORCE` (set, not `0`) turns them on where stderr is no terminal, as in tests.
pub fn stderr_colour() -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        return true;
    }
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Rendered diagnostics as they go to stderr: coloured per [`stderr_colour`].
pub fn for_stderr(text: &str) -> String {
    if stderr_colour() {
        paint(text)
    } else {
        text.to_string()
    }
}

const RESET: &str = "\x1b[0m";
const BLUE: &str = "\x1b[1;34m";

/// Rendered diagnostics with ANSI colours, as rustc shows them: the severity word and the
/// carets in the severity's colour, the gutter in blue. Rendering itself stays plain.
pub fn paint(text: &str) -> String {
    let mut out = String::new();
    let mut colour = "\x1b[1;31m";
    for line in text.split_inclusive('\n') {
        let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
        let head = [("error", "\x1b[1;31m"), ("warning", "\x1b[1;33m"), ("note", "\x1b[1;36m")]
            .into_iter()
            .find(|(w, _)| body.strip_prefix(w).is_some_and(|r| r.starts_with(':')));
        if let Some((word, c)) = head {
            colour = c;
            let _ = write!(out, "{c}{word}{RESET}\x1b[1m{}{RESET}{nl}", &body[word.len()..]);
        } else if let Some(bar) = gutter_end(body) {
            let (gutter, rest) = body.split_at(bar);
            if !rest.trim().is_empty() && rest.trim().chars().all(|c| c == '^') {
                let carets = rest.trim_start();
                let pad = &rest[..rest.len() - carets.len()];
                let _ = write!(out, "{BLUE}{gutter}{RESET}{pad}{colour}{carets}{RESET}{nl}");
            } else {
                let _ = write!(out, "{BLUE}{gutter}{RESET}{rest}{nl}");
            }
        } else if let Some(rest) = body.strip_prefix("  = ") {
            let _ = write!(out, "  {BLUE}={RESET} {rest}{nl}");
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The end of a snippet line's gutter (`12 | `, `   | `, `  --> `), if it has one.
fn gutter_end(line: &str) -> Option<usize> {
    let digits_end = line.find(|c: char| c != ' ' && !c.is_ascii_digit()).unwrap_or(line.len());
    let rest = &line[digits_end..];
    if rest.starts_with("-->") {
        Some(digits_end + 3)
    } else if rest.starts_with('|') && line[..digits_end].ends_with(' ') {
        Some((digits_end + 2).min(line.len()))
    } else {
        None
    }
}
