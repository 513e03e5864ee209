//! Where the examples find the shared data sets.

use std::path::PathBuf;

/// The shared data folder: `$FUNDALLOC_DATA` if set, else `../shared/data` next to the repository.
pub fn shared_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FUNDALLOC_DATA") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

/// A file of the shared data folder, or `None` (with a message on stderr) when it is absent.
pub fn shared_data_file(relative: &str) -> Option<PathBuf> {
    let path = shared_data_dir().join(relative);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "shared data file {} not found (set FUNDALLOC_DATA to the folder that holds it)",
            path.display()
        );
        None
    }
}
