//! Where the system's programs are and what identifies them, without running them: a
//! program's resolved path, size and modification time stand for its version in cache keys.

use std::path::{Path, PathBuf};

/// `program` as the OS would find it: a name with a `/` as given, else the first match on
/// `PATH`; symlinks resolved.
pub fn which(program: &str) -> Option<PathBuf> {
    let found = if program.contains('/') {
        Some(PathBuf::from(program)).filter(|p| p.is_file())
    } else {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).map(|d| d.join(program)).find(|p| is_executable(p))
    }?;
    Some(std::fs::canonicalize(&found).unwrap_or(found))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A file's identity for cache keys: path, size, modification time (ns) and inode; `None`
/// when it cannot be read.
pub fn file_identity(p: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some(format!("{}:{}:{}.{}:{}", p.display(), m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
}

/// `program`'s identity (see [`file_identity`]), or `missing:PROGRAM`.
pub fn program_identity(program: &str) -> String {
    which(program).and_then(|p| file_identity(&p)).unwrap_or_else(|| format!("missing:{program}"))
}
