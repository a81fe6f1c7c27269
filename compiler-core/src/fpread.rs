//! Reads the fingerprint note back from a binary (`truk fp`): ELF executables, shared objects
//! and relocatable objects of any architecture and byte order (sections `.note.truk`, or the
//! PT_NOTE segments when section headers are gone), and Mach-O files (`__TEXT,__truk_fp`).
//!
//! Only the headers and notes are read, through bounded reads: a huge (or sparse) file costs
//! no more than a small one, and a file that is not a regular file (a FIFO, a device, a
//! folder) is refused before anything is read from it; opening never blocks.
//!
//! Every failure is one line starting with the file name:
//! - `FILE: cannot read: <io error>`
//! - `FILE: not a regular file but a FIFO` (a folder, a device, ...)
//! - `FILE: not an executable or object file`
//! - `FILE: not a Truk binary (no Truk fingerprint note)`
//! - `FILE: damaged Truk note: <reason>`

use crate::fingerprint::{
    NoteInfo, NOTE_NAME, NOTE_SECTION_ELF, NOTE_SECTION_MACHO, NOTE_SEGMENT_MACHO, NOTE_TYPE,
};
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::{elf, FileKind, Object, ObjectSection, ReadCache, ReadRef};
use std::cell::Cell;
use std::fs::File;
use std::path::Path;

/// Why no note came out of a file (the file name is added by [`read_note`]).
enum Failure {
    NotObject,
    NoNote,
    Damaged(String),
}

/// At most this many bytes are read from one file: headers, section and segment tables and
/// notes take a few kilobytes in real binaries; a damaged header that names gigabytes fails
/// to read instead of filling memory.
const READ_BUDGET: u64 = 16 << 20;

/// The file as `object` reads it: reads on demand (cached), within [`READ_BUDGET`].
struct Bounded {
    cache: ReadCache<File>,
    used: Cell<u64>,
}

impl Bounded {
    fn charge(&self, size: u64) -> Result<(), ()> {
        let used = self.used.get().saturating_add(size);
        if used > READ_BUDGET {
            return Err(());
        }
        self.used.set(used);
        Ok(())
    }
}

impl<'a> ReadRef<'a> for &'a Bounded {
    fn len(self) -> Result<u64, ()> {
        (&self.cache).len()
    }
    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'a [u8], ()> {
        self.charge(size)?;
        (&self.cache).read_bytes_at(offset, size)
    }
    fn read_bytes_at_until(self, range: std::ops::Range<u64>, delimiter: u8) -> Result<&'a [u8], ()> {
        self.charge(range.end.saturating_sub(range.start).min(4096))?;
        (&self.cache).read_bytes_at_until(range, delimiter)
    }
}

/// Opens `path` for reading without blocking (a FIFO with no writer would block `open`) and
/// without making a terminal the controlling one; only a regular file is accepted.
fn open_regular(path: &Path) -> Result<File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = path.display();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("{file}: cannot read: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("{file}: cannot read: {e}"))?;
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(f);
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a socket or other special file"
    };
    Err(format!("{file}: not a regular file but {what}"))
}

/// Reads and decodes the Truk fingerprint note of the binary at `path`.
pub fn read_note(path: &Path) -> Result<NoteInfo, String> {
    let file = path.display();
    let data = Bounded { cache: ReadCache::new(open_regular(path)?), used: Cell::new(0) };
    read_note_from(&data).map_err(|f| match f {
        Failure::NotObject => format!("{file}: not an executable or object file"),
        Failure::NoNote => format!("{file}: not a Truk binary (no Truk fingerprint note)"),
        Failure::Damaged(why) => format!("{file}: damaged Truk note: {why}"),
    })
}

fn read_note_from<'a, R: ReadRef<'a>>(data: R) -> Result<NoteInfo, Failure> {
    match FileKind::parse(data) {
        Ok(FileKind::Elf32) => elf_note::<elf::FileHeader32<object::Endianness>, R>(data),
        Ok(FileKind::Elf64) => elf_note::<elf::FileHeader64<object::Endianness>, R>(data),
        Ok(FileKind::MachO32) | Ok(FileKind::MachO64) => macho_note(data),
        Ok(FileKind::MachOFat32) | Ok(FileKind::MachOFat64) => Err(Failure::Damaged(
            "universal (fat) Mach-O files are not supported: extract one architecture with `lipo -thin`".into(),
        )),
        // Other formats truk does not produce (PE, wasm, archives, ...): no Truk note there.
        Ok(_) => match object::File::parse(data) {
            Ok(_) => Err(Failure::NoNote),
            Err(_) => Err(Failure::NotObject),
        },
        Err(_) => Err(Failure::NotObject),
    }
}

/// Picks the one Truk note among `found` (identical duplicates allowed: e.g. the same note
/// seen once per PT_NOTE covering it).
fn pick(found: Vec<&[u8]>) -> Result<NoteInfo, Failure> {
    let Some(first) = found.first() else {
        return Err(Failure::NoNote);
    };
    if found.iter().any(|d| d != first) {
        return Err(Failure::Damaged(format!(
            "{} different Truk notes (more than one Truk build linked into one binary?)",
            found.len()
        )));
    }
    NoteInfo::decode(first).map_err(Failure::Damaged)
}

fn is_truk(name: &[u8], n_type: u32) -> bool {
    name == NOTE_NAME.as_bytes() && n_type == NOTE_TYPE
}

fn elf_note<'a, H: FileHeader<Endian = object::Endianness>, R: ReadRef<'a>>(data: R) -> Result<NoteInfo, Failure> {
    let header = H::parse(data).map_err(|_| Failure::NotObject)?;
    let endian = header.endian().map_err(|_| Failure::NotObject)?;

    // 1. Sections (objects, and executables that still have section headers).
    let mut found: Vec<&'a [u8]> = Vec::new();
    let mut truk_section_problem: Option<String> = None;
    if let Ok(sections) = header.sections(endian, data) {
        for section in sections.iter() {
            let is_truk_section = sections
                .section_name(endian, section)
                .map(|n| n == NOTE_SECTION_ELF.as_bytes())
                .unwrap_or(false);
            let mut notes = match section.notes(endian, data) {
                Ok(Some(notes)) => notes,
                Ok(None) => {
                    if is_truk_section {
                        truk_section_problem = Some(format!(
                            "section {NOTE_SECTION_ELF} is not of type SHT_NOTE"
                        ));
                    }
                    continue;
                }
                Err(e) => {
                    if is_truk_section {
                        truk_section_problem = Some(format!("section {NOTE_SECTION_ELF}: {e}"));
                    }
                    continue;
                }
            };
            let mut had_truk = false;
            loop {
                match notes.next() {
                    Ok(Some(note)) => {
                        if is_truk(note.name(), note.n_type(endian).0) {
                            found.push(note.desc());
                            had_truk = true;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        if is_truk_section {
                            truk_section_problem = Some(format!("section {NOTE_SECTION_ELF}: {e}"));
                        }
                        break;
                    }
                }
            }
            if is_truk_section && !had_truk && truk_section_problem.is_none() {
                truk_section_problem =
                    Some(format!("section {NOTE_SECTION_ELF} holds no Truk note"));
            }
        }
    }
    if !found.is_empty() {
        return pick(found);
    }

    // 2. PT_NOTE segments (executables whose section headers were stripped or damaged).
    if let Ok(segments) = header.program_headers(endian, data) {
        for segment in segments {
            let Ok(Some(mut notes)) = segment.notes(endian, data) else {
                continue;
            };
            while let Ok(Some(note)) = notes.next() {
                if is_truk(note.name(), note.n_type(endian).0) {
                    found.push(note.desc());
                }
            }
        }
    }
    if !found.is_empty() {
        return pick(found);
    }
    match truk_section_problem {
        Some(why) => Err(Failure::Damaged(why)),
        None => Err(Failure::NoNote),
    }
}

/// Parses one ELF-style note record (as placed in the Mach-O section, little-endian) and
/// returns its descriptor. Trailing bytes (section alignment padding) are ignored.
fn parse_record(rec: &[u8]) -> Result<&[u8], String> {
    let word = |at: usize| -> Result<u32, String> {
        rec.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .ok_or_else(|| {
                format!(
                    "note record is {} bytes, too short for its header",
                    rec.len()
                )
            })
    };
    let (namesz, descsz, n_type) = (word(0)? as usize, word(4)? as usize, word(8)?);
    let want = NOTE_NAME.len() + 1;
    if namesz != want {
        return Err(format!("note name size is {namesz}, expected {want}"));
    }
    let name = rec
        .get(12..12 + namesz)
        .ok_or("note record ends inside the owner name")?;
    if &name[..namesz - 1] != NOTE_NAME.as_bytes() || name[namesz - 1] != 0 {
        return Err(format!(
            "note owner is {:?}, expected {NOTE_NAME:?}",
            String::from_utf8_lossy(name)
        ));
    }
    if n_type != NOTE_TYPE {
        return Err(format!("note type is {n_type:#x}, expected {NOTE_TYPE:#x}"));
    }
    let start = 12 + namesz.next_multiple_of(4);
    start
        .checked_add(descsz)
        .and_then(|end| rec.get(start..end))
        .ok_or_else(|| format!("descriptor ({descsz} bytes) runs past the end of the section"))
}

fn macho_note<'a, R: ReadRef<'a>>(data: R) -> Result<NoteInfo, Failure> {
    let file = object::File::parse(data).map_err(|_| Failure::NotObject)?;
    for section in file.sections() {
        let seg_ok = section
            .segment_name()
            .ok()
            .flatten()
            .is_none_or(|s| s == NOTE_SEGMENT_MACHO);
        if section.name_bytes().ok() != Some(NOTE_SECTION_MACHO.as_bytes()) || !seg_ok {
            continue;
        }
        let bytes = section.data().map_err(|e| {
            Failure::Damaged(format!(
                "section {NOTE_SEGMENT_MACHO},{NOTE_SECTION_MACHO}: {e}"
            ))
        })?;
        let desc = parse_record(bytes).map_err(Failure::Damaged)?;
        return NoteInfo::decode(desc).map_err(Failure::Damaged);
    }
    Err(Failure::NoNote)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("truk-fpread-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn assert_one_line(e: &str) {
        assert!(!e.is_empty() && !e.contains('\n'), "not one line: {e:?}");
    }

    #[test]
    fn errors_are_clear_lines() {
        let dir = tmpdir("errors");
        let missing = dir.join("missing");
        let e = read_note(&missing).unwrap_err();
        assert!(
            e.starts_with(&format!("{}: cannot read: ", missing.display())),
            "{e}"
        );
        assert_one_line(&e);

        let text = dir.join("text");
        std::fs::write(&text, "hello\n").unwrap();
        let e = read_note(&text).unwrap_err();
        assert_eq!(
            e,
            format!("{}: not an executable or object file", text.display())
        );

        let empty = dir.join("empty");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(
            read_note(&empty).unwrap_err(),
            format!("{}: not an executable or object file", empty.display())
        );

        let e = read_note(&dir).unwrap_err();
        assert_eq!(e, format!("{}: not a regular file but a folder", dir.display()));
        assert_one_line(&e);

        // A real non-Truk executable.
        let ls = Path::new("/bin/ls");
        if ls.exists() {
            assert_eq!(
                read_note(ls).unwrap_err(),
                "/bin/ls: not a Truk binary (no Truk fingerprint note)"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn macho_record_damage() {
        let info = NoteInfo {
            build_fp: [1; 32],
            layout_fp: [2; 32],
            target: "aarch64-apple-darwin".into(),
            profile: "debug".into(),
            compiler_version: "0.1.0".into(),
            region_size: 1,
            fleet_capacity: 2,
        };
        let rec = crate::fingerprint::note_record(&info, "aarch64-apple-darwin");
        assert_eq!(NoteInfo::decode(parse_record(&rec).unwrap()).unwrap(), info);
        for len in 0..rec.len() {
            let _ = parse_record(&rec[..len]).map(NoteInfo::decode);
        }
        let mut bad = rec.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_record(&bad).is_err());
    }
}
