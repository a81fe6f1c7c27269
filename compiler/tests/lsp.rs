//! `truk lsp`, driven as an editor drives it: the real binary over JSON-RPC on stdio with
//! Content-Length framing, through one session of open, change, hover, definition,
//! completion, symbols, formatting and shutdown.

mod common;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use common::{truk, Scratch};
use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    inbox: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    pending: Vec<Value>,
}

/// Generous: the machine may be loaded; a hung server fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(60);

impl Client {
    fn start() -> Client {
        let mut child = truk().arg("lsp").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (tx, inbox) = channel();
        std::thread::spawn(move || loop {
            let mut len = None;
            loop {
                let mut line = String::new();
                if out.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    len = v.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; len.expect("a Content-Length header")];
            out.read_exact(&mut body).unwrap();
            if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                return;
            }
        });
        Client { child, stdin, inbox, next_id: 0, pending: vec![] }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn recv(&mut self) -> Value {
        self.inbox.recv_timeout(WAIT).expect("the server answers")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let m = self.recv();
            if m["id"] == json!(id) {
                assert!(m.get("error").is_none(), "{method}: {m}");
                return m["result"].clone();
            }
            self.pending.push(m);
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let m = match self.pending.iter().position(|m| m["method"] == "textDocument/publishDiagnostics") {
                Some(i) => self.pending.remove(i),
                None => self.recv(),
            };
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                return m["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn change(&mut self, uri: &str, version: i32, text: &str) {
        self.notify("textDocument/didChange", json!({
            "textDocument": { "uri": uri, "version": version },
            "contentChanges": [{ "text": text }],
        }));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } })
}

fn labels(items: &Value) -> Vec<String> {
    items.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_string()).collect()
}

// Every variable is used: the checker warns of unused ones.
const MAIN: &str = "import \"lib.truk\";\n\nstruct Point { x: i32, y: i32 }\n\nfn main() : i32 {\n  var p: Point = Point{x: 1, y: 2};\n  var total: i64 = 5;\n  return twice(p.x) + total as i32;\n}\n";

#[test]
fn an_editor_session() {
    let d = Scratch::new("lsp");
    // Only the library is on disk: the entry file is the editor's unsaved text.
    d.write("lib.truk", "// helpers\nfn twice(n: i32) : i32 {\n  return n * 2;\n}\n");
    let main_path = d.0.join("main.truk");
    let uri = format!("file://{}", main_path.display());
    let mut c = Client::start();

    let init = c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {} }));
    let caps = &init["capabilities"];
    assert_eq!(caps["hoverProvider"], true, "{init}");
    assert_eq!(caps["definitionProvider"], true);
    assert_eq!(caps["documentFormattingProvider"], true);
    c.notify("initialized", json!({}));

    c.notify("textDocument/didOpen", json!({
        "textDocument": { "uri": uri, "languageId": "truk", "version": 1, "text": MAIN },
    }));
    assert_eq!(c.diagnostics(&uri), Vec::<Value>::new());

    // An error as it is typed, then fixed.
    c.change(&uri, 2, &MAIN.replace("var total: i64 = 5;", "var total: i64 = \"five\";"));
    let diags = c.diagnostics(&uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["severity"], 1);
    assert_eq!(diags[0]["range"]["start"]["line"], 6, "{diags:?}");
    assert!(diags[0]["message"].as_str().unwrap().contains("i64"), "{diags:?}");
    c.change(&uri, 3, MAIN);
    assert_eq!(c.diagnostics(&uri), Vec::<Value>::new());

    // Hover: a name, and a field expression.
    let h = c.request("textDocument/hover", at(&uri, 7, 15));
    assert_eq!(h["contents"]["value"], "```truk\np: Point\n```", "{h}");
    let h = c.request("textDocument/hover", at(&uri, 7, 17));
    assert_eq!(h["contents"]["value"], "```truk\np.x: i32\n```", "{h}");
    let h = c.request("textDocument/hover", at(&uri, 6, 7));
    assert_eq!(h["contents"]["value"], "```truk\ntotal: i64\n```", "{h}");
    // A function by its name (not by the types in its signature), a struct by its name.
    let h = c.request("textDocument/hover", at(&uri, 4, 4));
    assert_eq!(h["contents"]["value"], "```truk\nmain: fn() : i32\n```", "{h}");
    assert_eq!(c.request("textDocument/hover", at(&uri, 4, 13)), Value::Null);
    let h = c.request("textDocument/hover", at(&uri, 5, 10));
    assert_eq!(h["contents"]["value"], "```truk\nstruct Point { x: i32, y: i32 }\n```", "{h}");

    // Definition: into the imported file, and of a local.
    let def = c.request("textDocument/definition", at(&uri, 7, 10));
    assert!(def["uri"].as_str().unwrap().ends_with("/lib.truk"), "{def}");
    assert_eq!(def["range"]["start"]["line"], 1, "{def}");
    let def = c.request("textDocument/definition", at(&uri, 7, 15));
    assert_eq!(def["uri"], uri.as_str(), "{def}");
    assert_eq!(def["range"]["start"]["line"], 5, "{def}");
    // A field: its name in the struct.
    let def = c.request("textDocument/definition", at(&uri, 7, 17));
    assert_eq!(def["range"], json!({ "start": { "line": 2, "character": 15 }, "end": { "line": 2, "character": 16 } }), "{def}");

    // An error in an imported file (open in the editor, unsaved) shows on the import.
    let lib_uri = format!("file://{}", d.0.join("lib.truk").display());
    let broken_lib = "// helpers\nfn twice(n: i32) : i32 {\n  return n * true;\n}\n";
    c.notify("textDocument/didOpen", json!({
        "textDocument": { "uri": lib_uri, "languageId": "truk", "version": 1, "text": broken_lib },
    }));
    let lib_diags = c.diagnostics(&lib_uri);
    assert_eq!(lib_diags.len(), 1, "{lib_diags:?}");
    assert_eq!(lib_diags[0]["range"]["start"]["line"], 2);
    // The importer, open too, is analyzed again without being changed.
    let diags = c.diagnostics(&uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["range"]["start"]["line"], 0, "{diags:?}");
    assert!(diags[0]["message"].as_str().unwrap().contains("lib.truk:3:"), "{diags:?}");
    // Closed unsaved, the library is the file on disk again, without the error.
    c.notify("textDocument/didClose", json!({ "textDocument": { "uri": lib_uri } }));
    assert_eq!(c.diagnostics(&lib_uri), Vec::<Value>::new());
    assert_eq!(c.diagnostics(&uri), Vec::<Value>::new());

    // Completion after `.` on a line still being typed (it does not parse yet).
    let typing = MAIN.replace("  return twice", "  p.\n  return twice");
    c.change(&uri, 4, &typing);
    assert!(!c.diagnostics(&uri).is_empty());
    let fields = c.request("textDocument/completion", at(&uri, 7, 4));
    assert_eq!(labels(&fields), ["x", "y"], "{fields}");
    assert_eq!(fields[0]["detail"], "i32");
    // Names in scope, functions of the import, builtins.
    let names = labels(&c.request("textDocument/completion", at(&uri, 7, 2)));
    for want in ["p", "total", "twice", "main", "Point", "make", "len", "return"] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }

    // Symbols of the document.
    c.change(&uri, 5, MAIN);
    c.diagnostics(&uri);
    let syms = c.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri } }));
    assert_eq!(labels_of_symbols(&syms), ["Point", "main"], "{syms}");
    assert_eq!(syms[0]["kind"], 23);
    assert_eq!(labels_of_symbols(&syms[0]["children"]), ["x", "y"]);
    assert_eq!(syms[1]["range"]["start"]["line"], 4);

    // Formatting through `truk fmt`.
    let messy = MAIN.replace("fn main() : i32 {\n  var p", "fn main():i32{\n      var p");
    c.change(&uri, 6, &messy);
    c.diagnostics(&uri);
    let edits = c.request("textDocument/formatting", json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 2, "insertSpaces": true } }));
    assert_eq!(edits.as_array().unwrap().len(), 1, "{edits}");
    assert_eq!(edits[0]["newText"], MAIN);
    assert_eq!(edits[0]["range"]["start"], json!({ "line": 0, "character": 0 }));

    assert_eq!(c.request("shutdown", Value::Null), Value::Null);
    c.notify("exit", Value::Null);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(st) = c.child.try_wait().unwrap() {
            assert!(st.success(), "{st}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn labels_of_symbols(syms: &Value) -> Vec<String> {
    syms.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn import_folders_come_from_the_initialization_options() {
    let d = Scratch::new("lsp-include");
    d.write("inc/extra.truk", "fn seven() : i32 {\n  return 7;\n}\n");
    let uri = format!("file://{}", d.0.join("main.truk").display());
    let text = "import \"extra.truk\";\nfn main() : i32 {\n  return seven();\n}\n";
    for (options, errors) in [(json!({ "include": [d.0.join("inc")] }), 0), (json!(null), 1)] {
        let mut c = Client::start();
        c.request("initialize", json!({ "processId": null, "rootUri": null, "capabilities": {}, "initializationOptions": options }));
        c.notify("initialized", json!({}));
        c.notify("textDocument/didOpen", json!({
            "textDocument": { "uri": uri, "languageId": "truk", "version": 1, "text": text },
        }));
        let diags = c.diagnostics(&uri);
        assert_eq!(diags.len(), errors, "{diags:?}");
        if errors > 0 {
            assert!(diags[0]["message"].as_str().unwrap().contains("cannot find imported file `extra.truk`"), "{diags:?}");
        }
    }
}
