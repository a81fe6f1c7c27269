//! Debug builds stay on LLVM's fast instruction selector: narrow integer and bool arguments
//! (widened to 32 bits, as C passes them), calls through function values and `each`
//! callbacks, and C library functions LLVM knows (`sqrt`). The program runs in the lang suite
//! (`tests/lang/calls/narrow_arguments.truk`) with its expected output; here its IR is
//! checked.

use std::path::PathBuf;

mod common;
use common::{text, truk, Scratch};

#[test]
fn narrow_arguments_and_known_c_functions_take_the_fast_selector() {
    let dir = Scratch::new("fast-isel");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/lang/calls/narrow_arguments.truk");
    let ll = dir.0.join("p.ll");
    let b = truk().arg("build").args(["--emit", "llvm-ir"]).arg(&src).arg("-o").arg(&ll).output().unwrap();
    assert!(b.status.success(), "{}", text(&b.stderr));
    common::assert_fast_isel_takes_all(&ll);
}
