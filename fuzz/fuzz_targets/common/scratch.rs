//! A per-process scratch file for targets whose reader takes a path: each input is written to
//! it, then read back. On Linux it lives in /dev/shm (memory), elsewhere in the temp folder.

use std::path::PathBuf;

/// The scratch path for `name` (one per target and process, so parallel fuzz jobs don't clash).
pub fn path(name: &str) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("fundalloc-fuzz-{}-{name}", std::process::id()))
}

/// Writes `data` to the scratch path for `name` and returns the path.
pub fn write(name: &str, data: &[u8]) -> PathBuf {
    let p = path(name);
    std::fs::write(&p, data).expect("scratch file");
    p
}
