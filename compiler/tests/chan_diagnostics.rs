//! Snapshots of the diagnostics for misused channels and atomic orderings.

use truk::diag::{render_all, SourceMap};

fn check(src: &str) -> String {
    let mut sources = SourceMap::default();
    let file = sources.add("test.truk".into(), src.to_string());
    let (module, mut diags) = truk::syntax::parser::parse_module(&sources.file(file).text, file);
    let (_, mut more) = truk::hir::check::check(&[module]);
    diags.append(&mut more);
    render_all(&diags, &sources)
}

#[test]
fn channel_types_check_element_and_capacity() {
    insta::assert_snapshot!(check(
        "struct Node { id: u32, next: *Node }\nstruct Box { c: chan[[]u8, 2] }\nshared var q: chan[Node, 4];\nvar n: u64 = 3;\nfn main() : i32 {\n    var a: chan[u64, 0];\n    var b: chan[u64, n];\n    var m: chan[map[i32, i32], 1];\n    return 0;\n}\n"
    ));
}

#[test]
fn channel_builtins_check_their_arguments() {
    insta::assert_snapshot!(check(
        "struct Job { id: u32 }\nvar c: chan[Job, 4];\nvar x: u64;\nfn main() : i32 {\n    chan_send(c, Job { id: 1 }, 0);\n    chan_send(&c, 5, 0);\n    chan_send(&c, Job { id: 1 });\n    let ok, j = chan_recv(&x, 0);\n    chan_close(&c, 1);\n    var n: u32 = chan_len(&c);\n    chan_select(0);\n    chan_select(\"x\", &c, &x);\n    return 0;\n}\n"
    ));
}
