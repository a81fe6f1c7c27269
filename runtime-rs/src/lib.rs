//! The Truk fleet region protocol in Rust (see runtime-c/truk_fleet.h, the single source
//! of the layout): the layout mirror, reading and garbage-collecting regions for
//! `truk fleet ls/gc`, joining a fleet as a member, and the Mutex and futex waits.

pub mod desc;
pub mod layout;
pub mod member;
pub mod region;
pub mod sync;

pub use layout::{Build, Header, RegionName, Slot};
pub use member::Member;
pub use region::{gc, list, owner, read_region, Entry, GcOutcome, MemberInfo, Owner, RegionInfo};
