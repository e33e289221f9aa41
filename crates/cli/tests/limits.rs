//! `table-limits` and `writer-limits` against a served executive: the limits the executive
//! holds afterwards, and what `read` prints.

mod common;

use common::{assert_quiet_success, cli, cli_at, create_fam_tbl, executive, get};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_limits_update_read_and_delete() {
    let (_db, exec) = executive().await;
    create_fam_tbl(&exec).await;

    let update = [
        "table-limits",
        "update",
        "-f",
        "fam",
        "-t",
        "tbl",
        "--max-size",
        "1000",
        "--warn-size=500",
    ];
    assert_quiet_success(&cli_at(&exec, &update).await);
    assert_eq!(
        get(&exec, "/limits/tables").await["tables"],
        json!([{"family": "fam", "table": "tbl", "max-size": 1000, "warn-size": 500}])
    );
    let read = cli_at(&exec, &["table-limits", "read"]).await;
    assert_eq!(
        (read.code, read.stdout.as_str()),
        (
            0,
            "warn: 52428800 bytes\nmax : 104857600 bytes\n\n\
             FAMILY TABLE WARN MAX\n\
             ------ ----- ---- ---\n\
             fam    tbl   500  1000\n"
        ),
        "{read:?}"
    );

    let delete = [
        "table-limits",
        "delete",
        "--family",
        "fam",
        "--table",
        "tbl",
    ];
    assert_quiet_success(&cli_at(&exec, &delete).await);
    assert_eq!(get(&exec, "/limits/tables").await["tables"], json!(null));
    let read = cli_at(&exec, &["table-limits", "read"]).await;
    assert_eq!(read.stdout, "warn: 52428800 bytes\nmax : 104857600 bytes\n");

    let again = cli_at(&exec, &delete).await;
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .starts_with("could not delete table limit: server returned ["),
        "{again:?}"
    );
    let inverted = [
        "table-limits",
        "update",
        "-f",
        "fam",
        "-t",
        "tbl",
        "--max-size",
        "10",
        "--warn-size",
        "20",
    ];
    let run = cli_at(&exec, &inverted).await;
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "warnSize must be <= maxSize\n")
    );
    let missing = ["table-limits", "update", "-f", "fam", "-t", "nope"];
    let run = cli_at(&exec, &missing).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("could not update table limit: server returned ["),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_limits_update_read_and_delete() {
    let (_db, exec) = executive().await;
    let registered = exec
        .request(reqwest::Method::POST, "/writers/writer1")
        .body("secret1")
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status().as_u16(), 200);

    let update = [
        "writer-limits",
        "update",
        "--writer",
        "writer1",
        "--rows-per-minute",
        "120",
    ];
    assert_quiet_success(&cli_at(&exec, &update).await);
    let limits = get(&exec, "/limits/writers").await;
    assert_eq!(limits["writers"][0]["writer"], json!("writer1"));
    assert_eq!(limits["writers"][0]["rate-limit"]["amount"], json!(120));

    let read = cli_at(&exec, &["writer-limits", "read"]).await;
    assert_eq!(
        (read.code, read.stdout.as_str()),
        (
            0,
            "default: 1000/1m0s\n\nWRITER  LIMIT\n------  -----\nwriter1 120/1m0s\n"
        ),
        "{read:?}"
    );

    // The writer can also come from the environment.
    let env = [
        ("CTLSTORE_CLI_EXECUTIVE", exec.base.as_str()),
        ("CTLSTORE_CLI_WRITER", "writer1"),
    ];
    assert_quiet_success(&cli(&["writer-limits", "delete"], &env).await);
    assert_eq!(get(&exec, "/limits/writers").await["writers"], json!(null));
    let read = cli_at(&exec, &["writer-limits", "read"]).await;
    assert_eq!(read.stdout, "default: 1000/1m0s\n");

    let again = cli_at(&exec, &["writer-limits", "delete", "--writer", "writer1"]).await;
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .starts_with("could not delete writer limit: server returned ["),
        "{again:?}"
    );
    let unknown = [
        "writer-limits",
        "update",
        "--writer",
        "nobody",
        "--rows-per-minute",
        "5",
    ];
    let run = cli_at(&exec, &unknown).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("could not update writer limit: server returned ["),
        "{run:?}"
    );
}
