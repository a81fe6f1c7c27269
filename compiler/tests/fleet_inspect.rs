//! `truk fleet inspect`, `watch`, `ls` and `stop` on a real fleet
//! (fleet_support/inspect_fleet.truk): every shared variable checked value by value
//! through `inspect --json`, also after the binary is deleted; `--ns` opens nothing of
//! other namespaces; a damaged description is one `fleet:` line.

mod fleet_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fleet_support::{build_truk, truk, write_private, Fleet};
use serde_json::Value;

const SRC: &str = include_str!("fleet_support/inspect_fleet.truk");

/// The program, built once per test into a folder of its own (a test may delete it).
fn program(test: &str) -> PathBuf {
    build_truk(&format!("inspect_{test}"), ("inspect_fleet.truk", SRC), None, false)
}

/// `inspect --json --ns NS` parsed; panics, saying why, when it fails.
fn inspect(ns: &str) -> Value {
    let (code, out, err) = truk(&["fleet", "inspect", "--json", "--ns", ns]);
    assert_eq!(code, 0, "inspect failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect --json: {e}: {out}"))
}

fn var<'a>(region: &'a Value, name: &str) -> &'a Value {
    let vars = region["variables"].as_array().unwrap();
    let v = vars.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no variable {name}: {region}"));
    &v["value"]
}

/// Polls inspect until `ok` holds for the one region of `ns` (the members are starting).
fn wait_for(ns: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let t = Instant::now();
    loop {
        let j = inspect(ns);
        if let Some(r) = j["regions"].as_array().and_then(|r| r.first()) {
            if ok(r) {
                return r.clone();
            }
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{what} never happened: {j}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the leader and a waiter on its Mutex; returns their pids once the leader has
/// filled everything and the waiter sleeps on the Mutex.
fn start(f: &mut Fleet, exe: &Path) -> (u32, u32) {
    let lead = f.start_with(exe, &[]);
    let lead_pid = f.child(lead).id();
    wait_for(&f.ns, "the leader's ready", |r| var(r, "ready") == true);
    let waiter = f.start_with(exe, &["wait"]);
    let waiter_pid = f.child(waiter).id();
    wait_for(&f.ns, "a waiter asleep on mu", |r| var(r, "mu")["waiters"] == true);
    (lead_pid, waiter_pid)
}

/// Every variable but `ticks` (which the leader keeps counting), value by value.
fn check_values(r: &Value, lead: u32) {
    assert_eq!(var(r, "hits"), 1234567890123u64);
    assert_eq!(var(r, "neg"), -7);
    assert_eq!(var(r, "phase"), "RUNNING");
    let jobs = var(r, "jobs").as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0], serde_json::json!({"id": 0, "ok": false, "pos": {"x": 0.0, "y": 0.0}, "grid": [[0, 0, 0], [0, 0, 0]]}));
    assert_eq!(jobs[1]["id"], 7);
    assert_eq!(jobs[1]["ok"], true);
    assert_eq!(jobs[1]["pos"]["x"].as_f64(), Some(2.5));
    assert_eq!(jobs[1]["pos"]["y"].as_f64(), Some(-0.25));
    assert_eq!(jobs[2]["grid"], serde_json::json!([[0, 0, 0], [0, 0, 65535]]));
    assert_eq!(var(r, "temp").as_f64(), Some(-1.5));
    assert_eq!(var(r, "ratio").as_f64(), Some(0.1));
    assert_eq!(var(r, "mu")["holder"], lead);
    assert_eq!(var(r, "mu")["waiters"], true);
    let q = var(r, "q");
    assert_eq!((&q["length"], &q["capacity"], &q["closed"]), (&3.into(), &8.into(), &false.into()), "{q}");
    assert_eq!((&q["sleeping_senders"], &q["sleeping_receivers"]), (&0.into(), &0.into()), "{q}");
    assert_eq!(var(r, "t"), &serde_json::json!({"length": 2, "capacity": 16}));
    let big: Vec<u64> = var(r, "big").as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(big, (0..100).collect::<Vec<u64>>());
    assert!(var(r, "ticks").as_u64().unwrap() >= 1);
    assert_eq!(var(r, "ready"), true);
    let types: Vec<(&str, &str)> = r["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            ("hits", "u64"),
            ("neg", "i32"),
            ("phase", "Phase"),
            ("jobs", "[3]Job"),
            ("temp", "f32"),
            ("ratio", "f64"),
            ("mu", "Mutex"),
            ("q", "chan[u64, 8]"),
            ("t", "table[u32, u64, 16]"),
            ("big", "[100]u8"),
            ("ticks", "u64"),
            ("ready", "bool")
        ]
    );
}

#[test]
fn inspect_shows_every_value_also_after_the_binary_is_deleted() {
    let exe = program("values");
    let mut f = Fleet::new("inspect", &exe);
    let (lead, waiter) = start(&mut f, &exe);
    let r = inspect(&f.ns)["regions"][0].clone();
    check_values(&r, lead);
    assert_eq!(r["ns"], f.ns.as_str());
    assert_eq!(r["program"], exe.to_str().unwrap());
    assert_eq!(r["generation"], 1);
    let mut pids: Vec<u64> = r["members"].as_array().unwrap().iter().map(|m| m["pid"].as_u64().unwrap()).collect();
    pids.sort();
    let mut want = vec![lead as u64, waiter as u64];
    want.sort();
    assert_eq!(pids, want);
    // The region describes itself: the binary is not needed.
    std::fs::remove_file(&exe).unwrap();
    let r = inspect(&f.ns)["regions"][0].clone();
    check_values(&r, lead);
    assert_eq!(r["program"], exe.to_str().unwrap());
    // Text: one line per variable, long arrays elided unless --full.
    let (code, out, err) = truk(&["fleet", "inspect", "--ns", &f.ns]);
    assert_eq!(code, 0, "{err}");
    for line in [
        "  hits: u64 = 1234567890123",
        "  phase: Phase = RUNNING",
        &format!("  mu: Mutex = held by pid {lead}, waiters asleep"),
        "  q: chan[u64, 8] = 3 of 8 messages, open, 0 senders and 0 receivers asleep, send side leased to slot 0, receive side leased to slot 0",
        "  t: table[u32, u64, 16] = 2 of 16 entries",
        "  big: [100]u8 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, ... 84 more]",
        "  jobs: [3]Job = [{id: 0, ok: false, pos: {x: 0.0, y: 0.0}, grid: [[0, 0, 0], [0, 0, 0]]}, {id: 7, ok: true, pos: {x: 2.5, y: -0.25}, grid: [[0, 0, 0], [0, 0, 0]]}, {id: 0, ok: false, pos: {x: 0.0, y: 0.0}, grid: [[0, 0, 0], [0, 0, 65535]]}]",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    let (_, full, _) = truk(&["fleet", "inspect", "--full", "--ns", &f.ns]);
    assert!(full.contains(", 98, 99]"), "{full}");
    // A fingerprint prefix selects the fleet; another one selects nothing.
    let fp = r["fingerprint"].as_str().unwrap();
    let (_, by_fp, _) = truk(&["fleet", "inspect", "--json", "--ns", &f.ns, &fp[..10]]);
    assert!(by_fp.contains("\"name\":\"hits\""), "{by_fp}");
    let other = if fp.starts_with('0') { "1" } else { "0" };
    let (code, none, _) = truk(&["fleet", "inspect", "--ns", &f.ns, other]);
    assert_eq!((code, none.as_str()), (0, "no fleet regions\n"));
}

#[test]
fn watch_count_prints_snapshots_with_changes_marked() {
    let exe = program("watch");
    let mut f = Fleet::new("watch", &exe);
    let (lead, _) = start(&mut f, &exe);
    let (code, out, err) = truk(&["fleet", "watch", "--ns", &f.ns, "--count", "2", "--interval", "500"]);
    assert_eq!(code, 0, "{err}");
    let parts: Vec<&str> = out.split("== snapshot ").collect();
    assert_eq!(parts.len(), 3, "{out}");
    assert!(parts[1].starts_with("1 of 2\n") && parts[2].starts_with("2 of 2\n"), "{out}");
    for p in &parts[1..] {
        assert!(p.contains(&format!("ns {}  generation 1  program {}", f.ns, exe.display())), "{p}");
        assert!(p.contains(&format!("pid {lead:<8} slot ")), "{p}");
        assert!(p.contains("hits: u64 = 1234567890123"), "{p}");
    }
    // The leader counts `ticks` every 10 ms: changed in the second snapshot, marked;
    // `hits` did not change.
    let line = |p: &str, name: &str| p.lines().find(|l| l.contains(&format!(" {name}: "))).unwrap().to_string();
    assert!(line(parts[2], "ticks").starts_with("*"), "{out}");
    assert!(line(parts[2], "hits").starts_with(' '), "{out}");
    assert!(line(parts[1], "ticks").starts_with(' '), "{out}");
    assert!(line(parts[2], "q").ends_with("(0.0 msg/s)"), "{out}");
    // Without a terminal and without --count: one line, no escape codes.
    let (code, out, err) = truk(&["fleet", "watch", "--ns", &f.ns]);
    assert_ne!(code, 0);
    assert!(out.is_empty() && err.starts_with("fleet: watch needs a terminal") && err.lines().count() == 1, "{err}");
}

#[test]
fn ls_names_the_program_and_stop_ends_the_fleet() {
    let exe = program("stop");
    let mut f = Fleet::new("stop", &exe);
    let (lead, waiter) = start(&mut f, &exe);
    let (code, out, err) = truk(&["fleet", "ls", "--ns", &f.ns]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("  ns {}  generation 1  ready", f.ns)), "{out}");
    assert!(out.contains(&format!("\n    program {}\n", exe.display())), "{out}");
    let (_, json, _) = truk(&["fleet", "ls", "--json", "--ns", &f.ns]);
    let j: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["regions"][0]["program"], exe.to_str().unwrap());
    assert_eq!(j["regions"][0]["namespace"], f.ns.as_str());
    let fp = j["regions"][0]["build_fingerprint"].as_str().unwrap().to_string();
    let (code, out, err) = truk(&["fleet", "stop", "--ns", &f.ns, &fp[..12]]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("sent SIGTERM to 2 members of {} (ns {})\n", &fp[..16], f.ns));
    assert!(f.regions().is_empty(), "the region outlived its members");
    use std::os::unix::process::ExitStatusExt;
    for i in 0..2 {
        let st = f.child(i).wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGTERM), "member {i} ({lead}, {waiter})");
    }
    let (code, _, err) = truk(&["fleet", "stop", "--ns", &f.ns, &fp[..12]]);
    assert_ne!(code, 0);
    assert_eq!(err, format!("fleet: no fleet of yours matches {}\n", &fp[..12]));
    let (code, _, err) = truk(&["fleet", "stop", "--ns", &f.ns, "xyz"]);
    assert_ne!(code, 0);
    assert!(err.starts_with("fleet: \"xyz\" is not a fingerprint prefix") && err.lines().count() == 1, "{err}");
}

/// An inotify watch on `path`: whether anyone opened or read it since.
struct Opened(i32);

impl Opened {
    fn watch(path: &Path) -> Opened {
        // SAFETY: plain system calls; the descriptor is ours and closed on drop.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
            assert!(fd >= 0);
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            assert!(libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_OPEN | libc::IN_ACCESS) >= 0);
            Opened(fd)
        }
    }

    fn any(&self) -> bool {
        let mut buf = [0u8; 4096];
        // SAFETY: reading into our buffer from our descriptor.
        unsafe { libc::read(self.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) > 0 }
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        // SAFETY: our descriptor.
        unsafe { libc::close(self.0) };
    }
}

#[test]
fn ns_touches_nothing_of_other_namespaces_and_a_damaged_description_is_one_line() {
    let exe = program("ns");
    let mut f = Fleet::new("ns", &exe);
    start(&mut f, &exe);
    // A copy of the live region in another namespace, with its description damaged.
    let other = Fleet::new("ns-other", &exe);
    let region = f.region();
    let name = region.file_name().unwrap().to_str().unwrap();
    let copy = region.with_file_name(format!("{}{}", &name[..name.len() - f.ns.len()], other.ns));
    let bytes = std::fs::read(&region).unwrap();
    let header = truk_runtime::Header::from_bytes(&bytes).unwrap();
    let desc = header.desc_offset as usize;
    assert!(header.desc_size > 16);
    write_private(&copy, &bytes);
    let opened = Opened::watch(&copy);
    for args in [
        vec!["fleet", "ls", "--ns", &f.ns],
        vec!["fleet", "ls", "--json", "--ns", &f.ns],
        vec!["fleet", "inspect", "--ns", &f.ns],
        vec!["fleet", "watch", "--count", "1", "--ns", &f.ns],
        vec!["fleet", "gc", "--ns", &f.ns],
    ] {
        let (code, out, err) = truk(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!out.contains(&other.ns), "{args:?}: {out}");
        assert!(!opened.any(), "{args:?} opened another namespace's region");
    }
    // The copy as it is: inspect reads it like the original.
    let (code, out, err) = truk(&["fleet", "inspect", "--ns", &other.ns]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  hits: u64 = 1234567890123"), "{out}");
    // Damaged descriptions: one `fleet:` line each, non-zero exit, never a panic.
    let damage: Vec<(&str, Box<dyn Fn(&mut Vec<u8>)>)> = vec![
        ("bad magic", Box::new(|b: &mut Vec<u8>| b[desc] ^= 0xff)),
        ("count", Box::new(|b: &mut Vec<u8>| b[desc + 8..desc + 12].copy_from_slice(&u32::MAX.to_le_bytes()))),
        ("truncated", Box::new(|b: &mut Vec<u8>| b[desc + 12..desc + 16].copy_from_slice(&1_000_000u32.to_le_bytes()))),
        ("outside the shared area", Box::new(|b: &mut Vec<u8>| {
            // The first variable's offset (after magic, count, name length and "hits").
            b[desc + 20..desc + 28].copy_from_slice(&(u64::MAX - 3).to_le_bytes())
        })),
    ];
    for (what, hurt) in &damage {
        let mut b = bytes.clone();
        hurt(&mut b);
        write_private(&copy, &b);
        for json in [false, true] {
            let mut args = vec!["fleet", "inspect", "--ns", &other.ns];
            if json {
                args.insert(2, "--json");
            }
            let (code, out, err) = truk(&args);
            assert_eq!(code, 1, "{what}: {out}{err}");
            assert_eq!(err.lines().count(), 1, "{what}: {err}");
            assert!(err.starts_with(&format!("fleet: {}: damaged description (", copy.display())), "{what}: {err}");
            assert!(err.contains(what), "{what}: {err}");
            if json {
                let j: Value = serde_json::from_str(&out).unwrap();
                assert_eq!(j["regions"], serde_json::json!([]));
                assert_eq!(j["damaged"][0]["path"], copy.to_str().unwrap());
            }
        }
    }
    // Random damage anywhere in the description: an error line or values, no crash.
    let mut x = 0x9e3779b97f4a7c15u64;
    for _ in 0..200 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            let i = desc + (fleet_support::next(&mut x) % header.desc_size) as usize;
            b[i] ^= 1 << (fleet_support::next(&mut x) % 8);
        }
        write_private(&copy, &b);
        let (code, _, err) = truk(&["fleet", "inspect", "--json", "--ns", &other.ns]);
        assert!(code == 0 || (code == 1 && err.lines().count() == 1 && err.starts_with("fleet: ")), "{code}: {err}");
    }
    drop(opened);
    // A member checks the description like the header: it refuses the damaged copy.
    let mut b = bytes.clone();
    b[desc + 16] ^= 0x20; // a letter of the first variable's name
    write_private(&copy, &b);
    let mut other = other;
    let i = other.start_with(&exe, &[]);
    let t = Instant::now();
    let status = loop {
        if let Some(st) = other.child(i).try_wait().unwrap() {
            break st;
        }
        // The guard kills it when it joined instead.
        assert!(t.elapsed() < Duration::from_secs(20), "a member joined a region with a damaged description");
        std::thread::sleep(Duration::from_millis(10));
    };
    let err = other.stderr_of(i);
    assert_eq!(status.code(), Some(70), "{err}");
    assert!(err.starts_with("fleet: ") && err.contains("damaged region (the description") && err.lines().count() == 1, "{err}");
    assert_eq!(std::fs::read(&copy).unwrap(), b, "the damaged region was written to");
    std::fs::remove_file(&copy).unwrap();
}
