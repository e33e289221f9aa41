//! Who may read the LDB file: created with mode 0640 (owner writes, group reads, others
//! nothing) and, with `--ldb-group`, owned by that group, so only applications in it can read
//! the host's control data. SQLite gives the WAL and SHM files the database file's mode (and,
//! when it can, its owner), so they follow.

use std::path::Path;

/// The mode a new LDB (and so its WAL and SHM) gets.
pub const LDB_FILE_MODE: u32 = 0o640;

/// Creates an empty LDB file at `path` with [`LDB_FILE_MODE`] and `group` (a gid), unless it
/// exists (an existing file keeps what its operator gave it).
pub fn create_ldb_file(path: &Path, group: Option<u32>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(LDB_FILE_MODE)
            .open(path)
        {
            Ok(_) => secure_ldb_file(path, group),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, group);
        Ok(())
    }
}

/// Gives `path` (a restored snapshot about to become the LDB) [`LDB_FILE_MODE`] and `group`.
pub fn secure_ldb_file(path: &Path, group: Option<u32>) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(LDB_FILE_MODE))?;
        if let Some(gid) = group {
            std::os::unix::fs::chown(path, None, Some(gid))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, group);
    Ok(())
}

/// A group's id from its name or number (`--ldb-group`), looked up in /etc/group.
pub fn resolve_group(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group").map_err(|e| format!("/etc/group: {e}"))?;
    groups
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let group = fields.next()?;
            let gid = fields.nth(1)?.parse::<u32>().ok()?;
            (group == name).then_some(gid)
        })
        .next()
        .ok_or_else(|| format!("no group named '{name}' in /etc/group"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_resolve_by_name_and_number() {
        assert_eq!(resolve_group("0"), Ok(0));
        assert_eq!(resolve_group("root"), Ok(0));
        assert!(resolve_group("no-such-group-here").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_ldb_and_its_wal_are_not_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ldb.db");
        let ldb = crate::Ldb::open(&path, crate::LdbOptions::default()).expect("open");
        ldb.connection()
            .execute_batch(
                "CREATE TABLE fam___tbl (a INTEGER PRIMARY KEY); INSERT INTO fam___tbl VALUES (1);",
            )
            .expect("write");
        for file in [path.clone(), crate::wal_path(&path)] {
            let mode = std::fs::metadata(&file)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, LDB_FILE_MODE, "{}", file.display());
        }
        let mut shm = path.clone().into_os_string();
        shm.push("-shm");
        let mode = std::fs::metadata(&shm).expect("shm").permissions().mode() & 0o777;
        assert_eq!(mode, LDB_FILE_MODE);
    }

    /// `--ldb-group`: the new LDB and its WAL belong to the group. Changing a file's group to
    /// one the user is not in needs root, so elsewhere this checks the user's own group.
    #[cfg(unix)]
    #[test]
    fn a_new_ldb_gets_its_group() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("dir");
        let own_gid = std::fs::metadata(dir.path()).expect("dir").gid();
        let root = std::fs::metadata(dir.path()).expect("dir").uid() == 0;
        let gid = if root { 1 } else { own_gid };
        let path = dir.path().join("ldb.db");
        let options = crate::LdbOptions {
            group: Some(gid),
            ..Default::default()
        };
        let ldb = crate::Ldb::open(&path, options).expect("open");
        ldb.connection()
            .execute_batch("CREATE TABLE fam___tbl (a INTEGER PRIMARY KEY);")
            .expect("write");
        assert_eq!(std::fs::metadata(&path).expect("ldb").gid(), gid);
        if root {
            // SQLite gives the WAL the database file's owner when it runs as root.
            assert_eq!(
                std::fs::metadata(crate::wal_path(&path))
                    .expect("wal")
                    .gid(),
                gid
            );
        }
    }
}
