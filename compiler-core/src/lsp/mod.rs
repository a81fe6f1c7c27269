//! `truk lsp`: a Language Server over stdio, for editors.
//!
//! Built on `lsp-server` and `lsp-types` (rust-analyzer's crates): a synchronous message
//! loop, which is all a server needs whose every answer comes from one front-end run of a
//! few milliseconds. Each open or changed document is analyzed at once (`analysis.rs`):
//! its diagnostics are published, and hover, definition and completion read the latest
//! analysis that got as far as a program (a half-typed line does not parse).

mod analysis;
mod complete;
mod text;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::{
    CompletionParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DocumentFormattingParams, DocumentSymbolParams, GotoDefinitionParams, HoverParams, TextDocumentPositionParams,
};
use serde_json::{json, Value};

use crate::diag::Severity;
use crate::driver::build::on_compiler_stack;
use crate::syntax::{ast, parser};
use analysis::{analyze, Analysis};

struct Doc {
    path: PathBuf,
    text: String,
    /// The latest analysis, and the latest one that has a program.
    last: Rc<Analysis>,
    good: Option<Rc<Analysis>>,
}

#[derive(Default)]
struct Server {
    docs: HashMap<String, Doc>,
    /// Import folders (`-I`), from the editor's `initializationOptions.include`.
    include: Vec<PathBuf>,
}

/// Serve the editor on stdin/stdout until it says `exit`.
pub fn run() -> Result<(), String> {
    let (conn, io) = Connection::stdio();
    let caps = json!({
        "textDocumentSync": 1,
        "hoverProvider": true,
        "definitionProvider": true,
        "completionProvider": { "triggerCharacters": [".", ">"] },
        "documentSymbolProvider": true,
        "documentFormattingProvider": true,
    });
    let (id, init) = conn.initialize_start().map_err(|e| e.to_string())?;
    conn.initialize_finish(id, json!({ "capabilities": caps, "serverInfo": { "name": "truk", "version": env!("CARGO_PKG_VERSION") } }))
        .map_err(|e| e.to_string())?;
    let include = init["initializationOptions"]["include"].as_array().into_iter().flatten();
    let mut server = Server { include: include.filter_map(|d| d.as_str()).map(PathBuf::from).collect(), ..Server::default() };
    for msg in &conn.receiver {
        match msg {
            Message::Request(req) => {
                if conn.handle_shutdown(&req).map_err(|e| e.to_string())? {
                    break;
                }
                let resp = server.request(req);
                conn.sender.send(Message::Response(resp)).map_err(|e| e.to_string())?;
            }
            Message::Notification(n) => {
                for out in server.notification(n) {
                    conn.sender.send(Message::Notification(out)).map_err(|e| e.to_string())?;
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(conn);
    io.join().map_err(|e| e.to_string())
}

fn params<T: serde::de::DeserializeOwned>(v: Value) -> Option<T> {
    serde_json::from_value(v).ok()
}

impl Server {
    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        let uri = match n.method.as_str() {
            "textDocument/didOpen" => {
                let Some(p) = params::<DidOpenTextDocumentParams>(n.params) else { return vec![] };
                let uri = p.text_document.uri.as_str().to_string();
                self.open(&uri, p.text_document.text);
                uri
            }
            "textDocument/didChange" => {
                let Some(p) = params::<DidChangeTextDocumentParams>(n.params) else { return vec![] };
                let uri = p.text_document.uri.as_str().to_string();
                // Full sync: the last change is the whole text.
                let Some(change) = p.content_changes.into_iter().last() else { return vec![] };
                self.open(&uri, change.text);
                uri
            }
            "textDocument/didClose" => {
                let Some(p) = params::<DidCloseTextDocumentParams>(n.params) else { return vec![] };
                let uri = p.text_document.uri.as_str().to_string();
                self.docs.remove(&uri);
                // The editor shows a closed file's diagnostics no more; the others now
                // read it from disk.
                let clear = Notification::new("textDocument/publishDiagnostics".into(), json!({ "uri": uri, "diagnostics": [] }));
                return std::iter::once(clear).chain(self.reanalyze_others(&uri)).collect();
            }
            _ => return vec![],
        };
        std::iter::once(self.diagnostics(&uri)).chain(self.reanalyze_others(&uri)).collect()
    }

    /// Analyze again every open document but `uri` (which one of them may import) and
    /// give their diagnostics.
    fn reanalyze_others(&mut self, uri: &str) -> Vec<Notification> {
        let mut others: Vec<String> = self.docs.keys().filter(|k| *k != uri).cloned().collect();
        others.sort();
        others
            .into_iter()
            .map(|other| {
                let text = self.docs[&other].text.clone();
                self.open(&other, text);
                self.diagnostics(&other)
            })
            .collect()
    }

    /// Record a document's text and analyze it (and the other open documents' texts with it).
    fn open(&mut self, uri: &str, new_text: String) {
        let path = text::path_of(uri);
        let mut overlay: HashMap<PathBuf, String> =
            self.docs.values().map(|d| (canonical(&d.path), d.text.clone())).collect();
        overlay.insert(canonical(&path), new_text.clone());
        let run = || analyze(&path, &self.include, &|p: &Path| overlay.get(&canonical(p)).cloned());
        // A compiler bug must not take the editor's server down with it.
        let a = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| analysis::failed(&path, &new_text));
        let a = Rc::new(a);
        let good = if a.prog.is_some() { Some(a.clone()) } else { self.docs.get(uri).and_then(|d| d.good.clone()) };
        self.docs.insert(uri.to_string(), Doc { path, text: new_text, last: a, good });
    }

    /// `textDocument/publishDiagnostics` for a document: the compiler's diagnostics in it.
    fn diagnostics(&self, uri: &str) -> Notification {
        let doc = &self.docs[uri];
        let a = &doc.last;
        let imports = imports(doc);
        let mut out = vec![];
        for d in &a.diags {
            let (file, lo, hi) = match d.span {
                Some(s) => (s.file, s.lo as usize, s.hi as usize),
                None => (0, 0, 0),
            };
            let mut message = d.message.clone();
            let (lo, hi) = if file == 0 {
                (lo, hi)
            } else {
                // In an imported file: shown on the import that brings it in (or the first).
                let f = a.sources.file(file);
                let (line, col) = f.line_col(lo as u32);
                message = format!("{}:{line}:{col}: {message}", f.path.display());
                let target = canonical(&f.path);
                match imports.iter().find(|(p, _)| *p == target).or(imports.first()) {
                    Some(&(_, span)) => (span.lo as usize, span.hi as usize),
                    None => (0, 0),
                }
            };
            let severity = match d.severity {
                Severity::Error => 1,
                Severity::Note => 3,
                #[allow(unreachable_patterns)]
                _ => 2,
            };
            for n in &d.notes {
                message.push('\n');
                message.push_str(n);
            }
            out.push(json!({ "range": text::range(&doc.text, lo, hi), "severity": severity, "source": "truk", "message": message }));
        }
        Notification::new("textDocument/publishDiagnostics".into(), json!({ "uri": uri, "diagnostics": out }))
    }

    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let result = match req.method.as_str() {
            "textDocument/hover" => params::<HoverParams>(req.params).map(|p| self.hover(&p.text_document_position_params)),
            "textDocument/definition" => {
                params::<GotoDefinitionParams>(req.params).map(|p| self.definition(&p.text_document_position_params))
            }
            "textDocument/completion" => params::<CompletionParams>(req.params).map(|p| self.completion(&p.text_document_position)),
            "textDocument/documentSymbol" => params::<DocumentSymbolParams>(req.params).map(|p| self.symbols(p.text_document.uri.as_str())),
            "textDocument/formatting" => match params::<DocumentFormattingParams>(req.params) {
                Some(p) => match self.format(p.text_document.uri.as_str()) {
                    Ok(v) => Some(v),
                    Err(e) => return Response::new_err(id, -32803, e),
                },
                None => None,
            },
            _ => return Response::new_err(id, -32601, format!("unknown method {}", req.method)),
        };
        match result {
            Some(v) => Response::new_ok(id, v),
            None => Response::new_err(id, -32602, "invalid parameters".into()),
        }
    }

    /// The document and byte offset of a position, with the analysis that has a program.
    fn at(&self, p: &TextDocumentPositionParams) -> Option<(&Doc, usize, &Analysis)> {
        let doc = self.docs.get(p.text_document.uri.as_str())?;
        let offset = text::offset(&doc.text, p.position.line, p.position.character);
        Some((doc, offset, doc.good.as_deref()?))
    }

    fn hover(&self, p: &TextDocumentPositionParams) -> Value {
        let Some((doc, offset, a)) = self.at(p) else { return Value::Null };
        let (_, word) = text::word_at(&doc.text, offset);
        let markdown = |s: String| json!({ "contents": { "kind": "markdown", "value": format!("```truk\n{s}\n```") } });
        if let Some(s) = a.describe_struct(word) {
            return markdown(s);
        }
        let Some(e) = a.at(offset as u32, word) else { return Value::Null };
        let src = &a.sources.file(0).text;
        // A declaration spanning a whole function shows as its name, an expression as written.
        let shown = match &e.name {
            Some(name) => name.clone(),
            None => {
                let s = src.get(e.span.lo as usize..e.span.hi as usize).unwrap_or(word);
                s.lines().next().unwrap_or("").chars().take(60).collect()
            }
        };
        markdown(format!("{shown}: {}", a.show(&e.ty)))
    }

    fn definition(&self, p: &TextDocumentPositionParams) -> Value {
        let Some((doc, offset, a)) = self.at(p) else { return Value::Null };
        let (_, word) = text::word_at(&doc.text, offset);
        let Some(span) = a.definition(offset as u32, word) else { return Value::Null };
        let file = a.sources.file(span.file);
        json!({ "uri": text::uri_of(&file.path), "range": text::range(&file.text, span.lo as usize, span.hi as usize) })
    }

    fn completion(&self, p: &TextDocumentPositionParams) -> Value {
        let Some((doc, offset, a)) = self.at(p) else { return json!([]) };
        json!(complete::complete(&doc.text, offset, a))
    }

    fn symbols(&self, uri: &str) -> Value {
        let Some(doc) = self.docs.get(uri) else { return json!([]) };
        let t = doc.text.as_str();
        // On the compiler's stack, as a build parses (and drops) its trees.
        on_compiler_stack(|| symbols(t))
    }

    /// One edit that replaces the whole text with its `truk fmt` layout (none when it has it).
    fn format(&self, uri: &str) -> Result<Value, String> {
        let doc = self.docs.get(uri).ok_or("the document is not open")?;
        let out = crate::fmt::format_source(&doc.text, &doc.path)?;
        if out == doc.text {
            return Ok(json!([]));
        }
        Ok(json!([{ "range": text::range(&doc.text, 0, doc.text.len()), "newText": out }]))
    }
}

/// The functions, structs (with their fields), enums and globals of a text.
fn symbols(t: &str) -> Value {
    let (module, _) = parser::parse_module(t, 0);
    let sym = |name: &ast::Ident, kind: u32, whole: crate::diag::Span, children: Vec<Value>| {
        json!({
            "name": name.name, "kind": kind,
            "range": text::range(t, whole.lo as usize, whole.hi as usize),
            "selectionRange": text::range(t, name.span.lo as usize, name.span.hi as usize),
            "children": children,
        })
    };
    // SymbolKind values of the protocol.
    let (function, strukt, field, enm, member, variable) = (12, 23, 8, 10, 22, 13);
    let mut out = vec![];
    for item in &module.items {
        match item {
            ast::Item::Fn(f) | ast::Item::ExternFn(f) => out.push(sym(&f.name, function, f.span, vec![])),
            ast::Item::Struct(s) | ast::Item::ExternStruct(s) => {
                let fields = s.fields.iter().flatten().map(|f| sym(&f.name, field, f.name.span.to(f.ty.span), vec![])).collect();
                out.push(sym(&s.name, strukt, s.span, fields));
            }
            ast::Item::Enum(e) | ast::Item::ExternEnum(e) => {
                let vs = e.variants.iter().map(|v| sym(&v.name, member, v.name.span, vec![])).collect();
                out.push(sym(&e.name, enm, e.span, vs));
            }
            ast::Item::Global(v) | ast::Item::ExternVar(v) => out.push(sym(&v.name, variable, v.span, vec![])),
            _ => {}
        }
    }
    json!(out)
}

/// The files a document imports directly (canonical paths) and the span of each import.
fn imports(doc: &Doc) -> Vec<(PathBuf, crate::diag::Span)> {
    let dir = doc.path.parent().unwrap_or(Path::new("."));
    let text = doc.text.as_str();
    on_compiler_stack(|| {
        let (module, _) = parser::parse_module(text, 0);
        module
            .items
            .iter()
            .filter_map(|i| match i {
                ast::Item::Import { path, span } => Some((canonical(&dir.join(path)), *span)),
                _ => None,
            })
            .collect()
    })
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
