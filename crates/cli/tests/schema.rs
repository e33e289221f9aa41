//! `create-family`, `create-table` and `add-fields` against a served executive: the schema the
//! executive holds afterwards, and ctlstore-cli's messages.

mod common;

use common::{assert_quiet_success, cli, cli_at, create_fam_tbl, executive, get};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_family_creates_it_once() {
    let (_db, exec) = executive().await;
    assert_quiet_success(&cli_at(&exec, &["create-family", "fam"]).await);
    // The family exists: a table can be made in it.
    let table = json!({"fields": [["id", "integer"]], "keyFields": ["id"]});
    let (status, body) = exec
        .call(
            reqwest::Method::POST,
            "/families/fam/tables/tbl",
            Some(table),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{body}");

    // ctlstore-cli says so on stdout and succeeds.
    let again = cli_at(&exec, &["create-family", "fam"]).await;
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "Family already exists\n")
    );

    let bad = cli_at(&exec, &["create-family", "a"]).await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .starts_with("could not create family 'a': server returned ["),
        "{bad:?}"
    );
    let none = cli_at(&exec, &["create-family"]).await;
    assert_eq!((none.code, none.stderr.as_str()), (1, "Family required\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_table_creates_the_schema_given() {
    let (_db, exec) = executive().await;
    assert_quiet_success(&cli_at(&exec, &["create-family", "fam"]).await);
    let args = [
        "create-table",
        "--family",
        "fam",
        "--field",
        "id:integer",
        "--field",
        "name:string",
        "--field",
        "tag:bytestring",
        "--key-field",
        "id",
        "--key-field",
        "name",
        "things",
    ];
    assert_quiet_success(&cli_at(&exec, &args).await);
    assert_eq!(
        get(&exec, "/schema/table/fam/things").await,
        json!({"family": "fam", "name": "things",
               "fields": [["id", "integer"], ["name", "string"], ["tag", "bytestring"]],
               "keyFields": ["id", "name"]})
    );

    let again = cli_at(&exec, &args).await;
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "Table already exists\n")
    );

    let bad_type = cli_at(
        &exec,
        &[
            "create-table",
            "-f",
            "fam",
            "--field",
            "id:nope",
            "--key-field",
            "id",
            "other",
        ],
    )
    .await;
    assert_eq!(bad_type.code, 1);
    assert!(
        bad_type
            .stderr
            .starts_with("could not create table 'other': server returned [400]: "),
        "{bad_type:?}"
    );
    let bad_field = cli_at(&exec, &["create-table", "-f", "fam", "--field", "id", "x"]).await;
    assert_eq!(
        (bad_field.code, bad_field.stderr.as_str()),
        (1, "invalid field: id\n")
    );
    let no_table = cli_at(
        &exec,
        &["create-table", "-f", "fam", "--field", "id:integer"],
    )
    .await;
    assert_eq!(
        (no_table.code, no_table.stderr.as_str()),
        (1, "Table required\n")
    );
    let no_family = cli_at(&exec, &["create-table", "--field", "id:integer", "tbl"]).await;
    assert_eq!(no_family.code, 1, "{no_family:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_fields_adds_columns_once() {
    let (_db, exec) = executive().await;
    create_fam_tbl(&exec).await;
    let add = [
        "add-fields",
        "-f",
        "fam",
        "-t",
        "tbl",
        "--field",
        "note:text",
        "--field",
        "n:decimal",
    ];
    assert_quiet_success(&cli_at(&exec, &add).await);
    assert_eq!(
        get(&exec, "/schema/table/fam/tbl").await["fields"],
        json!([["id", "integer"], ["note", "text"], ["n", "decimal"]])
    );

    let again = cli_at(&exec, &add).await;
    assert_eq!(
        (again.code, again.stderr.as_str()),
        (1, "One or more columns already exist\n")
    );
    let missing = cli_at(
        &exec,
        &[
            "add-fields",
            "-f",
            "nofam",
            "-t",
            "tbl",
            "--field",
            "x:text",
        ],
    )
    .await;
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with("could not add fields: server returned [404]: "),
        "{missing:?}"
    );
}

/// Long flags come from `CTLSTORE_CLI_<FLAG>`; the executive address gets `http://`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_come_from_the_environment() {
    let (_db, exec) = executive().await;
    let host = exec.base.trim_start_matches("http://").to_string();
    let env = [
        ("CTLSTORE_CLI_EXECUTIVE", host.as_str()),
        ("CTLSTORE_CLI_FAMILY", "envfam"),
    ];
    assert_quiet_success(&cli(&["create-family", "envfam"], &env).await);
    let run = cli(
        &[
            "create-table",
            "--field",
            "k:string",
            "--key-field",
            "k",
            "tbl",
        ],
        &env,
    )
    .await;
    assert_quiet_success(&run);
    assert_eq!(
        get(&exec, "/schema/table/envfam/tbl").await["keyFields"],
        json!(["k"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_executive_is_reported() {
    let port = ctlstore_testkit::free_port();
    let run = cli(
        &["create-family", "fam", "-e", &format!("127.0.0.1:{port}")],
        &[],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with("could not make request: "),
        "{run:?}"
    );
}
