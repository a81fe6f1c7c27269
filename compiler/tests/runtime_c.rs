//! The C runtime, compiled and linked the way the driver does it, exercised by small C
//! programs that play the generated code's role.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use truk_core::driver::link::link;
use truk_core::driver::runtime::{runtime_objects_in, RUNTIME_HEADER, RUNTIME_SOURCES};

const X86: &str = "x86_64-unknown-linux-gnu";
const ARM: &str = "aarch64-unknown-linux-gnu";

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("runtime_c")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A cache shared by the tests of this file (they run in parallel: this also exercises
/// concurrent cache fills).
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime_c_cache")
}

/// Compile a C test program against the runtime header, link it with the runtime.
fn build(dir: &Path, name: &str, src: &str, target: &str) -> PathBuf {
    std::fs::write(dir.join("truk_rt.h"), RUNTIME_HEADER).unwrap();
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, src).unwrap();
    let obj = dir.join(format!("{name}.o"));
    let cc = if target == X86 {
        "cc"
    } else {
        "aarch64-linux-gnu-gcc"
    };
    let out = Command::new(cc)
        .args(["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-c"])
        .arg(&c)
        .arg("-I")
        .arg(dir)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut objects = vec![obj];
    objects.extend(runtime_objects_in(&shared_cache(), target, false).expect("runtime compiles"));
    let exe = dir.join(name);
    link(&objects, &exe, target, false, true).expect("links");
    exe
}

fn run(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const MAP_PROGRAM: &str = r#"
#include "truk_rt.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #c); return 1; } } while (0)
#define N 100000

struct big { uint64_t a; double b; uint8_t c[13]; };

static int ints(void) {
    void *m = __truk_map_new(TRUK_KEY_BYTES, 8, 8);
    CHECK(__truk_map_len(m) == 0);
    CHECK(__truk_map_next(m, 0, NULL, NULL) == 0);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = i * 2654435761u;
        uint64_t *v = __truk_map_upsert_int(m, k);
        CHECK(*v == 0);
        *v = i + 1;
    }
    CHECK(__truk_map_len(m) == N);
    for (uint64_t i = 0; i < N; i++) {
        uint64_t k = i * 2654435761u;
        uint64_t *v = __truk_map_get_int(m, k);
        CHECK(v && *v == i + 1);
    }
    uint64_t absent = 3;
    CHECK(__truk_map_get_int(m, absent) == NULL);
    for (uint64_t i = 0; i < N; i += 2) {
        uint64_t k = i * 2654435761u;
        __truk_map_remove_int(m, k);
    }
    __truk_map_remove_int(m, absent);
    CHECK(__truk_map_len(m) == N / 2);
    /* live entries only, each once (in no particular order) */
    static unsigned char seen[N];
    uint64_t cur = 0, count = 0;
    void *kp, *vp;
    while ((cur = __truk_map_next(m, cur, &kp, &vp)) != 0) {
        uint64_t i = *(uint64_t *)vp - 1;
        CHECK(i < N && i % 2 == 1 && !seen[i]);
        CHECK(*(uint64_t *)kp == i * 2654435761u);
        seen[i] = 1;
        count++;
    }
    CHECK(count == N / 2);
    /* re-insert the removed keys: every key once */
    for (uint64_t i = 0; i < N; i += 2) {
        uint64_t k = i * 2654435761u;
        *(uint64_t *)__truk_map_upsert_int(m, k) = i + 1;
    }
    CHECK(__truk_map_len(m) == N);
    memset(seen, 0, sizeof seen);
    cur = 0; count = 0;
    while ((cur = __truk_map_next(m, cur, &kp, &vp)) != 0) {
        uint64_t i = *(uint64_t *)vp - 1;
        CHECK(i < N && !seen[i] && *(uint64_t *)kp == i * 2654435761u);
        seen[i] = 1;
        count++;
    }
    CHECK(count == N);
    /* remove the current entry while iterating */
    cur = 0;
    while ((cur = __truk_map_next(m, cur, &kp, NULL)) != 0) {
        __truk_map_remove_int(m, *(uint64_t *)kp);
    }
    CHECK(__truk_map_len(m) == 0);
    __truk_map_free(m);

    /* re-inserting a removed key read from the map's own (dead) slot, which the insert may
     * take again, while other inserts grow the table */
    void *g = __truk_map_new(TRUK_KEY_BYTES, 8, 8);
    for (uint64_t k = 100; k < 108; k++)
        *(uint64_t *)__truk_map_upsert_int(g, k) = k;
    for (uint64_t k = 200; k < 300; k++) {
        __truk_map_upsert_int(g, k);
        CHECK(__truk_map_next(g, 0, &kp, NULL) != 0);
        uint64_t first = *(uint64_t *)kp;
        __truk_map_remove_int(g, *(uint64_t *)kp);
        uint64_t *v = __truk_map_upsert_int(g, *(uint64_t *)kp);
        *v = 7;
        CHECK(*(uint64_t *)__truk_map_get_int(g, first) == 7);
    }
    CHECK(__truk_map_len(g) == 108);
    for (uint64_t k = 100; k < 108; k++)
        CHECK(__truk_map_get_int(g, k) != NULL);
    for (uint64_t k = 200; k < 300; k++)
        CHECK(__truk_map_get_int(g, k) != NULL);
    __truk_map_free(g);
    return 0;
}

/* Integer keys by value: signed keys zero-extended, 1/4/8-byte keys, removal during
 * iteration, growth. */
static int int_entry_points(void) {
    void *m = __truk_map_new(TRUK_KEY_BYTES, 4, 8);
    for (int32_t i = -N / 2; i < N / 2; i++)
        *(int64_t *)__truk_map_upsert_int(m, (uint32_t)i) = i;
    for (int32_t i = -N / 2; i < N / 2; i += 3)
        __truk_map_remove_int(m, (uint32_t)i);
    for (int32_t i = -N / 2; i < N / 2; i++) {
        int64_t *by_val = __truk_map_get_int(m, (uint32_t)i);
        CHECK((i + N / 2) % 3 == 0 ? by_val == NULL : *by_val == i);
    }
    void *kp, *vp;
    uint64_t cur = 0, seen = 0;
    while ((cur = __truk_map_next(m, cur, &kp, &vp)) != 0) {
        int32_t k;
        memcpy(&k, kp, 4);
        CHECK(*(int64_t *)vp == k);
        __truk_map_remove_int(m, (uint32_t)k);
        seen++;
    }
    CHECK(seen == N - (N + 2) / 3 && __truk_map_len(m) == 0);
    CHECK(__truk_map_get_int(NULL, 1) == NULL);
    __truk_map_remove_int(NULL, 1);
    __truk_map_free(m);

    void *b = __truk_map_new(TRUK_KEY_BYTES, 1, 4);
    bool t = true;
    *(int32_t *)__truk_map_upsert_int(b, 1) = 5;
    CHECK(*(int32_t *)__truk_map_get_int(b, t) == 5 && __truk_map_get_int(b, 0) == NULL);
    __truk_map_free(b);
    return 0;
}

static int small_keys_big_values(void) {
    void *m = __truk_map_new(TRUK_KEY_BYTES, 4, sizeof(struct big));
    for (int32_t i = -N / 2; i < N / 2; i++) {
        struct big *v = __truk_map_upsert_int(m, (uint32_t)i);
        CHECK(v->a == 0 && v->b == 0 && v->c[12] == 0);
        CHECK(((uintptr_t)v & 7) == 0);
        v->a = (uint64_t)i; v->b = i * 0.5; v->c[12] = (uint8_t)i;
    }
    CHECK(__truk_map_len(m) == N);
    for (int32_t i = -N / 2; i < N / 2; i++) {
        struct big *v = __truk_map_get_int(m, (uint32_t)i);
        CHECK(v && v->a == (uint64_t)i && v->b == i * 0.5 && v->c[12] == (uint8_t)i);
    }
    __truk_map_free(m);

    void *b = __truk_map_new(TRUK_KEY_BYTES, 1, 4);
    bool t = true, f = false;
    *(int32_t *)__truk_map_upsert_int(b, t) = 1;
    *(int32_t *)__truk_map_upsert_int(b, f) = 2;
    *(int32_t *)__truk_map_upsert_int(b, t) += 10;
    CHECK(__truk_map_len(b) == 2);
    CHECK(*(int32_t *)__truk_map_get_int(b, t) == 11 && *(int32_t *)__truk_map_get_int(b, f) == 2);
    __truk_map_free(b);
    return 0;
}

static int floats(void) {
    void *m = __truk_map_new(TRUK_KEY_FLOAT, 8, 8);
    for (int i = 0; i < N; i++) {
        double k = i * 0.25 - 1000.0;
        *(int64_t *)__truk_map_upsert_float(m, k) = i;
    }
    CHECK(__truk_map_len(m) == N);
    for (int i = 0; i < N; i++) {
        double k = i * 0.25 - 1000.0;
        int64_t *v = __truk_map_get_float(m, k);
        CHECK(v && *v == i);
    }
    double z = 0.0, nz = -0.0;
    CHECK(__truk_map_get_float(m, nz) != NULL && __truk_map_get_float(m, nz) == __truk_map_get_float(m, z));
    uint64_t before = __truk_map_len(m);
    *(int64_t *)__truk_map_upsert_float(m, nz) = 77;
    CHECK(__truk_map_len(m) == before && *(int64_t *)__truk_map_get_float(m, z) == 77);
    double nan = NAN;
    __truk_map_upsert_float(m, nan);
    __truk_map_upsert_float(m, nan);
    CHECK(__truk_map_len(m) == before + 2);
    CHECK(__truk_map_get_float(m, nan) == NULL);
    __truk_map_remove_float(m, nan);
    CHECK(__truk_map_len(m) == before + 2);
    /* the stored key of -0.0 is 0.0 */
    void *kp, *vp;
    uint64_t cur = 0;
    while ((cur = __truk_map_next(m, cur, &kp, NULL)) != 0)
        CHECK(*(double *)kp != 0.0 || !signbit(*(double *)kp));
    __truk_map_free(m);

    void *f = __truk_map_new(TRUK_KEY_FLOAT, 4, 4);
    for (int i = 0; i < N; i++) {
        float k = (float)i * 1.5f;
        *(int32_t *)__truk_map_upsert_float(f, k) = i;
    }
    CHECK(__truk_map_len(f) == N);
    for (int i = 0; i < N; i += 3) {
        float k = (float)i * 1.5f;
        CHECK(*(int32_t *)__truk_map_get_float(f, k) == i);
        __truk_map_remove_float(f, k);
        CHECK(__truk_map_get_float(f, k) == NULL);
    }
    float fz = 0.0f, fnz = -0.0f;
    __truk_map_upsert_float(f, fnz);
    CHECK(__truk_map_get_float(f, fz) != NULL);
    /* an f32 key is its 4 bytes */
    *(int32_t *)__truk_map_upsert_float(f, 2.5f) = -7;
    cur = 0;
    bool found = false;
    while ((cur = __truk_map_next(f, cur, &kp, &vp)) != 0)
        found |= *(float *)kp == 2.5f && *(int32_t *)vp == -7;
    CHECK(found);
    __truk_map_free(f);
    return 0;
}

static int strings(void) {
    void *m = __truk_map_new(TRUK_KEY_STRING, 8, 8);
    char buf[32];
    char *p = buf;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "key-%d", i);
        *(int64_t *)__truk_map_upsert_str(m, p) = i;
    }
    strcpy(buf, "changed"); /* the map owns copies */
    CHECK(__truk_map_len(m) == N);
    for (int i = 0; i < N; i++) {
        char other[32];
        snprintf(other, sizeof other, "key-%d", i);
        int64_t *v = __truk_map_get_str(m, other);
        CHECK(v && *v == i);
    }
    CHECK(__truk_map_get_str(m, p) == NULL);
    const char *lit = "key-5";
    __truk_map_remove_str(m, lit);
    CHECK(__truk_map_get_str(m, lit) == NULL && __truk_map_len(m) == N - 1);
    uint64_t cur = 0, count = 0;
    void *kp, *vp;
    while ((cur = __truk_map_next(m, cur, &kp, &vp)) != 0) {
        char want[32];
        snprintf(want, sizeof want, "key-%d", (int)*(int64_t *)vp);
        CHECK(strcmp(*(char **)kp, want) == 0);
        count++;
    }
    CHECK(count == N - 1);
    const char *empty = "";
    *(int64_t *)__truk_map_upsert_str(m, empty) = -1;
    CHECK(*(int64_t *)__truk_map_get_str(m, empty) == -1);
    /* nil is a key of its own, not the empty string */
    CHECK(__truk_map_get_str(m, NULL) == NULL);
    *(int64_t *)__truk_map_upsert_str(m, NULL) = -2;
    CHECK(*(int64_t *)__truk_map_get_str(m, NULL) == -2 && *(int64_t *)__truk_map_get_str(m, empty) == -1);
    __truk_map_remove_str(m, NULL);
    CHECK(__truk_map_get_str(m, NULL) == NULL && __truk_map_get_str(m, empty) != NULL);
    __truk_map_free(m);
    return 0;
}

static int nil_and_alloc(void) {
    CHECK(__truk_map_get_int(NULL, 1) == NULL && __truk_map_get_str(NULL, "a") == NULL && __truk_map_get_float(NULL, 1.0) == NULL);
    CHECK(__truk_map_len(NULL) == 0);
    CHECK(__truk_map_next(NULL, 0, NULL, NULL) == 0);
    __truk_map_remove_int(NULL, 1);
    __truk_map_remove_str(NULL, "a");
    __truk_map_remove_float(NULL, 1.0);
    __truk_map_free(NULL);
    void *z = __truk_alloc(0);
    CHECK(z != NULL);
    __truk_free(z);
    void *n0 = __truk_new(0), *n1 = __truk_new(0);
    CHECK(n0 != NULL && n1 != NULL && n0 != n1);
    __truk_free(n0);
    __truk_free(n1);
    uint32_t *a = __truk_alloc_array(4, 1000);
    for (int i = 0; i < 1000; i++) CHECK(a[i] == 0);
    __truk_free(a);
    __truk_free(NULL);
    return 0;
}

int32_t __truk_main(int32_t argc, char **argv) {
    if (argc > 1) {
        const char *mode = argv[1];
        if (!strcmp(mode, "bounds")) { printf("before\n"); __truk_bounds_fail(7, 3, "main.truk", (uint64_t)4 << 32 | 9); }
        if (!strcmp(mode, "panic")) __truk_panic((const uint8_t *)"boom, truncated", 4);
        if (!strcmp(mode, "panic-nul")) __truk_panic((const uint8_t *)"a\0b\n\0", 5);
        if (!strcmp(mode, "nilmap")) __truk_map_upsert_int(NULL, 0);
        if (!strcmp(mode, "overflow")) __truk_alloc_array(UINT64_MAX / 2, 3);
        if (!strcmp(mode, "exit")) exit(42);
        if (!strcmp(mode, "argv")) return argc * 10;
        return 2;
    }
    if (ints() || int_entry_points() || small_keys_big_values() || floats() || strings() || nil_and_alloc()) return 1;
    printf("maps ok %f\n", sqrt(4.0));
    return 0;
}
"#;

fn check_map_program(exe: &Path, runner: &[&str]) {
    let go = |args: &[&str]| -> Output {
        let mut all: Vec<&str> = runner.to_vec();
        let exe = exe.to_str().unwrap();
        all.push(exe);
        all.extend_from_slice(args);
        Command::new(all[0]).args(&all[1..]).output().unwrap()
    };
    let out = go(&[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "maps ok 2.000000\n");

    let out = go(&["bounds"]);
    assert_eq!(out.status.code(), Some(101));
    assert_eq!(text(&out.stdout), "before\n");
    assert_eq!(
        text(&out.stderr),
        "panic: index out of bounds: the index is 7 but the length is 3 (at main.truk:4:9)\n"
    );

    let out = go(&["panic"]);
    assert_eq!(out.status.code(), Some(101));
    assert_eq!(text(&out.stderr), "panic: boom\n");

    // Every byte of the message, NULs too.
    let out = go(&["panic-nul"]);
    assert_eq!(out.status.code(), Some(101));
    assert_eq!(out.stderr, b"panic: a\0b\n\0\n");

    let out = go(&["nilmap"]);
    assert_eq!(out.status.code(), Some(101));
    assert_eq!(text(&out.stderr), "panic: assignment to a nil map\n");

    let out = go(&["overflow"]);
    assert_eq!(out.status.code(), Some(101));
    assert!(
        text(&out.stderr).starts_with("panic: "),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(go(&["exit"]).status.code(), Some(42));
    assert_eq!(go(&["argv", "x", "y"]).status.code(), Some(40));
}

#[test]
fn maps_panics_and_alloc_native() {
    let dir = scratch("maps_native");
    let exe = build(&dir, "maps", MAP_PROGRAM, X86);
    check_map_program(&exe, &[]);
}

#[test]
fn maps_panics_and_alloc_aarch64_under_qemu() {
    if Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_err()
        || Command::new("aarch64-linux-gnu-gcc")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("skipping: no aarch64 cross toolchain or qemu-aarch64");
        return;
    }
    let dir = scratch("maps_arm");
    let exe = build(&dir, "maps", MAP_PROGRAM, ARM);
    check_map_program(&exe, &["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]);
}

const TESTFW_PROGRAM: &str = r#"
#include "truk_rt.h"
#include <string.h>

static void setup(__truk_test_ctx *t) { __truk_test_log(t, "setup"); }
static void teardown(__truk_test_ctx *t) { __truk_test_log(t, "teardown"); }

static void test_passes(__truk_test_ctx *t) {
    __truk_test_log(t, "hello from the test");
    __truk_test_assert_i8(t, 127, 127, "i8");
    __truk_test_assert_i16(t, -1000, -1000, "i16");
    __truk_test_assert_i32(t, 42, 42, "i32");
    __truk_test_assert_i64(t, -9999, -9999, "i64");
    __truk_test_assert_u8(t, 255, 255, "u8");
    __truk_test_assert_u16(t, 65535, 65535, "u16");
    __truk_test_assert_u32(t, 1000000, 1000000, "u32");
    __truk_test_assert_u64(t, UINT64_MAX, UINT64_MAX, "u64");
    __truk_test_assert_f32(t, 3.14f, 3.14f, "f32");
    __truk_test_assert_f64(t, 2.71828, 2.71828, "f64");
    __truk_test_assert_bool(t, true, true, "bool");
    __truk_test_assert_true(t, 5 > 3, "true");
    __truk_test_assert_false(t, 2 > 10, "false");
    int x = 0;
    __truk_test_assert_ptr_ne_nil(t, &x, "ne nil");
    __truk_test_assert_ptr_eq_nil(t, NULL, "eq nil");
    uint8_t a[5] = {1, 2, 3, 4, 5}, b[5] = {1, 2, 3, 4, 5};
    __truk_test_assert_bytes_eq(t, a, b, 5, "bytes");
    __truk_test_assert_true(t, __truk_test_get_argc(t) >= 1, "argc");
    __truk_test_assert_ptr_ne_nil(t, __truk_test_get_argv(t)[0], "argv[0]");
}

static void test_fails(__truk_test_ctx *t) {
    __truk_test_assert_i32(t, 100, 4, "this will fail");
    __truk_test_assert_u64(t, 1, 1, "fine");
    uint8_t a[3] = {1, 2, 3}, b[3] = {1, 9, 3};
    __truk_test_assert_bytes_eq(t, a, b, 3, "bytes differ");
    __truk_test_assert_f64(t, 0.5, 0.25, "");
    __truk_test_fail(t, "manual failure");
    __truk_test_log(t, "still running");
}

static void test_panics(__truk_test_ctx *t) {
    __truk_test_log(t, "about to panic");
    __truk_panic_cstr("test blew up");
}

int32_t __truk_main(int32_t argc, char **argv) {
    struct __truk_test_case tests[] = {
        {"test_passes", test_passes},
        {"test_fails", test_fails},
        {"test_panics", test_panics},
    };
    uint64_t count = 2;
    if (argc > 1 && !strcmp(argv[1], "panic")) count = 3;
    if (argc > 1 && !strcmp(argv[1], "pass")) count = 1;
    /* Each test runs in a child process: what it changes here stays there. */
    return __truk_test_run(argc, argv, tests, count, setup, teardown);
}
"#;

#[test]
fn test_framework() {
    let dir = scratch("testfw");
    let exe = build(&dir, "tests", TESTFW_PROGRAM, X86);

    let out = run(&exe, &["pass"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "[PASS] test_passes\n    LOG: setup\n    LOG: hello from the test\n    LOG: teardown\n1 passed, 0 failed\n"
    );

    let out = run(&exe, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        "[PASS] test_passes\n    LOG: setup\n    LOG: hello from the test\n    LOG: teardown\n\
         [FAIL] test_fails\n    LOG: setup\n\
         \x20   FAIL: Expected 100, got 4 - this will fail\n\
         \x20   FAIL: Expected 0x02, got 0x09 at byte 1 - bytes differ\n\
         \x20   FAIL: Expected 0.5, got 0.25\n\
         \x20   FAIL: manual failure\n\
         \x20   LOG: still running\n\
         \x20   LOG: teardown\n\
         1 passed, 1 failed\n"
    );

    // A panic fails its test only (its child process): the run goes on to the summary.
    let out = run(&exe, &["panic"]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.ends_with(
            "[FAIL] test_panics (panicked)\n    LOG: setup\n    LOG: about to panic\n1 passed, 2 failed\n"
        ),
        "{stdout}"
    );
    assert_eq!(text(&out.stderr), "panic: test blew up\n");
}

fn mtimes(paths: &[PathBuf]) -> Vec<std::time::SystemTime> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .collect()
}

#[test]
fn runtime_cache_is_reused_and_atomic() {
    let cache = scratch("cache");
    // Several builds at once on an empty cache: all succeed with the same objects.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let cache = cache.clone();
            std::thread::spawn(move || runtime_objects_in(&cache, X86, false).unwrap())
        })
        .collect();
    let results: Vec<Vec<PathBuf>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let first = results[0].clone();
    assert_eq!(first.len(), RUNTIME_SOURCES.len());
    let before = mtimes(&first);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = runtime_objects_in(&cache, X86, false).unwrap();
    assert_eq!(first, second);
    assert_eq!(before, mtimes(&second), "a cached build must not recompile");
    // Only the objects are left behind: no temp folders, no partial files.
    let entries: Vec<_> = std::fs::read_dir(cache.join("runtime")).unwrap().collect();
    assert_eq!(entries.len(), RUNTIME_SOURCES.len(), "{entries:?}");
    // Another profile or target is another key.
    let release = runtime_objects_in(&cache, X86, true).unwrap();
    assert!(release.iter().all(|p| !first.contains(p)));
    assert!(runtime_objects_in(&cache, "riscv64-unknown-linux-gnu", false).is_err());
}

#[test]
fn link_errors_are_reported_not_panicked() {
    let dir = scratch("link_error");
    let mut objects = runtime_objects_in(&shared_cache(), X86, false).unwrap();
    // No __truk_main anywhere.
    let err = link(&objects, &dir.join("nope"), X86, false, true).unwrap_err().to_string();
    assert!(err.contains("__truk_main"), "{err}");
    objects.push(dir.join("missing.o"));
    assert!(link(&objects, &dir.join("nope"), X86, false, true).is_err());
}
