//! The packaging (Dockerfile, docker-compose.yml, deploy/systemd/) checked against the code it
//! packages. Docker cannot run in CI, and systemd does not run tests, so every command line in
//! those files is run through the real `ctlstore` binary with `CTLSTORE_CHECK_ARGS=1`
//! (`src/check_args.rs`): parsed and turned into each service's configuration, nothing started.
//! The Dockerfile is read for what it builds, copies and runs, and compared with the workspace;
//! the units go through `systemd-analyze verify` and `security` where it is installed.
//!
//! The compose file's `command:` lists are read as JSON (the file's header asks for one-level
//! lists of double-quoted strings, which are both YAML and JSON), so no YAML parser is needed;
//! when python3 has PyYAML the whole file is also loaded as YAML and compared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The services docker-compose.yml runs, as ctlstore's docker-compose-example does.
const COMPOSE_SERVICES: &[&str] = &[
    "mysql",
    "executive",
    "reflector",
    "sidecar",
    "heartbeat",
    "supervisor",
];
/// The services with a systemd unit `deploy/systemd/ctlstore-<service>.service`.
const UNITS: &[&str] = &[
    "executive",
    "reflector",
    "sidecar",
    "supervisor",
    "heartbeat",
];
/// The image every ctlstore service in the compose file runs.
const IMAGE: &str = "ctlstore:local";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Runs `ctlstore ARGS` in check mode with exactly `env` as its `CTLSTORE_*` variables.
fn check(args: &[String], env: &[(String, String)]) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ctlstore"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CTLSTORE_")) {
        cmd.env_remove(k);
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("CTLSTORE_CHECK_ARGS", "1")
        .env("RUST_BACKTRACE", "0");
    let out = cmd.output().expect("run ctlstore");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.trim() == "ok" {
        Ok(())
    } else {
        Err(format!(
            "{}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// One service of the compose file, as this file's line reader sees it.
#[derive(Debug, PartialEq)]
struct ComposeService {
    name: String,
    command: Option<Vec<String>>,
}

/// The services under the top-level `services:` key, each with its `command:` list (read as
/// JSON: it may span lines, and the brackets are matched outside strings).
fn compose_services(text: &str) -> Vec<ComposeService> {
    let mut services: Vec<ComposeService> = Vec::new();
    let mut in_services = false;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent == 0 {
            in_services = trimmed == "services:";
            continue;
        }
        if !in_services {
            continue;
        }
        if indent == 2 {
            let name = trimmed.strip_suffix(':').unwrap_or_else(|| {
                panic!("docker-compose.yml: expected `  <service>:`, found {line:?}")
            });
            services.push(ComposeService {
                name: name.to_string(),
                command: None,
            });
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("command:") else {
            continue;
        };
        let service = services.last_mut().expect("a command inside a service");
        let mut list = rest.trim().to_string();
        assert!(
            list.starts_with('['),
            "{}: write `command:` as a list of double-quoted strings, found {rest:?}",
            service.name
        );
        while !balanced(&list) {
            let next = lines
                .next()
                .unwrap_or_else(|| panic!("{}: unterminated command list", service.name));
            list.push('\n');
            list.push_str(next);
        }
        let command: Vec<String> = serde_json::from_str(&list).unwrap_or_else(|e| {
            panic!(
                "{}: the command is not a list of double-quoted strings ({e}): {list}",
                service.name
            )
        });
        service.command = Some(command);
    }
    services
}

/// Whether every `[` has its `]`, counting only outside double-quoted strings.
fn balanced(s: &str) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for c in s.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (false, _, '"') => in_string = true,
            (false, _, '[') => depth += 1,
            (false, _, ']') => depth -= 1,
            _ => {}
        }
    }
    depth == 0 && !in_string
}

/// The compose file loaded by a real YAML parser (python3's PyYAML) as JSON, when there is one.
fn compose_as_yaml(path: &Path) -> Option<serde_json::Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(path)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("No module named") {
        return None;
    }
    assert!(
        out.status.success(),
        "PyYAML cannot load {path:?}: {stderr}"
    );
    Some(serde_json::from_slice(&out.stdout).expect("PyYAML's JSON"))
}

#[test]
fn compose_commands_are_accepted_by_the_cli() {
    let path = repo().join("docker-compose.yml");
    let services = compose_services(&read("docker-compose.yml"));
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names.iter().copied().collect::<BTreeSet<_>>(),
        COMPOSE_SERVICES.iter().copied().collect::<BTreeSet<_>>(),
        "docker-compose.yml's services"
    );
    for service in services.iter().filter(|s| s.name != "mysql") {
        let command = service
            .command
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no command", service.name));
        assert_eq!(
            command.first().map(String::as_str),
            Some(service.name.as_str()),
            "{}: runs its own subcommand",
            service.name
        );
        if let Err(e) = check(command, &[]) {
            panic!(
                "docker-compose.yml: {}'s command is refused: {e}",
                service.name
            );
        }
    }

    let Some(yaml) = compose_as_yaml(&path) else {
        eprintln!("packaging: python3 has no PyYAML; docker-compose.yml read by lines only");
        return;
    };
    let volume_at = |service: &str, dir: &str| -> Option<String> {
        yaml["services"][service]["volumes"]
            .as_array()?
            .iter()
            .filter_map(|v| v.as_str())
            .find_map(|v| match v.split(':').collect::<Vec<_>>()[..] {
                [name, at, ..] if at == dir => Some(name.to_string()),
                _ => None,
            })
    };
    for service in services.iter().filter(|s| s.name != "mysql") {
        let spec = &yaml["services"][service.name.as_str()];
        assert_eq!(
            spec["command"],
            serde_json::json!(service.command),
            "{}: YAML and the line reader disagree",
            service.name
        );
        assert_eq!(spec["image"], IMAGE, "{}'s image", service.name);
        let context = spec["build"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no build context", service.name));
        assert!(
            repo().join(context).join("Dockerfile").is_file(),
            "{}: no Dockerfile in build context {context}",
            service.name
        );
    }
    // The sidecar reads the LDB at the readers' default path, so the reflector must write it
    // there, on a volume the sidecar mounts too.
    let ldb = Path::new(ctlstore_ldb_layout::DEFAULT_LDB_PATH);
    let spool = ldb.parent().expect("a directory").to_str().expect("utf-8");
    let reflector = services
        .iter()
        .find(|s| s.name == "reflector")
        .and_then(|s| s.command.clone())
        .unwrap_or_default();
    let ldb_flag = reflector.iter().position(|a| a == "-ldb-path");
    assert_eq!(
        ldb_flag.and_then(|i| reflector.get(i + 1)).map(Path::new),
        Some(ldb),
        "the reflector writes the sidecar's default LDB path"
    );
    let shared = volume_at("reflector", spool);
    assert!(shared.is_some(), "the reflector mounts a volume at {spool}");
    assert_eq!(
        volume_at("sidecar", spool),
        shared,
        "the sidecar mounts the reflector's LDB volume"
    );
}

#[test]
fn the_check_mode_refuses_bad_command_lines() {
    let bad: &[&[&str]] = &[
        &["executive", "-bind", "0.0.0.0:3000", "-no-such-flag", "1"],
        &["executive", "-bind", "3000"],
        &["executive", "-ctldb", "nosuch://db"],
        &["reflector", "-upstream-driver", "mysql"],
        &[
            "reflector",
            "-ldb-path",
            "/x/ldb.db",
            "-executive-url",
            "executive:3000",
            "-gap-timeout",
            "0s",
        ],
        &["heartbeat", "-executive-url", "executive:3000"],
        &["sidecar", "-bind-addr", "localhost"],
        &["supervisor", "-reflector.ldb-path", "/x/ldb.db"],
    ];
    for args in bad {
        assert!(
            check(&strings(args), &[]).is_err(),
            "accepted: ctlstore {}",
            args.join(" ")
        );
    }
    // And variables count, as the systemd units rely on.
    let env = [("CTLSTORE_WRITER_SECRET".to_string(), "s".to_string())];
    check(&strings(&["heartbeat"]), &env).expect("the secret from the environment");
}

/// A Dockerfile's instructions: (INSTRUCTION, arguments), continuation lines joined.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (instruction, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((instruction.to_uppercase(), args.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

/// Every workspace package with its binaries (`[[bin]] name`).
fn workspace_binaries() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(repo().join("crates")).expect("crates/") {
        let manifest = entry.expect("entry").path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let toml: toml::Table = text.parse().expect("a Cargo.toml");
        let name = toml["package"]["name"].as_str().expect("name").to_string();
        let bins = toml
            .get("bin")
            .and_then(|b| b.as_array())
            .map(|bins| {
                bins.iter()
                    .filter_map(|b| b.get("name")?.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(name, bins);
    }
    out
}

#[test]
fn the_dockerfile_builds_and_runs_what_the_workspace_has() {
    let instructions = dockerfile_instructions(&read("Dockerfile"));
    let find = |what: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(i, _)| i == what)
            .map(|(_, a)| a.as_str())
            .collect()
    };

    // The builder's Rust is the workspace's rust-version.
    let workspace: toml::Table = read("Cargo.toml").parse().expect("Cargo.toml");
    let rust_version = workspace["workspace"]["package"]["rust-version"]
        .as_str()
        .expect("rust-version");
    assert!(
        find("ARG").contains(&format!("RUST_VERSION={rust_version}").as_str()),
        "the Dockerfile builds with Rust {rust_version}: {:?}",
        find("ARG")
    );

    // What it builds: each -p is a workspace package, and its binary is what is copied out.
    let run = find("RUN")
        .into_iter()
        .find(|r| r.contains("cargo build"))
        .expect("a RUN with cargo build");
    let build = run.split("cargo build").nth(1).unwrap_or_default();
    let words: Vec<&str> = build
        .split_whitespace()
        .take_while(|w| *w != "&&")
        .collect();
    let packages: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "-p")
        .map(|w| w[1])
        .collect();
    let binaries = workspace_binaries();
    let mut built = Vec::new();
    for package in &packages {
        let bins = binaries
            .get(*package)
            .unwrap_or_else(|| panic!("the Dockerfile builds {package}, not a workspace package"));
        assert!(
            bins.iter().any(|b| b == package),
            "{package} has no binary named {package}: {bins:?}"
        );
        assert!(
            run.contains(&format!("target/release/{package}")),
            "the Dockerfile builds {package} but does not copy it out: {run}"
        );
        built.push(*package);
    }
    assert!(
        built.contains(&"ctlstore") && built.contains(&"ctlstore-cli"),
        "{built:?}"
    );
    assert!(
        run.contains("--release") && run.contains("--locked"),
        "{run}"
    );

    // What it runs: the entrypoint is a built binary, copied to that path.
    let entrypoint: Vec<String> =
        serde_json::from_str(find("ENTRYPOINT").last().expect("ENTRYPOINT")).expect("exec form");
    let entry = Path::new(&entrypoint[0]);
    let bin = entry.file_name().and_then(|n| n.to_str()).expect("a file");
    assert!(built.contains(&bin), "ENTRYPOINT {entry:?} is not built");
    let dir = entry
        .parent()
        .and_then(|d| d.to_str())
        .expect("a directory");
    assert!(
        find("COPY").iter().any(|c| c.contains("--from=build")
            && c.contains(&format!("/out/{bin}"))
            && c.trim_end().ends_with(&format!("{dir}/"))),
        "no COPY puts {bin} in {dir}: {:?}",
        find("COPY")
    );
    assert_eq!(
        entrypoint[0], UNIT_BINARY,
        "the image and the systemd units run the same path"
    );

    // Not root; the LDB directory (the readers' default) is a volume.
    let user = find("USER").last().copied().expect("USER");
    assert!(
        !["root", "0", "0:0"].contains(&user) && !user.starts_with("root:"),
        "USER {user}"
    );
    let spool = Path::new(ctlstore_ldb_layout::DEFAULT_LDB_PATH)
        .parent()
        .and_then(|d| d.to_str())
        .expect("a directory");
    let volumes: Vec<String> =
        serde_json::from_str(find("VOLUME").last().expect("VOLUME")).expect("JSON form");
    assert!(volumes.iter().any(|v| v == spool), "VOLUME {volumes:?}");
    assert!(
        find("RUN")
            .iter()
            .any(|r| r.contains(spool) && r.contains("-o ctlstore")),
        "{spool} is created for the unprivileged user before it becomes a volume"
    );
    // .dockerignore keeps the build context free of build output.
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target"), "{ignore}");
}

/// Where the units (and the image) install the binary.
const UNIT_BINARY: &str = "/usr/local/bin/ctlstore";

/// A unit file: section → key → values (a key may repeat).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    let mut logical = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if logical.is_empty() && (trimmed.is_empty() || trimmed.starts_with(['#', ';'])) {
            continue;
        }
        if let Some(part) = trimmed.strip_suffix('\\') {
            logical.push_str(part);
            logical.push(' ');
            continue;
        }
        logical.push_str(trimmed);
        if let Some(name) = logical.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((k, v)) = logical.split_once('=') {
            unit.entry(section.clone())
                .or_default()
                .entry(k.trim().to_string())
                .or_default()
                .push(v.trim().to_string());
        } else {
            panic!("not a unit file line: {logical:?}");
        }
        logical.clear();
    }
    unit
}

/// systemd's splitting of a command line: words, with '...' and "..." quoting. Specifiers
/// (`%`), variables (`$`) and escapes are refused: this test could not check their values.
fn split_exec(line: &str) -> Vec<String> {
    assert!(
        !line.contains(['%', '$', '\\']),
        "ExecStart uses a specifier, variable or escape this test cannot check: {line}"
    );
    let (mut words, mut word, mut quote, mut in_word) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    assert!(quote.is_none(), "unterminated quote: {line}");
    if in_word {
        words.push(word);
    }
    words
}

/// An EnvironmentFile: `KEY=value` lines, `#` comments; values unquoted or wholly quoted.
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=value: {line:?}"));
        assert!(
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "not a variable name: {k:?}"
        );
        assert!(
            !v.contains(['$', '\\']),
            "{k}: expansions and escapes are not checked here: {v:?}"
        );
        let v = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(v);
        out.push((k.to_string(), v.to_string()));
    }
    out
}

fn unit_path(service: &str) -> PathBuf {
    repo().join(format!("deploy/systemd/ctlstore-{service}.service"))
}

#[test]
fn systemd_units_start_commands_the_cli_accepts() {
    for service in UNITS {
        let path = unit_path(service);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let unit = parse_unit(&text);
        let s = &unit["Service"];
        let one = |key: &str| -> &str {
            match s.get(key).map(Vec::as_slice) {
                Some([v]) => v,
                other => panic!("{service}: expected one {key}=, found {other:?}"),
            }
        };
        assert_eq!(one("Restart"), "on-failure", "{service}");
        assert_eq!(one("User"), "ctlstore", "{service}");
        for (key, value) in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("CapabilityBoundingSet", ""),
        ] {
            assert_eq!(one(key), value, "{service}: hardening {key}");
        }
        assert!(unit["Install"].contains_key("WantedBy"), "{service}");

        let env_file = one("EnvironmentFile");
        let env_name = format!("{service}.env");
        assert_eq!(
            env_file,
            format!("/etc/ctlstore/{env_name}"),
            "{service}: its settings file"
        );
        let env = parse_env_file(&read(&format!("deploy/systemd/{env_name}")));

        let exec = split_exec(one("ExecStart"));
        assert_eq!(exec[0], UNIT_BINARY, "{service}");
        assert_eq!(exec.get(1).map(String::as_str), Some(*service), "{service}");
        if let Err(e) = check(&exec[1..], &env) {
            panic!("{path:?}: ExecStart with {env_name} is refused: {e}");
        }

        // Under ProtectSystem=strict a service writes only where its unit says: its LDB must
        // be there.
        let mut writable: Vec<String> = s.get("ReadWritePaths").cloned().unwrap_or_default();
        writable.extend(
            s.get("StateDirectory")
                .into_iter()
                .flatten()
                .map(|d| format!("/var/lib/{d}")),
        );
        let flags = ["-ldb-path", "-reflector.ldb-path", "-changelog-path"];
        let written = exec
            .windows(2)
            .filter(|w| flags.contains(&w[0].as_str()))
            .map(|w| w[1].clone());
        let vars = [
            "CTLSTORE_CHANGELOG_PATH",
            "CTLSTORE_REFLECTOR_CHANGELOG_PATH",
        ];
        let written = written.chain(
            env.iter()
                .filter(|(k, _)| vars.contains(&k.as_str()))
                .map(|(_, v)| v.clone()),
        );
        for file in written {
            assert!(
                writable.iter().any(|dir| Path::new(&file).starts_with(dir)),
                "{service} writes {file}, outside its writable paths {writable:?}"
            );
        }
    }
}

#[test]
fn systemd_units_pass_systemd_analyze() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!(
            "packaging: systemd-analyze is not installed; skipped `systemd-analyze verify` \
             (ExecStart lines are still checked by systemd_units_start_commands_the_cli_accepts)"
        );
        return;
    }
    // verify insists that the binary exists: check copies that name the one just built.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    for service in UNITS {
        let text = std::fs::read_to_string(unit_path(service)).expect("unit");
        let copy = dir.path().join(format!("ctlstore-{service}.service"));
        std::fs::write(
            &copy,
            text.replace(UNIT_BINARY, env!("CARGO_BIN_EXE_ctlstore")),
        )
        .expect("write");
        files.push(copy);
    }
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .output()
        .expect("systemd-analyze verify");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    // Unknown keys and bad values are only warnings to systemd: any output fails the test.
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {}\n{complaints}",
        verify.status
    );

    // Hardening stays where it is (systemd's exposure level, 0-10, below 2.0).
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .args(&files)
        .output()
        .expect("systemd-analyze security");
    let stderr = String::from_utf8_lossy(&security.stderr);
    if stderr.contains("unrecognized option") {
        eprintln!("packaging: this systemd-analyze has no offline security check; skipped");
        return;
    }
    assert!(
        security.status.success(),
        "systemd-analyze security: exposure above 2.0:\n{}{stderr}",
        String::from_utf8_lossy(&security.stdout)
    );
}

#[test]
fn the_readers_of_these_files_read_what_they_should() {
    let compose = "x: &a\n  b: 1\nservices:\n  one:\n    command: [\"a\",\n      \"b]\"]\n  two:\n    image: x\n";
    assert_eq!(
        compose_services(compose),
        vec![
            ComposeService {
                name: "one".into(),
                command: Some(strings(&["a", "b]"]))
            },
            ComposeService {
                name: "two".into(),
                command: None
            },
        ]
    );
    assert_eq!(
        split_exec("/bin/x a 'b c' \"d\"e"),
        strings(&["/bin/x", "a", "b c", "de"])
    );
    assert_eq!(
        parse_env_file("# c\nA=1\nB=\"x y\"\n\nC=p@tcp(h:1)/d?x=y\n"),
        vec![
            ("A".into(), "1".into()),
            ("B".into(), "x y".into()),
            ("C".into(), "p@tcp(h:1)/d?x=y".into())
        ]
    );
    let unit = parse_unit("[Service]\nExecStart=/bin/x \\\n  a\nX=1\nX=2\n");
    assert_eq!(unit["Service"]["ExecStart"], vec!["/bin/x  a".to_string()]);
    assert_eq!(unit["Service"]["X"], strings(&["1", "2"]));
    assert_eq!(
        dockerfile_instructions("# c\nFROM a AS b\nRUN x \\\n    && y\n"),
        vec![
            ("FROM".into(), "a AS b".into()),
            ("RUN".into(), "x  && y".into())
        ]
    );
}
