//! Compiles the generated parser (src/parser.c, committed): no generator is needed to build.
fn main() {
    let src = std::path::Path::new("src");
    let mut c = cc::Build::new();
    c.std("c11").include(src).file(src.join("parser.c")).warnings(false);
    c.compile("tree-sitter-truk");
    println!("cargo:rerun-if-changed=src/parser.c");
}
