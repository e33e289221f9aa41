//! The dispatcher and one worker per trigger. The dispatcher hands each applied batch's
//! matching keys to the triggers it concerns; a worker runs its command whenever it has
//! something pending, so batches arriving during a run coalesce into the next one.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, mpsc};

use crate::{State, Trigger, TriggerError};

/// One changed row of an applied batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedKey {
    pub family: String,
    pub table: String,
    pub key: Vec<serde_json::Value>,
    /// `upsert` or `delete`.
    pub op: String,
}

impl ChangedKey {
    fn key_text(&self) -> Vec<String> {
        self.key
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }
}

/// An applied ledger batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub seq: i64,
    pub changes: Vec<ChangedKey>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Batch(Batch),
    /// The LDB was replaced from a snapshot (or changes before `seq` are no longer retained):
    /// every trigger runs once, without keys, with `CTLSTORE_BOOTSTRAP=1`.
    Reset {
        seq: i64,
    },
}

impl Event {
    fn seq(&self) -> i64 {
        match self {
            Event::Batch(b) => b.seq,
            Event::Reset { seq } => *seq,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub state_path: PathBuf,
    /// The LDB's applied sequence at start: where triggers new to the state file begin (they
    /// run once at start).
    pub head: i64,
    pub max_backoff: Duration,
}

#[derive(Default)]
struct Pending {
    seq: i64,
    keys: Vec<ChangedKey>,
    reset: bool,
    /// Something to run.
    due: bool,
    /// The newest sequence this trigger has been shown (matching or not).
    dispatched: i64,
}

struct Worker {
    trigger: Trigger,
    pending: Mutex<Pending>,
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs until `events` ends or `shutdown` completes. A worker's command in progress is left to
/// finish on shutdown only as far as the process lives.
pub async fn run(
    triggers: Vec<Trigger>,
    options: Options,
    mut events: mpsc::Receiver<Event>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), TriggerError> {
    let state = Arc::new(Mutex::new(State::load(&options.state_path)?));
    let mut workers = Vec::new();
    for trigger in triggers {
        let known = lock(&state).handled.get(&trigger.name).copied();
        let mut pending = Pending::default();
        match known {
            Some(seq) => pending.dispatched = seq,
            None => {
                // New: run once now, then follow from the head.
                pending.dispatched = options.head;
                pending.seq = options.head;
                pending.reset = true;
                pending.due = true;
            }
        }
        let worker = Arc::new(Worker {
            trigger,
            pending: Mutex::new(pending),
            wake: Notify::new(),
        });
        if known.is_none() {
            worker.wake.notify_one();
        }
        workers.push(worker);
    }
    let tasks: Vec<_> = workers
        .iter()
        .map(|w| tokio::spawn(work(w.clone(), state.clone(), options.clone())))
        .collect();
    tokio::pin!(shutdown);
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = &mut shutdown => None,
        };
        let Some(event) = event else { break };
        for worker in &workers {
            dispatch(worker, &event);
        }
    }
    for task in tasks {
        task.abort();
    }
    Ok(())
}

fn dispatch(worker: &Worker, event: &Event) {
    let mut p = lock(&worker.pending);
    let seq = event.seq();
    if seq <= p.dispatched {
        return;
    }
    p.dispatched = seq;
    let matched: Vec<ChangedKey> = match event {
        Event::Batch(batch) => batch
            .changes
            .iter()
            .filter(|c| worker.trigger.matches(&c.family, &c.table, &c.key_text()))
            .cloned()
            .collect(),
        Event::Reset { .. } => Vec::new(),
    };
    let reset = matches!(event, Event::Reset { .. });
    tracing::debug!(trigger = %worker.trigger.name, seq, matched = matched.len(), "dispatched");
    if matched.is_empty() && !reset {
        // Nothing to run, but an idle worker records that it is handled this far.
        drop(p);
        worker.wake.notify_one();
        return;
    }
    p.keys.extend(matched);
    p.reset |= reset;
    p.seq = seq;
    p.due = true;
    drop(p);
    worker.wake.notify_one();
}

async fn work(worker: Arc<Worker>, state: Arc<Mutex<State>>, options: Options) {
    let name = worker.trigger.name.clone();
    loop {
        let next = {
            let mut p = lock(&worker.pending);
            if p.due {
                p.due = false;
                Ok((
                    p.seq,
                    std::mem::take(&mut p.keys),
                    std::mem::take(&mut p.reset),
                ))
            } else {
                // Idle: everything shown so far is handled.
                Err(p.dispatched)
            }
        };
        let (seq, keys, reset) = match next {
            Ok(run) => run,
            Err(done) => {
                record(&state, &options, &name, done);
                worker.wake.notified().await;
                continue;
            }
        };
        let mut backoff = Duration::from_secs(1);
        let mut attempt = 1u32;
        while !run_once(&worker.trigger, seq, &keys, reset, attempt).await {
            metrics::counter!("ctlstore_trigger_retries_total", "trigger" => name.clone())
                .increment(1);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(options.max_backoff);
            attempt += 1;
        }
        let done = {
            let p = lock(&worker.pending);
            if p.due { seq } else { p.dispatched }
        };
        record(&state, &options, &name, done);
    }
}

fn record(state: &Mutex<State>, options: &Options, name: &str, seq: i64) {
    let mut s = lock(state);
    if s.handled.get(name).copied() == Some(seq) {
        return;
    }
    s.handled.insert(name.to_string(), seq);
    if let Err(e) = s.save(&options.state_path) {
        tracing::error!(error = %e, "cannot save the triggers' state: a restart may run a trigger again");
    }
}

/// Runs the command once; `true` on exit status 0.
async fn run_once(
    trigger: &Trigger,
    seq: i64,
    keys: &[ChangedKey],
    reset: bool,
    attempt: u32,
) -> bool {
    let (family, table) = match (trigger.path.first(), trigger.path.get(1), keys.last()) {
        (Some(f), Some(t), _) => (f.clone(), t.clone()),
        (Some(f), None, Some(k)) => (f.clone(), k.table.clone()),
        (Some(f), None, None) => (f.clone(), String::new()),
        (None, _, _) => (String::new(), String::new()),
    };
    let mut stdin_text = String::new();
    for key in keys {
        stdin_text.push_str(&serde_json::to_string(key).unwrap_or_default());
        stdin_text.push('\n');
    }
    let started = Instant::now();
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(&trigger.command)
        .env("CTLSTORE_SEQ", seq.to_string())
        .env("CTLSTORE_FAMILY", &family)
        .env("CTLSTORE_TABLE", &table)
        .env("CTLSTORE_TRIGGER", &trigger.name)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if reset {
        command.env("CTLSTORE_BOOTSTRAP", "1");
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!(trigger = %trigger.name, error = %e, "cannot start the trigger's command");
            metrics::counter!("ctlstore_trigger_runs_total", "trigger" => trigger.name.clone(), "result" => "failed").increment(1);
            return false;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes it: that is not a failure.
        let _ = stdin.write_all(stdin_text.as_bytes()).await;
    }
    let output = match child.wait_with_output().await {
        Ok(output) => output,
        Err(e) => {
            tracing::error!(trigger = %trigger.name, error = %e, "the trigger's command could not be waited for");
            return false;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    metrics::histogram!("ctlstore_trigger_seconds", "trigger" => trigger.name.clone())
        .record(seconds);
    let clip = |b: &[u8]| {
        let text = String::from_utf8_lossy(b);
        text.chars().take(2000).collect::<String>()
    };
    let ok = output.status.success();
    metrics::counter!("ctlstore_trigger_runs_total", "trigger" => trigger.name.clone(), "result" => if ok { "ok" } else { "failed" }).increment(1);
    if ok {
        tracing::info!(trigger = %trigger.name, seq, keys = keys.len(), seconds, stdout = %clip(&output.stdout), stderr = %clip(&output.stderr), "trigger ran");
    } else {
        tracing::warn!(trigger = %trigger.name, seq, attempt, status = %output.status, stdout = %clip(&output.stdout), stderr = %clip(&output.stderr), "trigger failed; retrying with backoff");
    }
    ok
}
