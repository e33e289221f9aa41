//! Real processes in tests: a free port to hand one, and a child killed however the test ends.

use std::process::Child;

/// A port nothing listens on right now (the OS picks it; another process could take it before
/// the test binds it, which on a test machine does not happen in practice).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process, SIGKILLed and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bin args...` as a background service: no stdin or stdout, its errors on ours,
/// `RUST_LOG=error`; killed when the handle is dropped.
pub fn spawn_service(bin: &str, args: &[&str]) -> KillOnDrop {
    KillOnDrop(
        std::process::Command::new(bin)
            .args(args)
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}")),
    )
}

/// A tiny deterministic random generator for tests (a 64-bit LCG): reproducible from its seed,
/// with no dependency.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}
