//! Small durable-file steps shared by everything the broker keeps on disk.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Makes a rename or a new entry in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `contents` so that a crash leaves either the old file or the new
/// one, never a half-written one: write a temporary file, fsync it, rename it over `path`,
/// fsync the directory.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = dir.join(name);
    {
        let mut out = File::create(&tmp)?;
        out.write_all(contents)?;
        out.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// Milliseconds since the Unix epoch: Kafka's timestamps, and names of files kept aside.
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
