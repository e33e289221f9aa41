//! A TCP proxy that breaks the network between a client and a server on command (feature
//! `executive`): put it between a reflector and the executive (`SourceConfig::feed(proxy.url)`)
//! and choose a [`Fault`] for a fraction of the connections, or make connections black holes.
//!
//! - [`FaultProxy::black_hole`]: every open connection stops forwarding in both directions and
//!   stays open (a NAT timeout or a cut cable: no FIN, no RST); new connections are forwarded.
//! - [`Fault::Delay`]: each chunk read from either side is forwarded after a random delay, in
//!   order.
//! - [`Fault::Reset`]: the connection is closed abruptly at a random moment, with RST both ways
//!   (zero linger, then close).
//! - [`Fault::Truncate`]: only a random number of the server's bytes reach the client, then both
//!   sides are closed with FIN: a response cut anywhere (in its headers, between chunks, in the
//!   middle of the JSON).
//!
//! Which connections a fault hits is drawn per connection, when the fault is set (for the
//! connections open then) and when a connection is accepted (while it is set), so a fault keeps
//! hitting the connections a client opens to replace the ones it lost.
//!
//! (Just over 400 lines: one proxy and its four fault modes, which share the forwarding loop.)

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// What happens to an affected connection.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Fault {
    /// Forward everything.
    #[default]
    None,
    /// Each chunk (either direction) is forwarded after a delay drawn uniformly in `[0, max]`;
    /// chunks stay in order.
    Delay { max: Duration },
    /// The connection is reset (RST to both sides) at a moment drawn uniformly in `[0, within]`
    /// after it was hit.
    Reset { within: Duration },
    /// Only the next `k` bytes from the server reach the client, `k` drawn uniformly in
    /// `[0, max_bytes)`; then both sides are closed with FIN.
    Truncate { max_bytes: usize },
}

/// Faults injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Connections accepted.
    pub connections: u64,
    /// Draws that hit a connection (a connection open across several [`FaultProxy::set_fault`]
    /// calls draws at each).
    pub hit: u64,
    /// Chunks forwarded late.
    pub delayed_chunks: u64,
    /// Connections reset.
    pub resets: u64,
    /// Responses cut short.
    pub truncations: u64,
    /// Connections made black holes.
    pub black_holes: u64,
}

#[derive(Clone, Copy, Default)]
struct Control {
    fault: Fault,
    /// The share of connections a fault hits, in `[0, 1]`.
    fraction: f64,
    /// Bumped by every [`FaultProxy::set_fault`], so connections draw again.
    epoch: u64,
    /// Every connection numbered below this is a black hole.
    holes_before: u64,
    /// And this one.
    hole: Option<u64>,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    hit: AtomicU64,
    delayed_chunks: AtomicU64,
    resets: AtomicU64,
    truncations: AtomicU64,
    black_holes: AtomicU64,
}

/// A TCP proxy on `127.0.0.1` in front of `upstream`. Dropping it stops accepting and closes
/// every connection (black holes included).
pub struct FaultProxy {
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    control: watch::Sender<Control>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on an ephemeral port and forwards every connection to `upstream` (`host:port`, or
    /// a URL whose scheme and path are ignored).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let (control, _) = watch::channel(Control::default());
        let counters = Arc::new(Counters::default());
        let (sender, c) = (control.clone(), counters.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let id = c.connections.fetch_add(1, Ordering::Relaxed);
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                tokio::spawn(connection(
                    id,
                    client,
                    server,
                    sender.subscribe(),
                    c.clone(),
                ));
            }
        });
        FaultProxy {
            url,
            control,
            counters,
            task,
        }
    }

    /// Connections accepted so far (each is numbered in accept order, from 0).
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::Relaxed)
    }

    /// Every connection open now stops forwarding, and stays open.
    pub fn black_hole(&self) {
        let before = self.connections();
        self.control.send_modify(|c| c.holes_before = before);
    }

    /// Connection `id` stops forwarding, and stays open.
    pub fn black_hole_one(&self, id: u64) {
        self.control.send_modify(|c| c.hole = Some(id));
    }

    /// From now on `fault` hits each connection (open now or accepted later) with probability
    /// `fraction`. [`Fault::None`] turns faults off (a delayed connection forwards promptly again).
    pub fn set_fault(&self, fault: Fault, fraction: f64) {
        self.control.send_modify(|c| {
            c.fault = fault;
            c.fraction = fraction.clamp(0.0, 1.0);
            c.epoch += 1;
        });
    }

    /// What was injected so far.
    pub fn stats(&self) -> FaultStats {
        let c = &self.counters;
        FaultStats {
            connections: c.connections.load(Ordering::Relaxed),
            hit: c.hit.load(Ordering::Relaxed),
            delayed_chunks: c.delayed_chunks.load(Ordering::Relaxed),
            resets: c.resets.load(Ordering::Relaxed),
            truncations: c.truncations.load(Ordering::Relaxed),
            black_holes: c.black_holes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a fault does to one connection now.
#[derive(Default)]
struct Hit {
    delay: Option<Duration>,
    reset_at: Option<Instant>,
    /// Server bytes still to forward before the cut.
    budget: Option<usize>,
}

impl Hit {
    fn draw(control: &Control, rng: &mut Rng, counters: &Counters) -> Hit {
        if control.fault == Fault::None || rng.unit() >= control.fraction {
            return Hit::default();
        }
        counters.hit.fetch_add(1, Ordering::Relaxed);
        match control.fault {
            Fault::None => Hit::default(),
            Fault::Delay { max } => Hit {
                delay: Some(max),
                ..Hit::default()
            },
            Fault::Reset { within } => Hit {
                reset_at: Some(Instant::now() + within.mul_f64(rng.unit())),
                ..Hit::default()
            },
            Fault::Truncate { max_bytes } => Hit {
                budget: Some(rng.below(max_bytes as u64) as usize),
                ..Hit::default()
            },
        }
    }
}

/// Chunks waiting for their delay, in order.
#[derive(Default)]
struct Delayed(VecDeque<(Instant, Vec<u8>)>);

impl Delayed {
    fn push(&mut self, delay: Duration, rng: &mut Rng, bytes: &[u8]) {
        let mut at = Instant::now() + delay.mul_f64(rng.unit());
        if let Some((last, _)) = self.0.back() {
            at = at.max(*last);
        }
        self.0.push_back((at, bytes.to_vec()));
    }

    fn due(&self) -> Option<Instant> {
        self.0.front().map(|(at, _)| *at)
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn is_hole(control: &Control, id: u64) -> bool {
    id < control.holes_before || control.hole == Some(id)
}

/// Forwards one connection, applying whatever fault hits it.
async fn connection(
    id: u64,
    mut client: TcpStream,
    mut server: TcpStream,
    mut control: watch::Receiver<Control>,
    counters: Arc<Counters>,
) {
    let mut rng = Rng::new(id);
    let current = *control.borrow_and_update();
    let mut epoch = current.epoch;
    let mut hit = Hit::draw(&current, &mut rng, &counters);
    let (mut to_server, mut to_client) = (Delayed::default(), Delayed::default());
    let (mut a, mut b) = (vec![0u8; 16384], vec![0u8; 16384]);
    loop {
        tokio::select! {
            n = client.read(&mut a) => match n {
                Ok(n) if n > 0 => match hit.delay {
                    Some(max) => {
                        to_server.push(max, &mut rng, &a[..n]);
                        counters.delayed_chunks.fetch_add(1, Ordering::Relaxed);
                    }
                    None => if server.write_all(&a[..n]).await.is_err() { return },
                },
                _ => return,
            },
            n = server.read(&mut b) => match n {
                Ok(n) if n > 0 => {
                    let mut n = n;
                    // Cut when this chunk holds more than the budget: at least one byte is lost.
                    let cut = hit.budget.is_some_and(|budget| n > budget);
                    if let Some(budget) = hit.budget.as_mut() {
                        n = n.min(*budget);
                        *budget -= n;
                    }
                    match hit.delay {
                        Some(max) => {
                            to_client.push(max, &mut rng, &b[..n]);
                            counters.delayed_chunks.fetch_add(1, Ordering::Relaxed);
                        }
                        None => if client.write_all(&b[..n]).await.is_err() { return },
                    }
                    if cut {
                        counters.truncations.fetch_add(1, Ordering::Relaxed);
                        close_with_fin(client, server).await;
                        return;
                    }
                }
                _ => {
                    // The server closed: deliver what is still delayed, then close.
                    while let Some((at, bytes)) = to_client.0.pop_front() {
                        tokio::time::sleep_until(at).await;
                        if client.write_all(&bytes).await.is_err() { return }
                    }
                    return;
                }
            },
            _ = until(to_server.due()) => {
                if let Some((_, bytes)) = to_server.0.pop_front()
                    && server.write_all(&bytes).await.is_err()
                {
                    return;
                }
            }
            _ = until(to_client.due()) => {
                if let Some((_, bytes)) = to_client.0.pop_front()
                    && client.write_all(&bytes).await.is_err()
                {
                    return;
                }
            }
            _ = until(hit.reset_at) => {
                counters.resets.fetch_add(1, Ordering::Relaxed);
                // Zero linger: closing sends RST and discards unsent data.
                let _ = client.set_zero_linger();
                let _ = server.set_zero_linger();
                return;
            }
            changed = control.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *control.borrow_and_update();
                if is_hole(&now, id) {
                    counters.black_holes.fetch_add(1, Ordering::Relaxed);
                    let _held = (client, server);
                    // Held open, silent, until the proxy goes away.
                    while control.changed().await.is_ok() {}
                    return;
                }
                if now.epoch != epoch {
                    epoch = now.epoch;
                    hit = Hit::draw(&now, &mut rng, &counters);
                    if hit.delay.is_none() {
                        // Faults off: what was held back goes out now, in order.
                        for (_, bytes) in to_server.0.drain(..) {
                            if server.write_all(&bytes).await.is_err() { return }
                        }
                        for (_, bytes) in to_client.0.drain(..) {
                            if client.write_all(&bytes).await.is_err() { return }
                        }
                    }
                }
            }
        }
    }
}

/// Closes both sides with FIN, then reads the client until it closes too (at most 5 s), so that
/// unread bytes do not turn the close into a RST.
async fn close_with_fin(mut client: TcpStream, mut server: TcpStream) {
    let _ = client.shutdown().await;
    let _ = server.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = client.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
}

/// xorshift64*, seeded from the clock, the process's hasher keys and the connection.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        Rng(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}
