//! One writer per LDB: `Ldb::open` holds `<ldb>.lock` and a second open is refused at once.

use ctlstore_ldb::{Ldb, LdbError, LdbOptions, lock_path};
use rusqlite::{Connection, OpenFlags};

#[test]
fn a_second_writer_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let first = Ldb::open(&path, LdbOptions::default()).expect("open");
    assert!(
        lock_path(&path).exists(),
        "the lock file sits beside the LDB"
    );

    let second = Ldb::open(&path, LdbOptions::default());
    let Err(err) = second else {
        panic!("a second writer on the same LDB was allowed");
    };
    match &err {
        LdbError::Locked { ldb, lock, holder } => {
            assert_eq!(ldb, &path);
            assert_eq!(lock, &lock_path(&path));
            assert_eq!(*holder, Some(std::process::id()));
        }
        other => panic!("expected LdbError::Locked, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&path.display().to_string())
            && message.contains("another process")
            && message.contains(".lock"),
        "the message names the LDB, the lock file and says who holds it: {message}"
    );
    assert!(!err.is_poison(), "not a ledger problem");

    drop(first);
    let again = Ldb::open(&path, LdbOptions::default()).expect("open after the first is dropped");
    drop(again);
}

#[test]
fn readers_and_plain_connections_do_not_need_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    let ldb = Ldb::open(&path, LdbOptions::default()).expect("open");
    // A snapshot capture's second connection and a reader's read-only one.
    let plain = Connection::open(&path).expect("plain connection");
    plain
        .execute_batch("VACUUM INTO ':memory:'")
        .expect("a second connection can still read");
    let read_only = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("read-only connection");
    assert_eq!(
        ctlstore_ldb_layout::read_seq(&read_only).expect("seq"),
        ldb.seq()
    );
}

#[test]
fn a_lock_file_left_by_a_dead_process_does_not_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ldb.db");
    // The file exists but nobody holds a lock on it (its owner exited).
    std::fs::write(lock_path(&path), "999999\n").expect("stale lock file");
    let ldb = Ldb::open(&path, LdbOptions::default()).expect("a stale lock file is no lock");
    let pid = std::fs::read_to_string(lock_path(&path)).expect("read");
    assert_eq!(pid.trim(), std::process::id().to_string());
    drop(ldb);
}
