//! README.md's shell blocks, run verbatim against a fresh data directory, so the README cannot
//! drift from what the binary does.
//!
//! Conventions (also written, as an HTML comment, at the top of README.md's source):
//! - ```` ```sh ```` blocks run, one command at a time (a line ending in `\` continues it), in
//!   a fresh temporary directory, with `bash -c`; each must exit 0.
//! - ```` ```sh background ```` blocks start a service that the blocks after it talk to; it
//!   runs until the test ends, is then stopped with SIGINT (Ctrl-C) and must exit 0.
//! - ```` ```sh no-run ```` blocks are shown, never run (the test commands themselves).
//! - A comment line `# → TEXT` under a command is its expected output: its stdout must contain
//!   TEXT, where `…` stands for anything (the pieces between must appear in that order).
//!
//! `cargo run [--release] -p ctlstore -- ARGS` runs the binary this test was built with: a
//! `cargo` script first on PATH execs it. Before each command the test waits until the host
//! has caught up with the ledger (the reflector's `/status` seq reaches the executive's head),
//! as a person typing the tour would; the commands themselves are not changed.
//!
//! The README uses the all-in-one's fixed ports (3000, 1331, 9090), so this file holds one
//! test, and it stops with a message naming the port when one is taken.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The all-in-one's default ports, which the README's commands use.
const EXECUTIVE: u16 = 3000;
const SIDECAR: u16 = 1331;
const REFLECTOR_STATUS: u16 = 9090;

#[derive(Debug, PartialEq)]
enum Mode {
    Run,
    Background,
    NoRun,
}

#[derive(Debug)]
struct Block {
    mode: Mode,
    /// Where it starts in README.md, for messages.
    line: usize,
    commands: Vec<Step>,
}

#[derive(Debug, PartialEq)]
struct Step {
    command: String,
    expect: Vec<String>,
}

/// The shell blocks of a Markdown text (fences ```` ```sh ````, ```` ```bash ````).
fn shell_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<(Mode, usize, Vec<&str>)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            if let Some((_, _, lines)) = open.as_mut() {
                lines.push(line);
            }
            continue;
        };
        if let Some((mode, start, lines)) = open.take() {
            blocks.push(Block {
                mode,
                line: start,
                commands: steps(&lines),
            });
            continue;
        }
        // Only a shell fence opens a block here. Other blocks' lines pass as text: a fence
        // with another language (or none, as closing fences have) opens nothing.
        let mut words = info.split_whitespace();
        if !matches!(words.next(), Some("sh" | "bash" | "shell")) {
            continue;
        }
        let mode = match words.next() {
            None => Mode::Run,
            Some("background") => Mode::Background,
            Some("no-run") => Mode::NoRun,
            Some(other) => panic!("README.md:{}: unknown block mode {other:?}", i + 1),
        };
        open = Some((mode, i + 1, Vec::new()));
    }
    assert!(open.is_none(), "README.md: an unclosed code block");
    blocks
}

/// Commands (continuation lines joined) with the `# →` expectations under each.
fn steps(lines: &[&str]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut pending = String::new();
    for line in lines {
        let trimmed = line.trim();
        if pending.is_empty() {
            if let Some(expected) = trimmed.strip_prefix("# →") {
                let step = steps
                    .last_mut()
                    .expect("an expected output follows a command");
                step.expect.push(expected.trim().to_string());
                continue;
            }
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
        }
        // A continued command is kept as written, backslash and newline included.
        pending.push_str(line);
        if !line.ends_with('\\') {
            steps.push(Step {
                command: std::mem::take(&mut pending),
                expect: Vec::new(),
            });
        } else {
            pending.push('\n');
        }
    }
    assert!(pending.is_empty(), "a command ends with a continuation");
    steps
}

/// Whether `output` contains `expected`'s `…`-separated pieces, in order.
fn matches(output: &str, expected: &str) -> bool {
    let mut rest = output;
    for piece in expected.split('…').map(str::trim).filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// A `cargo` that runs the binaries under test for `cargo run [--release] -p ctlstore -- ...`.
fn cargo_shim(dir: &Path) {
    let script = format!(
        r#"#!/bin/sh
# README test shim (crates/ctlstore/tests/readme.rs): cargo run [--release] -p ctlstore -- ARGS
[ "$1" = run ] || {{ echo "cargo shim: only 'cargo run' is supported: $*" >&2; exit 97; }}
shift
[ "$1" = --release ] && shift
[ "$1" = -p ] && [ "$2" = ctlstore ] || {{ echo "cargo shim: only '-p ctlstore' is supported: $*" >&2; exit 97; }}
shift 2
[ "$1" = -- ] && shift
exec '{}' "$@"
"#,
        env!("CARGO_BIN_EXE_ctlstore")
    );
    let path = dir.join("cargo");
    std::fs::write(&path, script).expect("write the cargo shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A shell with the shim first on PATH, in `cwd`, without the test's CTLSTORE_* settings.
fn shell(command: &str, cwd: &Path, bin: &Path) -> Command {
    let mut c = Command::new("bash");
    c.arg("-c").arg(command).current_dir(cwd);
    let path = std::env::var("PATH").unwrap_or_default();
    c.env("PATH", format!("{}:{path}", bin.display()));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CTLSTORE_")) {
        c.env_remove(k);
    }
    c
}

/// A background block's process group: SIGKILLed if the test fails before stopping it.
struct Service {
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Service {
    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([signal, "--", &format!("-{}", child.id())])
                .status();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ctrl-C, as a person stops it; it must exit 0.
    fn stop(mut self) {
        self.signal("-INT");
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = child.wait().expect("wait for the background block");
        assert!(
            status.success(),
            "the background block did not stop cleanly on Ctrl-C ({status}):\n{}",
            self.log()
        );
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.signal("-KILL");
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

/// GET with curl (which the README needs anyway); None while nothing answers.
fn get(url: &str) -> Option<serde_json::Value> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", url])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn wait_for<T>(what: &str, service: &Service, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}; the service's output:\n{}",
                service.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until this host's LDB has every ledger entry the executive has committed so far.
fn settle(service: &Service) {
    let head = wait_for("the executive's /healthz", service, || {
        get(&format!("http://127.0.0.1:{EXECUTIVE}/healthz"))?["ledger_head"].as_i64()
    });
    wait_for(
        &format!("the reflector to apply seq {head}"),
        service,
        || {
            let seq =
                get(&format!("http://127.0.0.1:{REFLECTOR_STATUS}/status"))?["seq"].as_i64()?;
            (seq >= head).then_some(())
        },
    );
    wait_for("the sidecar", service, || {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{SIDECAR}/healthz"))
            .status()
            .ok()
            .filter(|s| s.success())
    });
}

#[test]
fn the_readme_runs_as_written() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let blocks = shell_blocks(&readme);
    assert_eq!(
        blocks.iter().filter(|b| b.mode == Mode::Background).count(),
        1,
        "README.md: one background block (the all-in-one)"
    );
    let tour = blocks
        .iter()
        .filter(|b| b.mode == Mode::Run)
        .flat_map(|b| &b.commands)
        .map(|s| s.command.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for port in [EXECUTIVE, SIDECAR] {
        assert!(
            tour.contains(&format!("localhost:{port}")),
            "the README's commands no longer use port {port}: update this test's ports"
        );
    }
    let curl = Command::new("curl").arg("--version").output();
    assert!(
        curl.is_ok_and(|o| o.status.success()),
        "the README's tour uses curl, which is not installed"
    );
    for port in [EXECUTIVE, SIDECAR, REFLECTOR_STATUS] {
        if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
            panic!(
                "the README's commands use fixed ports and 127.0.0.1:{port} is taken ({e}): \
                 stop what listens there (`ss -ltnp 'sport = :{port}'`) and run this test again"
            );
        }
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let (bin, work) = (dir.path().join("bin"), dir.path().join("work"));
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&work).expect("work");
    cargo_shim(&bin);

    let mut service: Option<Service> = None;
    let mut checked = 0;
    for block in &blocks {
        match block.mode {
            Mode::NoRun => continue,
            Mode::Background => {
                let [step] = block.commands.as_slice() else {
                    panic!(
                        "README.md:{}: a background block holds one command",
                        block.line
                    );
                };
                let log = dir.path().join("background.log");
                let out = std::fs::File::create(&log).expect("log");
                let child = shell(&step.command, &work, &bin)
                    .stdout(out.try_clone().expect("log"))
                    .stderr(out)
                    .stdin(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .expect("start the background block");
                service = Some(Service {
                    child: Some(child),
                    log,
                });
            }
            Mode::Run => {
                for step in &block.commands {
                    if let Some(s) = &service {
                        settle(s);
                    }
                    let out = shell(&step.command, &work, &bin)
                        .stdin(Stdio::null())
                        .output()
                        .expect("run a README command");
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    let context = || {
                        format!(
                            "README.md (block at line {}): `{}`\nexit: {}\nstdout: {stdout}\nstderr: {}\nthe service's output:\n{}",
                            block.line,
                            step.command,
                            out.status,
                            String::from_utf8_lossy(&out.stderr),
                            service.as_ref().map(Service::log).unwrap_or_default()
                        )
                    };
                    assert!(out.status.success(), "{}", context());
                    assert!(
                        !stdout.contains(r#""error""#),
                        "an error answer\n{}",
                        context()
                    );
                    for expected in &step.expect {
                        assert!(
                            matches(&stdout, expected),
                            "expected output `{expected}`\n{}",
                            context()
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(
        checked >= 3,
        "README.md shows fewer than 3 expected outputs (`# → ...`): the tour checks nothing"
    );
    if let Some(s) = service {
        s.stop();
    }
}

#[test]
fn the_readme_conventions_parse() {
    let md = "text\n```sh background\nserve\n```\n```rust\nfn x() {}\n```\n```sh\n# a comment\na \\\n  b   # why\n# → {\"x\":… 1}\nc\n```\n```sh no-run\ncargo test\n```\n";
    let blocks = shell_blocks(md);
    let modes: Vec<&Mode> = blocks.iter().map(|b| &b.mode).collect();
    assert_eq!(modes, [&Mode::Background, &Mode::Run, &Mode::NoRun]);
    assert_eq!(
        blocks[1].commands,
        [
            Step {
                command: "a \\\n  b   # why".into(),
                expect: vec![r#"{"x":… 1}"#.into()]
            },
            Step {
                command: "c".into(),
                expect: vec![]
            }
        ]
    );
    assert!(matches(r#"{"x": 2, "y": 1}"#, r#"{"x":… 1}"#));
    assert!(!matches(r#"{"y": 1, "x": 2}"#, r#"{"x":… 1}"#));
}
