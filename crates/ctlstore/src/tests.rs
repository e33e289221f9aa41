//! Command lines: ctlstore's own, parsed as ctlstore parses them.

use std::time::Duration;

use clap::CommandFactory;

use super::{Cli, Command, parse};

fn line(text: &str) -> Result<Cli, clap::Error> {
    parse(text.split(' ').map(String::from))
}

#[test]
fn the_command_line_is_well_formed() {
    crate::goflags::with_env_vars(Cli::command()).debug_assert();
}

#[test]
fn ctlstore_command_lines_parse() {
    line("ctlstore executive -bind 0.0.0.0:3000 -ctldb ctldb:ctldbpw@tcp(mysql:3306)/ctldb?collation=utf8mb4_unicode_ci -enable-destructive-schema-changes -writer-limit-period 1m -dogstatsd.address statsd:8125")
        .expect("executive");
    line("ctlstore reflector -ldb-path /var/spool/ctlstore/ldb.db -upstream-driver mysql -upstream-dsn ctldb:ctldbpw@tcp(mysql:3306)/ctldb -changelog-path /var/spool/ctlstore/changelog -bootstrap-url s3://b/k.db.gz -ledger-latency.disable -metrics-bind 0.0.0.0:9090 -poll-interval 1s -wal-checkpoint-type TRUNCATE")
        .expect("reflector");
    assert!(line("ctlstore reflector -no-such-flag x").is_err());
    let multi = line("ctlstore multi-reflector -multi-reflector.ldb-paths [/a/ldb.db,/a/ldb-2.db] -upstream-driver sqlite3 -upstream-dsn /c.db")
        .expect("multi-reflector");
    let Command::MultiReflector(m) = multi.command else {
        panic!("not multi-reflector")
    };
    assert_eq!(m.ldb_paths, ["/a/ldb.db", "/a/ldb-2.db"]);
    let configs = m.configs().expect("configs");
    assert_eq!(configs[1].ldb_path, std::path::Path::new("/a/ldb-2.db"));
    let with_changelog = line("ctlstore multi-reflector -multi-reflector.ldb-paths [/a/ldb.db,/a/ldb-2.db] -upstream-driver sqlite3 -upstream-dsn /c.db -changelog-path /a/changelog")
        .expect("multi-reflector");
    let Command::MultiReflector(m) = with_changelog.command else {
        panic!("not multi-reflector")
    };
    let configs = m.configs().expect("configs");
    assert!(
        configs[0].ldb.changelog.is_some(),
        "the first copy writes the changelog"
    );
    assert!(configs[1].ldb.changelog.is_none(), "only the first");
}

#[test]
fn supervisor_nests_every_reflector_flag() {
    let supervisor = line("ctlstore supervisor -snapshot-url [file:///tmp/ctlstore-flag-test/a.db,s3://b/k.db.gz] -reflector.ldb-path /x.db -reflector.upstream-driver mysql -reflector.upstream-dsn u@tcp(h:3306)/d -reflector.changelog-path /c -reflector.changelog-size 2048 -reflector.ledger-latency.disable -reflector.ledger-latency.max-healty-latency 2m -ledger-latency-health.disable-ecs-behavior -reflector.wal-checkpoint-type TRUNCATE -reflector.wal-checkpoint-threshold-size 1000 -reflector.gap-timeout 3s -reflector.debug=TRUE -dogstatsd.address x:1 -shadow")
        .expect("supervisor with every kind of ctlstore flag");
    let Command::Supervisor(s) = supervisor.command else {
        panic!("not supervisor")
    };
    assert_eq!(
        s.snapshot_url,
        ["file:///tmp/ctlstore-flag-test/a.db", "s3://b/k.db.gz"]
    );
    assert!(s.debug(), "-reflector.debug=TRUE is Go's true");
    assert!(!s.common.debug);
    let config = s.config().expect("config");
    let r = &config.reflector;
    assert_eq!(r.ldb_path, std::path::Path::new("/x.db"));
    assert_eq!(r.gap_timeout, Duration::from_secs(3));
    assert_eq!(r.max_healthy_latency, Duration::from_secs(120));
    assert_eq!(r.ldb.wal_checkpoint_threshold, 1000);
    assert_eq!(r.ldb.changelog.as_ref().map(|c| c.1), Some(2048));
    assert_eq!(
        s.ledger_latency_health.inner.ecs.given,
        ["disable-ecs-behavior"]
    );
    assert_eq!(
        s.reflector.inner.ledger_latency.inner.ecs.given,
        ["disable"]
    );
    // The plain names are aliases.
    let plain = line("ctlstore supervisor -snapshot-url file:///tmp/ctlstore-flag-test/b.db -ldb-path /y.db -upstream-dsn /c.db -upstream-driver sqlite3")
        .expect("plain forms");
    let Command::Supervisor(s) = plain.command else {
        panic!("not supervisor")
    };
    assert_eq!(
        s.config().expect("config").reflector.ldb_path,
        std::path::Path::new("/y.db")
    );
}

#[test]
fn go_booleans_in_every_form() {
    for (form, want) in [
        ("-debug", true),
        ("-debug=TRUE", true),
        ("-debug=t", true),
        ("-debug=1", true),
        ("-debug=False", false),
        ("-debug=0", false),
    ] {
        let cli = line(&format!("ctlstore sidecar {form}")).expect(form);
        let Command::Sidecar(s) = cli.command else {
            panic!("not sidecar")
        };
        assert_eq!(s.common.debug, want, "{form}");
    }
    assert!(line("ctlstore sidecar -debug=yes").is_err());
}

#[test]
fn bad_values_are_refused_naming_the_flag() {
    let refused = |text: &str, flag: &str| {
        let cli = line(text).expect(text);
        let e = match cli.command {
            Command::Executive(a) => a.config().map(|_| ()).expect_err(text),
            Command::Reflector(a) => a.config().map(|_| ()).expect_err(text),
            Command::Heartbeat(a) => a.config().map(|_| ()).expect_err(text),
            Command::Supervisor(a) => a.config().map(|_| ()).expect_err(text),
            _ => panic!("unexpected command"),
        };
        assert_eq!(e.flag, flag, "{text}: {e}");
    };
    refused(
        "ctlstore executive -ledger-poll-interval 0s",
        "ledger-poll-interval",
    );
    refused("ctlstore executive -handler-timeout 0s", "handler-timeout");
    refused("ctlstore executive -ctldb redis://x", "ctldb");
    refused("ctlstore executive -ctldb u:@tcp(h:1)/d?nosuch=1", "ctldb");
    refused(
        "ctlstore heartbeat -writer-secret s -heartbeat-interval 0s",
        "heartbeat-interval",
    );
    refused("ctlstore heartbeat -heartbeat-interval 1s", "writer-secret");
    refused(
        "ctlstore reflector -ldb-path /x -executive-url http://e -gap-timeout 0s",
        "gap-timeout",
    );
    refused(
        "ctlstore reflector -ldb-path /x -upstream-dsn /c.db -upstream-driver sqlite3 -poll-interval 0s",
        "poll-interval",
    );
    refused(
        "ctlstore reflector -ldb-path /x -executive-url ftp://e",
        "executive-url",
    );
    refused(
        "ctlstore supervisor -snapshot-url file:///tmp/ctlstore-flag-test/c.db -reflector.ldb-path /x -reflector.executive-url http://e -reflector.gap-timeout 0s",
        "reflector.gap-timeout",
    );
    refused(
        "ctlstore supervisor -snapshot-url file:///tmp/ctlstore-flag-test/c.db -reflector.ldb-path /x -reflector.executive-url http://e -snapshot-interval 0s",
        "snapshot-interval",
    );
    assert!(line("ctlstore executive -writer-limit-period soon").is_err());
}

#[test]
fn defaults_come_from_the_libraries() {
    let Command::Executive(e) = line("ctlstore executive").expect("executive").command else {
        panic!("not executive")
    };
    let config = e.config().expect("config");
    let library = ctlstore_executive::Config::default();
    assert_eq!(config.max_table_size, library.max_table_size);
    assert_eq!(config.handler_timeout, library.handler_timeout);
    let Command::Reflector(r) = line("ctlstore reflector -ldb-path /x -executive-url e:3000")
        .expect("reflector")
        .command
    else {
        panic!("not reflector")
    };
    let config = r.config().expect("config");
    assert_eq!(
        config.ldb.wal_checkpoint_threshold,
        ctlstore_ldb::LdbOptions::default().wal_checkpoint_threshold
    );
    assert_eq!(config.gap_timeout, ctlstore_reflector::DEFAULT_GAP_TIMEOUT);
}

#[test]
fn cors_origins_repeat_or_come_comma_separated() {
    let origins = |text: &str| {
        let Command::Executive(e) = line(text).expect(text).command else {
            panic!("not executive")
        };
        e.config().map(|c| c.cors_origins)
    };
    assert_eq!(
        origins(
            "ctlstore executive --cors-origin https://a.example --cors-origin http://b.example:8080"
        )
        .expect("two origins"),
        vec!["https://a.example", "http://b.example:8080"]
    );
    // The variable's form (CTLSTORE_CORS_ORIGIN=a,b) is the same list.
    assert_eq!(
        origins("ctlstore executive --cors-origin https://a.example,https://c.example")
            .expect("a list"),
        vec!["https://a.example", "https://c.example"]
    );
    assert!(origins("ctlstore executive").expect("none").is_empty());
    let e = origins("ctlstore executive --cors-origin a.example/x").expect_err("no scheme");
    assert_eq!(e.flag, "cors-origin", "{e}");
}
