//! `read-keys` and `read-seq` on an LDB with ctlstore's layout.

mod common;

use common::cli;
use ctlstore_testkit::ldb_with;

const THINGS: &[&str] = &[
    r#"CREATE TABLE fam___things ("name" VARCHAR(191), "tag" BLOB(255), "n" INTEGER, "score" REAL, "note" TEXT, PRIMARY KEY("name","tag"));"#,
    r#"REPLACE INTO fam___things ("name","tag","n","score","note") VALUES('a',x'deadbeef',7,1234567.5,NULL)"#,
    r#"CREATE TABLE fam___ids ("id" INTEGER, "v" VARCHAR(191), PRIMARY KEY("id"));"#,
    r#"REPLACE INTO fam___ids ("id","v") VALUES(42,'forty-two')"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_keys_prints_the_row_sorted_by_column() {
    let (_dir, ldb) = ldb_with(THINGS);
    let run = cli(
        &[
            "read-keys",
            "-l",
            &ldb,
            "--family",
            "fam",
            "--table",
            "things",
            "a",
            "0xDEADbeef",
        ],
        &[],
    )
    .await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (
            0,
            "COLUMN VALUE\n------ -----\nn      7\nname   a\nnote   <nil>\n\
             score  1.2345675e+06\ntag    0xdeadbeef\n"
        ),
        "{run:?}"
    );
    let quiet = cli(
        &[
            "read-keys",
            "-q",
            "--ldb",
            &ldb,
            "-f",
            "fam",
            "-t",
            "ids",
            "42",
        ],
        &[],
    )
    .await;
    assert_eq!(
        (quiet.code, quiet.stdout.as_str()),
        (0, "id 42\nv  forty-two\n"),
        "{quiet:?}"
    );
    let env = [
        ("CTLSTORE_CLI_LDB", ldb.as_str()),
        ("CTLSTORE_CLI_QUIET", "true"),
    ];
    let from_env = cli(&["read-keys", "-f", "fam", "-t", "ids", "42"], &env).await;
    assert_eq!(from_env.stdout, "id 42\nv  forty-two\n", "{from_env:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_keys_reports_what_went_wrong() {
    let (_dir, ldb) = ldb_with(THINGS);
    let read = |keys: &'static [&'static str]| {
        let ldb = ldb.clone();
        async move {
            let mut args = vec!["read-keys", "-l", ldb.as_str(), "-f", "fam", "-t", "things"];
            args.extend(keys);
            cli(&args, &[]).await
        }
    };
    let missing = read(&["b", "0x00"]).await;
    assert_eq!((missing.code, missing.stderr.as_str()), (1, "Not found\n"));
    let odd = read(&["a", "0xabc"]).await;
    assert_eq!(
        (odd.code, odd.stderr.as_str()),
        (1, "could not parse 'abc' as hex\n")
    );
    let short = read(&["a"]).await;
    assert_eq!(short.code, 1);
    assert!(
        short.stderr.starts_with("Could not read row: "),
        "{short:?}"
    );
    let nowhere = cli(
        &[
            "read-keys",
            "-l",
            "/nonexistent/ldb.db",
            "-f",
            "f",
            "-t",
            "t",
            "k",
        ],
        &[],
    )
    .await;
    assert_eq!(nowhere.code, 1);
    assert!(
        nowhere.stderr.starts_with("ldb reader for path: "),
        "{nowhere:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_seq_prints_the_last_sequence() {
    let (_dir, ldb) = ldb_with(THINGS);
    let run = cli(&["read-seq", "-l", &ldb], &[]).await;
    assert_eq!((run.code, run.stdout.as_str()), (0, "4\n"), "{run:?}");
    let run = cli(&["read-seq"], &[("CTLSTORE_CLI_LDB", ldb.as_str())]).await;
    assert_eq!(run.stdout, "4\n", "{run:?}");
    let nowhere = cli(&["read-seq", "--ldb", "/nonexistent/ldb.db"], &[]).await;
    assert_eq!(nowhere.code, 1);
    assert!(
        nowhere.stderr.starts_with("Could not get reader: "),
        "{nowhere:?}"
    );
}
