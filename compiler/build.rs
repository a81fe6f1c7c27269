//! Builds `llvm-shim/shim.cpp` (what LLVM's C API does not reach) against the headers of the
//! LLVM that inkwell links: the one `LLVM_SYS_191_PREFIX` names (.cargo/config.toml), or the
//! `llvm-config-19` on PATH.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=llvm-shim/shim.cpp");
    // truk-compiler is a position-dependent executable: as a PIE, the loader applied about
    // 170,000 relocations to it (the statically linked LLVM's vtables and tables) on every
    // start, a copy-on-write fault for every page of them.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bin=truk-compiler=-no-pie");
    }
    println!("cargo:rerun-if-env-changed=LLVM_SYS_191_PREFIX");
    let config = match std::env::var_os("LLVM_SYS_191_PREFIX") {
        Some(prefix) => PathBuf::from(prefix).join("bin").join("llvm-config"),
        None => PathBuf::from("llvm-config-19"),
    };
    let include = Command::new(&config)
        .arg("--includedir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| panic!("cannot run {} --includedir: run ci/setup to install LLVM 19", config.display()));
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .include(include)
        .flag("-fno-exceptions")
        .flag("-fno-rtti")
        // LLVM's own headers warn under -Wextra.
        .warnings(false)
        .extra_warnings(false)
        .define("__STDC_CONSTANT_MACROS", None)
        .define("__STDC_FORMAT_MACROS", None)
        .define("__STDC_LIMIT_MACROS", None)
        .file("llvm-shim/shim.cpp")
        .compile("truk_llvm_shim");
}
