//! The Rust mirror of the region layout agrees with runtime-c/truk_fleet.h: a C program
//! compiled from the header prints every size, offset and constant; Rust compares.

use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::process::Command;

use truk_runtime::layout::*;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include "truk_fleet.h"
#include "truk_rt.h"
#define F(s, f) printf(#s "." #f " %zu %zu\n", offsetof(struct s, f), sizeof(((struct s *)0)->f))
#define C(n) printf(#n " %llu 0\n", (unsigned long long)(n))
int main(void) {
    printf("header %zu 0\nslot %zu 0\nmutex %zu 0\n", sizeof(struct truk_fleet_header),
           sizeof(struct truk_fleet_slot), sizeof(struct truk_mutex_layout));
    F(truk_fleet_header, magic); F(truk_fleet_header, protocol); F(truk_fleet_header, header_size);
    F(truk_fleet_header, build_fp); F(truk_fleet_header, layout_fp); F(truk_fleet_header, region_size);
    F(truk_fleet_header, file_size); F(truk_fleet_header, table_offset); F(truk_fleet_header, shared_offset);
    F(truk_fleet_header, capacity); F(truk_fleet_header, slot_size); F(truk_fleet_header, generation);
    F(truk_fleet_header, state); F(truk_fleet_header, creator_pid); F(truk_fleet_header, generation_time);
    F(truk_fleet_header, program_offset); F(truk_fleet_header, program_size);
    F(truk_fleet_header, desc_offset); F(truk_fleet_header, desc_size); F(truk_fleet_header, reserved);
    C(TRUK_FLEET_PROGRAM_SIZE); C(TRUK_FLEET_DESC_MAX);
    C(truk_fleet_program_offset(1, 0)); C(truk_fleet_program_offset(3, 100)); C(truk_fleet_program_offset(1024, 1 << 20));
    F(truk_fleet_slot, word); F(truk_fleet_slot, start_time); F(truk_fleet_slot, in_op);
    printf("exitlog %zu 0\nexitrec %zu 0\n", sizeof(struct truk_fleet_exitlog), sizeof(struct truk_fleet_exit));
    F(truk_fleet_exitlog, head); F(truk_fleet_exitlog, wake); F(truk_fleet_exitlog, pad0); F(truk_fleet_exitlog, reserved);
    F(truk_fleet_exit, stamp); F(truk_fleet_exit, start_time); F(truk_fleet_exit, pid); F(truk_fleet_exit, slot);
    F(truk_fleet_exit, reserved);
    C(TRUK_FLEET_EXITLOG_HEADER_SIZE); C(TRUK_FLEET_EXIT_RECORD_SIZE); C(TRUK_FLEET_EXIT_STALL_MS);
    C(truk_fleet_exitlog_len(1)); C(truk_fleet_exitlog_len(1024));
    C(truk_fleet_exitlog_offset(1)); C(truk_fleet_exitlog_offset(3)); C(truk_fleet_exitlog_offset(1024));
    F(truk_mutex_layout, word); F(truk_mutex_layout, listed); F(truk_mutex_layout, owner);
    F(truk_mutex_layout, spare); F(truk_mutex_layout, prev); F(truk_mutex_layout, next);
    C(TRUK_FLEET_PROTOCOL); C(TRUK_FLEET_HEADER_SIZE); C(TRUK_FLEET_SLOT_SIZE); C(TRUK_FLEET_SHARED_ALIGN);
    C(TRUK_FLEET_FP_SIZE); C(TRUK_FLEET_EXIT_STATUS); C(TRUK_FLEET_NS_MAX); C(TRUK_FLEET_STATE_INIT);
    C(TRUK_FLEET_STATE_READY); C(TRUK_SLOT_FREE); C(TRUK_SLOT_CLAIMED); C(TRUK_SLOT_ACTIVE);
    C(TRUK_SLOT_STATUS_MASK); C(TRUK_SLOT_COUNT_ONE); C(TRUK_SLOT_COUNT_MASK); C(TRUK_SLOT_PID_SHIFT);
    C(TRUK_MUTEX_WAITERS); C(TRUK_MUTEX_OWNER_DIED); C(TRUK_MUTEX_TID_MASK);
    C(TRUK_MUTEX_BACKSTOP_MS); C(TRUK_MUTEX_SIZE);
    C(truk_fleet_shared_offset(1)); C(truk_fleet_shared_offset(3)); C(truk_fleet_shared_offset(1024));
    printf("chan %zu 0\n", sizeof(struct truk_chan_header));
    F(truk_chan_header, tail); F(truk_chan_header, head); F(truk_chan_header, sent); F(truk_chan_header, recvd);
    F(truk_chan_header, recv_sleepers); F(truk_chan_header, send_sleepers); F(truk_chan_header, closed);
    F(truk_chan_header, send_lease); F(truk_chan_header, send_calm); F(truk_chan_header, recv_lease); F(truk_chan_header, recv_calm);
    C(TRUK_CHAN_HEADER_SIZE); C(TRUK_CHAN_CELL_PAYLOAD); C(TRUK_CHAN_WRITING); C(TRUK_CHAN_FULL);
    C(TRUK_CHAN_MOVER_MASK); C(TRUK_CHAN_MOVER_SLOT_BITS); C(TRUK_CHAN_LEASE_REVOKING); C(TRUK_CHAN_LEASE_CLOSED);
    C(truk_chan_stride(0)); C(truk_chan_stride(1)); C(truk_chan_stride(8)); C(truk_chan_stride(60));
    printf("table %zu 0\n", sizeof(struct truk_table_header));
    F(truk_table_header, epoch); F(truk_table_header, len); F(truk_table_header, stale); F(truk_table_header, dels); F(truk_table_header, locks);
    C(TRUK_TABLE_STRIPES); C(TRUK_TABLE_HEADER_SIZE); C(TRUK_TABLE_BUSY); C(TRUK_TABLE_FULL);
    C(TRUK_TABLE_TOMB); C(TRUK_TABLE_EPOCH_MASK);
    C(truk_table_stride(1, 1)); C(truk_table_stride(8, 12)); C(truk_table_stride(32, 60));
    printf("magic %d 0\n", memcmp(TRUK_FLEET_MAGIC, "TRUKFLT\0", 8) == 0);
    printf("strings %s %s %s %s 0\n", TRUK_FLEET_DIR, TRUK_FLEET_PREFIX, TRUK_FLEET_NS_ENV, TRUK_FLEET_NS_DEFAULT);
    return 0;
}
"#;

#[test]
fn rust_layout_matches_truk_fleet_h() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet_layout");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("layout.c");
    std::fs::write(&c, PROGRAM).unwrap();
    let exe = dir.join("layout");
    let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime-c");
    let Ok(out) = Command::new("clang-19")
        .args(["-std=c11", "-Wall", "-Werror", "-I", inc])
        .arg(&c)
        .arg("-o")
        .arg(&exe)
        .output()
    else {
        eprintln!("skipping: clang-19 is not installed");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    let c: HashMap<String, (String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.rsplitn(3, ' ');
            let size = w.next()?.to_string();
            let val = w.next()?.to_string();
            Some((w.next()?.to_string(), (val, size)))
        })
        .collect();
    let check = |key: &str, value: u64, size: usize| {
        let (v, s) = c
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing: {text}"));
        assert_eq!(
            (v.as_str(), s.as_str()),
            (value.to_string().as_str(), size.to_string().as_str()),
            "{key}"
        );
    };
    check("header", size_of::<Header>() as u64, 0);
    check("slot", size_of::<Slot>() as u64, 0);
    check("mutex", size_of::<MutexLayout>() as u64, 0);
    macro_rules! field {
        ($c:literal, $t:ty, $f:ident) => {{
            let v: $t = unsafe { std::mem::zeroed() };
            check(
                concat!($c, ".", stringify!($f)),
                offset_of!($t, $f) as u64,
                std::mem::size_of_val(&v.$f),
            );
        }};
    }
    field!("truk_fleet_header", Header, magic);
    field!("truk_fleet_header", Header, protocol);
    field!("truk_fleet_header", Header, header_size);
    field!("truk_fleet_header", Header, build_fp);
    field!("truk_fleet_header", Header, layout_fp);
    field!("truk_fleet_header", Header, region_size);
    field!("truk_fleet_header", Header, file_size);
    field!("truk_fleet_header", Header, table_offset);
    field!("truk_fleet_header", Header, shared_offset);
    field!("truk_fleet_header", Header, capacity);
    field!("truk_fleet_header", Header, slot_size);
    field!("truk_fleet_header", Header, generation);
    field!("truk_fleet_header", Header, state);
    field!("truk_fleet_header", Header, creator_pid);
    field!("truk_fleet_header", Header, generation_time);
    field!("truk_fleet_header", Header, program_offset);
    field!("truk_fleet_header", Header, program_size);
    field!("truk_fleet_header", Header, desc_offset);
    field!("truk_fleet_header", Header, desc_size);
    field!("truk_fleet_header", Header, reserved);
    field!("truk_fleet_slot", Slot, word);
    field!("truk_fleet_slot", Slot, start_time);
    field!("truk_fleet_slot", Slot, in_op);
    check("exitlog", size_of::<ExitLogHeader>() as u64, 0);
    check("exitrec", size_of::<ExitRecord>() as u64, 0);
    field!("truk_fleet_exitlog", ExitLogHeader, head);
    field!("truk_fleet_exitlog", ExitLogHeader, wake);
    field!("truk_fleet_exitlog", ExitLogHeader, pad0);
    field!("truk_fleet_exitlog", ExitLogHeader, reserved);
    field!("truk_fleet_exit", ExitRecord, stamp);
    field!("truk_fleet_exit", ExitRecord, start_time);
    field!("truk_fleet_exit", ExitRecord, pid);
    field!("truk_fleet_exit", ExitRecord, slot);
    field!("truk_fleet_exit", ExitRecord, reserved);
    check("chan", size_of::<ChanHeader>() as u64, 0);
    field!("truk_chan_header", ChanHeader, tail);
    field!("truk_chan_header", ChanHeader, head);
    field!("truk_chan_header", ChanHeader, send_lease);
    field!("truk_chan_header", ChanHeader, send_calm);
    field!("truk_chan_header", ChanHeader, recv_lease);
    field!("truk_chan_header", ChanHeader, recv_calm);
    field!("truk_chan_header", ChanHeader, sent);
    field!("truk_chan_header", ChanHeader, recvd);
    field!("truk_chan_header", ChanHeader, recv_sleepers);
    field!("truk_chan_header", ChanHeader, send_sleepers);
    field!("truk_chan_header", ChanHeader, closed);
    for (k, v) in [
        ("TRUK_CHAN_HEADER_SIZE", CHAN_HEADER_SIZE as u64),
        ("TRUK_CHAN_CELL_PAYLOAD", CHAN_CELL_PAYLOAD),
        ("TRUK_CHAN_WRITING", CHAN_WRITING),
        ("TRUK_CHAN_FULL", CHAN_FULL),
        ("TRUK_CHAN_MOVER_MASK", CHAN_MOVER_MASK),
        ("TRUK_CHAN_MOVER_SLOT_BITS", CHAN_MOVER_SLOT_BITS as u64),
        ("TRUK_CHAN_LEASE_REVOKING", CHAN_LEASE_REVOKING as u64),
        ("TRUK_CHAN_LEASE_CLOSED", CHAN_LEASE_CLOSED as u64),
        ("truk_chan_stride(0)", chan_stride(0)),
        ("truk_chan_stride(1)", chan_stride(1)),
        ("truk_chan_stride(8)", chan_stride(8)),
        ("truk_chan_stride(60)", chan_stride(60)),
    ] {
        check(k, v, 0);
    }
    check("table", size_of::<TableHeader>() as u64, 0);
    field!("truk_table_header", TableHeader, epoch);
    field!("truk_table_header", TableHeader, len);
    field!("truk_table_header", TableHeader, stale);
    field!("truk_table_header", TableHeader, dels);
    field!("truk_table_header", TableHeader, locks);
    for (k, v) in [
        ("TRUK_TABLE_STRIPES", TABLE_STRIPES as u64),
        ("TRUK_TABLE_HEADER_SIZE", TABLE_HEADER_SIZE as u64),
        ("TRUK_TABLE_BUSY", TABLE_BUSY),
        ("TRUK_TABLE_FULL", TABLE_FULL),
        ("TRUK_TABLE_TOMB", TABLE_TOMB),
        ("TRUK_TABLE_EPOCH_MASK", TABLE_EPOCH_MASK),
        ("truk_table_stride(1, 1)", table_stride(1, 1)),
        ("truk_table_stride(8, 12)", table_stride(8, 12)),
        ("truk_table_stride(32, 60)", table_stride(32, 60)),
    ] {
        check(k, v, 0);
    }
    field!("truk_mutex_layout", MutexLayout, word);
    field!("truk_mutex_layout", MutexLayout, listed);
    field!("truk_mutex_layout", MutexLayout, owner);
    field!("truk_mutex_layout", MutexLayout, spare);
    field!("truk_mutex_layout", MutexLayout, prev);
    field!("truk_mutex_layout", MutexLayout, next);
    for (k, v) in [
        ("TRUK_FLEET_PROTOCOL", PROTOCOL as u64),
        ("TRUK_FLEET_HEADER_SIZE", HEADER_SIZE as u64),
        ("TRUK_FLEET_SLOT_SIZE", SLOT_SIZE as u64),
        ("TRUK_FLEET_SHARED_ALIGN", SHARED_ALIGN),
        ("TRUK_FLEET_FP_SIZE", FP_SIZE as u64),
        ("TRUK_FLEET_EXIT_STATUS", EXIT_STATUS as u64),
        ("TRUK_FLEET_NS_MAX", NS_MAX as u64),
        ("TRUK_FLEET_STATE_INIT", STATE_INIT as u64),
        ("TRUK_FLEET_STATE_READY", STATE_READY as u64),
        ("TRUK_SLOT_FREE", SLOT_FREE),
        ("TRUK_SLOT_CLAIMED", SLOT_CLAIMED),
        ("TRUK_SLOT_ACTIVE", SLOT_ACTIVE),
        ("TRUK_SLOT_STATUS_MASK", SLOT_STATUS_MASK),
        ("TRUK_SLOT_COUNT_ONE", SLOT_COUNT_ONE),
        ("TRUK_SLOT_COUNT_MASK", SLOT_COUNT_MASK),
        ("TRUK_SLOT_PID_SHIFT", SLOT_PID_SHIFT as u64),
        ("TRUK_MUTEX_WAITERS", MUTEX_WAITERS as u64),
        ("TRUK_MUTEX_OWNER_DIED", MUTEX_OWNER_DIED as u64),
        ("TRUK_MUTEX_TID_MASK", MUTEX_TID_MASK as u64),
        ("TRUK_MUTEX_BACKSTOP_MS", MUTEX_BACKSTOP_MS),
        ("TRUK_MUTEX_SIZE", size_of::<MutexLayout>() as u64),
        ("TRUK_FLEET_EXITLOG_HEADER_SIZE", EXITLOG_HEADER_SIZE as u64),
        ("TRUK_FLEET_EXIT_RECORD_SIZE", EXIT_RECORD_SIZE as u64),
        ("TRUK_FLEET_EXIT_STALL_MS", EXIT_STALL_MS),
        ("truk_fleet_exitlog_len(1)", exitlog_len(1)),
        ("truk_fleet_exitlog_len(1024)", exitlog_len(1024)),
        ("truk_fleet_exitlog_offset(1)", exitlog_offset(1)),
        ("truk_fleet_exitlog_offset(3)", exitlog_offset(3)),
        ("truk_fleet_exitlog_offset(1024)", exitlog_offset(1024)),
        ("truk_fleet_shared_offset(1)", shared_offset(1)),
        ("truk_fleet_shared_offset(3)", shared_offset(3)),
        ("truk_fleet_shared_offset(1024)", shared_offset(1024)),
        ("TRUK_FLEET_PROGRAM_SIZE", PROGRAM_SIZE),
        ("TRUK_FLEET_DESC_MAX", DESC_MAX),
        ("truk_fleet_program_offset(1, 0)", program_offset(1, 0).unwrap()),
        ("truk_fleet_program_offset(3, 100)", program_offset(3, 100).unwrap()),
        ("truk_fleet_program_offset(1024, 1 << 20)", program_offset(1024, 1 << 20).unwrap()),
        ("magic", 1),
    ] {
        check(k, v, 0);
    }
    assert!(
        text.contains(&format!("strings {DIR} {PREFIX} {NS_ENV} {NS_DEFAULT} 0")),
        "{text}"
    );
}

#[test]
fn names_parse_and_namespaces_are_checked() {
    let n = RegionName::new(1000, 4026531836, &[0xab; 32], "my.ns-1");
    let file = n.file_name();
    assert_eq!(
        file,
        format!("truk-1000-4026531836-{}-my.ns-1", "ab".repeat(16))
    );
    assert_eq!(RegionName::parse(&file), Some(n));
    for bad in [
        "truk-x",
        "truk-1-2-abc-default",
        &format!("truk-1-2-{}-.x", "a".repeat(32)),
    ] {
        assert_eq!(RegionName::parse(bad), None, "{bad}");
    }
    assert!(check_ns("default").is_ok());
    for bad in ["", ".x", "a/b", "a b", &"n".repeat(65)] {
        assert!(check_ns(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn header_check_reports_one_line_reasons() {
    let h = Header::new([1; 32], [2; 32], 4, 100, 30);
    assert_eq!(h.file_size, program_offset(4, 100).unwrap() + PROGRAM_SIZE + 30);
    assert_eq!(h.program_offset % SHARED_ALIGN, 0);
    assert!(h.check(h.file_size).is_ok());
    assert!(h
        .check(h.file_size + 1)
        .unwrap_err()
        .contains("header says"));
    let mut bad = h;
    bad.magic[0] = b'X';
    assert!(bad.check(h.file_size).unwrap_err().contains("bad magic"));
    let mut bad = h;
    bad.capacity = 0;
    assert!(bad.check(h.file_size).is_err());
    let b = Build {
        build_fp: [1; 32],
        layout_fp: [3; 32],
        capacity: 4,
        region_size: 100,
        desc: vec![0; 30],
    };
    assert!(h
        .check_for(h.file_size, &b)
        .unwrap_err()
        .contains("layout fingerprint"));
    assert!(Header::from_bytes(&[0u8; 10]).is_none());
}
