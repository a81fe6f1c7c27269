//! The fleet runtime (runtime-c/fleet.c) with real processes: C members built from
//! fleet_support/agent.c with hand-made notes, each test in its own TRUK_FLEET_NS.

mod fleet_support;

use std::path::PathBuf;
use std::sync::OnceLock;

use fleet_support::*;

/// The agent with the default test note (fingerprint seed 1, 1024 slots), built once.
fn agent_exe() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| build_agent("agent", &note(1, 1024, REGION_SIZE)))
        .clone()
}

#[test]
fn seed_lifecycle_t0_to_t5() {
    let mut f = Fleet::new("life", &agent_exe());
    // T0: A creates and writes.
    let mut a = f.agent();
    assert!(a.joined.first, "{:?}", a.joined);
    assert_eq!(a.joined.generation, 1);
    assert_eq!(a.joined.init, "c0ffee");
    assert_eq!(a.cmd("set 1 111"), "ok");
    let region = f.region();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&region).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // T1: B attaches, reads A's data, writes more.
    let mut b = f.agent();
    assert!(!b.joined.first);
    assert_eq!(b.joined.tag, a.joined.tag);
    assert_eq!(b.joined.size, 2);
    assert_eq!(b.get(1), 111);
    assert_eq!(b.cmd("set 2 222"), "ok");
    assert_eq!(a.get(2), 222);
    // T2: A crashes.
    f.kill(&a);
    assert_eq!(f.regions().len(), 1);
    // T3: C sees A's and B's data; A is reaped.
    let mut c = f.agent();
    assert!(!c.joined.first);
    assert_eq!(c.joined.generation, 1);
    assert_eq!((c.get(1), c.get(2)), (111, 222));
    assert_eq!(c.cmd("size"), "2");
    // T4: B exits; the region stays.
    b.send("exit 0");
    assert_eq!(f.wait(b.index()), Some(0));
    assert_eq!(f.regions().len(), 1);
    assert_eq!(c.cmd("size"), "1");
    assert_eq!(c.get(2), 222);
    // T5: C exits; the region is gone.
    c.send("exit 0");
    assert_eq!(f.wait(c.index()), Some(0));
    assert!(f.regions().is_empty(), "{:?}", f.regions());
}
