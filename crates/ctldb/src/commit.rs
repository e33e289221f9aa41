//! Group commit: the mutation batches that arrive while a transaction is committing are applied
//! together in the next one, each in its own savepoint, so they share one ledger-lock round and
//! one fsync instead of paying one each. A batch that fails rolls back to its savepoint and gets
//! its own error; the others commit. Order is kept: batches run in arrival order under the
//! ledger lock, so their ledger entries are contiguous and in that order.
//!
//! The committer is a task holding only the pool and the queue's receiver: when the last
//! `Ctldb` handle is dropped the queue closes and the task ends.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use crate::backend::Pool;
use crate::classify::DbResult;
use crate::ddl::LAST_SEQ;
use crate::limits::{WriterOverride, WriterRateLimit};
use crate::{CtldbError, Dialect, begin_ledger_tx, on_pool};

/// Most batches in one transaction.
const MAX_GROUP: usize = 64;

/// A bound parameter, owned, with the SQL type its column needs (PostgreSQL wants typed NULLs).
pub(crate) enum Bound {
    NullInt,
    NullReal,
    NullText,
    NullBytes,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One mutation batch, with every statement built and every value bound.
pub(crate) struct Job {
    pub writer: String,
    pub cookie: Option<Vec<u8>>,
    pub check_cookie: Option<Vec<u8>>,
    pub rate_limit: Option<WriterRateLimit>,
    pub rows: i64,
    pub cookie_sql: Option<String>,
    pub check_writer: bool,
    pub writer_exists: String,
    pub override_sql: String,
    pub usage_upsert: String,
    pub usage_read: String,
    /// The ctldb's copy: statements with their parameters.
    pub statements: Vec<(String, Vec<Bound>)>,
    /// The ledger rows, markers included, and the one insert that appends them.
    pub ledger: Vec<String>,
    pub insert_ledger: String,
}

type Reply = oneshot::Sender<Result<i64, CtldbError>>;

pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<(Job, Reply)>,
    deadline: Duration,
}

impl Committer {
    /// Starts the committer task. `deadline` bounds how long [`Committer::submit`] waits.
    pub fn start(pool: Pool, deadline: Duration) -> Committer {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, jobs));
        Committer { queue, deadline }
    }

    /// Applies `job`; returns the seq of its last ledger entry once it is durable. Gives up
    /// with `Unavailable` after the deadline: a job still queued then is dropped unrun; one
    /// already in a transaction may still commit (the writer's cookie settles which).
    pub async fn submit(&self, job: Job) -> Result<i64, CtldbError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((job, reply))
            .map_err(|_| CtldbError::internal("the group committer has stopped"))?;
        match tokio::time::timeout(self.deadline, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CtldbError::internal(
                "the group committer stopped before answering",
            )),
            Err(_) => Err(CtldbError::timed_out("the commit", self.deadline)),
        }
    }

    /// Completes when the committer task has ended (it only ends by panicking while a `Ctldb`
    /// handle exists): from then on every write fails.
    pub async fn stopped(&self) {
        self.queue.closed().await
    }
}

async fn run(pool: Pool, mut queue: mpsc::UnboundedReceiver<(Job, Reply)>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        // A job whose writer gave up (the deadline passed) was answered already: never run it.
        group.retain(|(_, reply)| !reply.is_closed());
        if group.is_empty() {
            continue;
        }
        let Some(failure) = commit_group(&pool, group).await else {
            continue;
        };
        if failure.is_unavailable() {
            // The jobs that queued meanwhile would wait for the same failure in turn, each
            // group as long as the last: answer them now, so a write during an outage is
            // answered within one connection attempt, not many.
            while let Ok((_, reply)) = queue.try_recv() {
                let _ = reply.send(Err(failure.share()));
            }
        }
    }
}

/// Runs one group, again while the database aborts its transaction (see [`retry_aborted`]);
/// returns the failure that sank the whole group, if one did.
async fn commit_group(pool: &Pool, mut group: Vec<(Job, Reply)>) -> Option<CtldbError> {
    let mut attempt = 1;
    let (outcomes, failure) = loop {
        let (outcomes, failure) = attempt_group(pool, &group).await;
        match failure {
            Some(f) if f.is_aborted() && attempt < ATTEMPTS => {
                aborted_pause(attempt).await;
                attempt += 1;
                // A writer that gave up meanwhile was answered: never run its batch now.
                group.retain(|(_, reply)| !reply.is_closed());
                if group.is_empty() {
                    return None;
                }
            }
            failure => break (outcomes, failure.map(|f| f.after_attempts(attempt))),
        }
    };
    let mut outcomes = outcomes.into_iter();
    for (_, reply) in group {
        let answer = match (outcomes.next(), &failure) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(seq)), None) => Ok(seq),
            (_, Some(failure)) => Err(failure.share()),
            (None, None) => Err(CtldbError::internal("batch not run")),
        };
        let _ = reply.send(answer);
    }
    failure
}

/// How many times a transaction the database aborted (a deadlock, a Galera certification
/// conflict, a serialization failure) is run in all before its writers get the error. Three
/// executives on three Galera nodes writing flat out conflict on the ledger lock most of the
/// time; with 6 attempts about 1 batch in 250 still ran out (tests/ha_galera.rs).
pub(crate) const ATTEMPTS: u32 = 12;

/// Waits before attempt `attempt + 1`: 2 ms doubling per attempt up to 128 ms (4, 8, ... 128,
/// 128, ...; about 1 s in all), each with jitter down to half, so executives that conflicted do
/// not meet again in step. Counted in `ctlstore_ctldb_transaction_retries_total`.
pub(crate) async fn aborted_pause(attempt: u32) {
    metrics::counter!("ctlstore_ctldb_transaction_retries_total").increment(1);
    let ceiling = Duration::from_millis(2u64 << attempt.min(6));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let jitter = ceiling.mul_f64(0.5 * f64::from(nanos % 1000) / 1000.0);
    tokio::time::sleep(ceiling - jitter).await;
}

/// One attempt at a group: the outcome of each batch, and the failure that sank the whole
/// transaction (then nothing of it committed, whatever the outcomes say). A batch the database
/// aborted sinks the attempt: the transaction is gone (MySQL rolls a deadlocked transaction
/// back entirely), so nothing after it may run in it.
async fn attempt_group(
    pool: &Pool,
    group: &[(Job, Reply)],
) -> (Vec<Result<i64, CtldbError>>, Option<CtldbError>) {
    let dialect = pool.dialect();
    let single = group.len() == 1;
    let mut outcomes: Vec<Result<i64, CtldbError>> = Vec::with_capacity(group.len());
    let committed: Result<(), CtldbError> = on_pool!(pool, p => {
        async {
            let mut tx = begin_ledger_tx!(p, dialect);
            for (job, _) in group {
                if !single {
                    sqlx::query("SAVEPOINT ctlstore_batch").execute(&mut *tx).await.db()?;
                }
                let outcome: Result<i64, CtldbError> = async {
                    // Counted after the ledger lock, so two executives cannot both spend the last rows.
                    if let Some(limit) = &job.rate_limit {
                        let per_minute = match limit.writer_override {
                            WriterOverride::Cached(known) => known,
                            WriterOverride::ReadInTransaction => {
                                match sqlx::query(AssertSqlSafe(job.override_sql.as_str())).bind(&job.writer).fetch_optional(&mut *tx).await.db()? {
                                    Some(row) => Some(row.try_get::<i64, _>(0).db()?),
                                    None => None,
                                }
                            }
                        };
                        let allowed = per_minute.map(|m| limit.rows_for(m)).unwrap_or(limit.default_rows);
                        let upsert = sqlx::query(AssertSqlSafe(job.usage_upsert.as_str())).bind(&job.writer).bind(limit.bucket()).bind(job.rows);
                        let used: i64 = if dialect == Dialect::Mysql {
                            upsert.execute(&mut *tx).await.db()?;
                            sqlx::query(AssertSqlSafe(job.usage_read.as_str()))
                                .bind(&job.writer)
                                .bind(limit.bucket())
                                .fetch_one(&mut *tx)
                                .await.db()?
                                .try_get(0).db()?
                        } else {
                            upsert.fetch_one(&mut *tx).await.db()?.try_get(0).db()?
                        };
                        if used > allowed {
                            return Err(CtldbError::RateLimited { allowed, period_seconds: limit.period_seconds });
                        }
                    }
                    if job.check_writer {
                        let count: i64 = sqlx::query(AssertSqlSafe(job.writer_exists.as_str())).bind(&job.writer).fetch_one(&mut *tx).await.db()?.try_get(0).db()?;
                        if count == 0 {
                            return Err(CtldbError::WriterNotFound);
                        }
                    }
                    if let Some(cookie_sql) = &job.cookie_sql {
                        let mut cas = sqlx::query(AssertSqlSafe(cookie_sql.as_str())).bind(job.cookie.as_deref()).bind(&job.writer);
                        if let Some(check) = &job.check_cookie {
                            cas = cas.bind(check.as_slice());
                        }
                        if cas.execute(&mut *tx).await.db()?.rows_affected() == 0 {
                            let count: i64 = sqlx::query(AssertSqlSafe(job.writer_exists.as_str())).bind(&job.writer).fetch_one(&mut *tx).await.db()?.try_get(0).db()?;
                            return Err(if count == 0 { CtldbError::WriterNotFound } else { CtldbError::CookieConflict });
                        }
                    }
                    for (statement, values) in &job.statements {
                        let mut q = sqlx::query(AssertSqlSafe(statement.as_str()));
                        for value in values {
                            q = match value {
                                Bound::NullInt => q.bind(None::<i64>),
                                Bound::NullReal => q.bind(None::<f64>),
                                Bound::NullText => q.bind(None::<String>),
                                Bound::NullBytes => q.bind(None::<Vec<u8>>),
                                Bound::Int(i) => q.bind(*i),
                                Bound::Real(f) => q.bind(*f),
                                Bound::Text(s) => q.bind(s.as_str()),
                                Bound::Bytes(b) => q.bind(b.as_slice()),
                            };
                        }
                        q.execute(&mut *tx).await.db()?;
                    }
                    let mut insert = sqlx::query(AssertSqlSafe(job.insert_ledger.as_str()));
                    for statement in &job.ledger {
                        insert = insert.bind(statement.as_str());
                    }
                    if dialect == Dialect::Mysql {
                        insert.execute(&mut *tx).await.db()?;
                        Ok(sqlx::query(LAST_SEQ).fetch_one(&mut *tx).await.db()?.try_get::<Option<i64>, _>(0).db()?.unwrap_or(0))
                    } else {
                        let mut last = 0;
                        for row in insert.fetch_all(&mut *tx).await.db()? {
                            last = last.max(row.try_get::<i64, _>(0).db()?);
                        }
                        Ok(last)
                    }
                }
                .await;
                let outcome = match outcome {
                    Err(e) if e.is_aborted() => return Err(e),
                    other => other,
                };
                if !single {
                    if outcome.is_err() {
                        // Undo this batch only: its rows, ledger entries, cookie and usage.
                        sqlx::query("ROLLBACK TO SAVEPOINT ctlstore_batch").execute(&mut *tx).await.db()?;
                    }
                    sqlx::query("RELEASE SAVEPOINT ctlstore_batch").execute(&mut *tx).await.db()?;
                }
                let failed = outcome.is_err();
                outcomes.push(outcome);
                if single && failed {
                    // Dropping the transaction rolls it back.
                    return Ok(());
                }
            }
            if outcomes.iter().any(Result::is_ok) {
                // Durable once this commit returns: every successful batch of the group, with
                // its rows, ledger entries, cookie and usage.
                tx.commit().await.db()?;
            }
            Ok(())
        }
        .await
    });
    (outcomes, committed.err())
}
