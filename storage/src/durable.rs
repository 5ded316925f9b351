//! The node's rules for durable writes: small files are replaced atomically and fsynced, and a
//! durable write that fails stops the process.
//!
//! Why a failed fsync is fatal: after it fails, the kernel may already have dropped the dirty pages
//! it could not write and marked them clean, so a retry can report success for data that is gone
//! (PostgreSQL's "fsyncgate", 2018). A node that went on would acknowledge blocks, votes or
//! transactions that are not on disk. It stops instead, with exit status [`EXIT_DURABILITY`], and
//! restarts from what is durable.

use std::io::Write;
use std::path::Path;

/// Exit status of a node stopped by a failed durable write (`EX_IOERR` of sysexits.h).
pub const EXIT_DURABILITY: i32 = 74;

/// Stops the process after a durable write failed: logs what failed and exits with
/// [`EXIT_DURABILITY`]. Nothing after the failed write is acknowledged.
pub fn fatal(what: &str, error: &dyn std::fmt::Display) -> ! {
    tracing::error!(
        what,
        %error,
        "durable write failed; stopping the node (data it covered may be lost from the page cache, \
         so it cannot be retried). Restart it: it resumes from what is on disk"
    );
    eprintln!("platon: durable write failed ({what}: {error}); stopping");
    std::process::exit(EXIT_DURABILITY)
}

/// Replaces `file` with `bytes` so that a crash or power cut leaves the old or the new content, never
/// a part: written to a temporary beside it, fsynced, renamed over it, and the directory fsynced.
/// `mode` sets the permissions of a new file (e.g. 0o600 for secrets). Durable when it returns Ok.
pub fn write_file(file: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if let Some(mode) = mode {
        opts.mode(mode);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, file)?;
    std::fs::File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_replaces_atomically_and_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("sub").join("key");
        write_file(&f, b"one", Some(0o600)).expect("write");
        write_file(&f, b"two", Some(0o600)).expect("rewrite");
        assert_eq!(std::fs::read(&f).expect("read"), b"two");
        let mode = std::fs::metadata(&f).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!f.with_extension("tmp").exists());
    }
}
