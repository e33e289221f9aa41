//! The reader's opt-in row cache ([`crate::ReaderBuilder::cache_rows`]): decoded rows of hot
//! keys, by full primary key, kept in memory so a repeated point read costs a hash, an
//! uncontended lock and a deserialization from memory instead of an SQLite query.
//!
//! Freshness: every entry is tagged with the cache's *epoch*. At most once per
//! `max_extra_staleness`, a read first validates: it stats the LDB path (a file renamed over it
//! has a new device/inode) and runs `PRAGMA data_version` on the cache's own connection (which
//! changes whenever another connection — the reflector — committed). Either change bumps the
//! epoch, which invalidates every entry at once without touching them; stale entries are then
//! evicted first. Why these two signals and not `_ldb_seq` or the mtime:
//! docs/decisions/0009-reader-cache.md.
//!
//! The bound: a cached read that begins at time `t` returns the row as the LDB held it at some
//! instant no earlier than `t − max_extra_staleness`. The validation's timestamp is taken *before* it reads the
//! counter, and an entry filled from SQLite carries the epoch read *before* the query, so a
//! fill racing with a change is either newer than the change or invalidated by it.
//!
//! Memory: at most `cache_rows` entries (positive or negative), split over up to 16 shards, each
//! a mutex over a CLOCK ring (second-chance eviction). Threads reading different keys rarely
//! meet on a shard lock; the validation timestamp is one atomic read per call.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::de::{DeError, ValueDe};
use crate::meta::TableMeta;
use crate::pool::{FileId, Pool, file_id};
use crate::{Key, ReaderError, Row};

/// Upper bound on shards: enough that a handful of reading threads rarely share a lock.
const MAX_SHARDS: usize = 16;

/// How a cache behaves, as set on [`crate::ReaderBuilder`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheConfig {
    pub rows: usize,
    pub max_extra_staleness: Duration,
}

/// Counters of a reader's row cache, summed over its shards at the time of the call.
///
/// ```no_run
/// let reader = ctlstore_reader::Reader::builder("/var/spool/ctlstore/ldb.db")
///     .cache_rows(10_000)
///     .build()?;
/// if let Some(stats) = reader.cache_stats() {
///     println!("{} rows cached, {} hits, {} misses", stats.rows, stats.hits, stats.misses);
/// }
/// # Ok::<(), ctlstore_reader::ReaderError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries held now (rows and "no such row"), including ones invalidated but not yet evicted.
    pub rows: usize,
    /// The most entries the cache holds (`cache_rows`).
    pub capacity: usize,
    /// Reads answered from memory.
    pub hits: u64,
    /// Reads that went to SQLite (absent, evicted, or invalidated).
    pub misses: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Times a validation found the LDB changed (or replaced) and invalidated every entry.
    pub invalidations: u64,
}

/// One column value as SQLite stored it, so a cached row deserializes exactly as a row read
/// straight from SQLite does (same storage class, same bytes).
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(Box<[u8]>),
    Blob(Box<[u8]>),
}

impl Cell {
    fn of(v: ValueRef<'_>) -> Cell {
        match v {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Integer(i),
            ValueRef::Real(f) => Cell::Real(f),
            ValueRef::Text(t) => Cell::Text(t.into()),
            ValueRef::Blob(b) => Cell::Blob(b.into()),
        }
    }

    fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Cell::Null => ValueRef::Null,
            Cell::Integer(i) => ValueRef::Integer(*i),
            Cell::Real(f) => ValueRef::Real(*f),
            Cell::Text(t) => ValueRef::Text(t),
            Cell::Blob(b) => ValueRef::Blob(b),
        }
    }
}

struct CachedColumn {
    name: Box<str>,
    /// Declared as bytes: decides how [`crate::Reader::get_row`] types the value.
    byte_column: bool,
    cell: Cell,
}

/// A row as read from SQLite, kept for typed and untyped reads alike.
pub(crate) struct CachedRow {
    /// `family___table`, for the same deserialization error an uncached read gives.
    table: Box<str>,
    columns: Box<[CachedColumn]>,
}

impl CachedRow {
    /// Copies a result row out of SQLite (`names` are the statement's column names).
    pub(crate) fn from_sqlite(
        row: &rusqlite::Row<'_>,
        names: &[String],
        meta: &TableMeta,
    ) -> Result<CachedRow, ReaderError> {
        let columns = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Ok(CachedColumn {
                    name: name.as_str().into(),
                    byte_column: meta.is_byte_column(name),
                    cell: Cell::of(row.get_ref(i)?),
                })
            })
            .collect::<Result<_, ReaderError>>()?;
        Ok(CachedRow {
            table: meta.name.as_str().into(),
            columns,
        })
    }

    /// Deserializes into `T` with the same rules as a read from SQLite (`crate::de`).
    pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, ReaderError> {
        T::deserialize(CachedRowDe(self)).map_err(|e| ReaderError::Deserialize {
            table: self.table.to_string(),
            message: e.to_string(),
        })
    }

    /// The row as a column → value map, typed as `crate::value::row_values` types it.
    pub(crate) fn to_row(&self) -> Row {
        self.columns
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    crate::value::value_of(c.cell.as_value_ref(), c.byte_column),
                )
            })
            .collect()
    }
}

struct CachedRowDe<'a>(&'a CachedRow);

impl<'de> serde::de::Deserializer<'de> for CachedRowDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(CachedRowMap {
            columns: &self.0.columns,
            next: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct CachedRowMap<'a> {
    columns: &'a [CachedColumn],
    next: usize,
}

impl<'de> serde::de::MapAccess<'de> for CachedRowMap<'_> {
    type Error = DeError;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        use serde::de::IntoDeserializer;
        match self.columns.get(self.next) {
            Some(c) => seed
                .deserialize(c.name.as_ref().into_deserializer())
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DeError> {
        let i = self.next;
        self.next += 1;
        match self.columns.get(i) {
            Some(c) => seed.deserialize(ValueDe(c.cell.as_value_ref())),
            None => Err(serde::de::Error::custom(
                "value asked for past the last column",
            )),
        }
    }
}

/// The hash of a cache key: a folded 64×64→128-bit multiply per 8-byte word (a few ns for a
/// typical key, where SipHash costs ~25), from a random per-cache seed, with a final avalanche.
/// The folded multiply carries each input bit both up and down (FxHash's plain multiply only
/// carries bits up, and made keys differing in a name's last letters and a small integer
/// collide). Collisions cost only speed: two keys then share a slot (each read compares the
/// whole key), never a wrong row.
struct KeyHasher(u64);

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        let m = u128::from(self.0 ^ word) * u128::from(0x9e37_79b9_7f4a_7c15u64);
        self.0 = (m as u64) ^ ((m >> 64) as u64) ^ 0x2d35_8dcc_aa6c_78a5;
    }
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        // murmur3's fmix64: every input bit reaches the top bits (shard choice) and the bottom
        // ones (the map's buckets).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(word);
            self.mix(u64::from_le_bytes(buf));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(buf));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.mix(v);
    }

    fn write_u8(&mut self, v: u8) {
        self.mix(u64::from(v));
    }

    fn write_usize(&mut self, v: usize) {
        self.mix(v as u64);
    }

    fn write_i64(&mut self, v: i64) {
        self.mix(v as u64);
    }
}

/// The hasher behind each shard's index: its keys are already [`KeyHasher`] outputs.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct Slot {
    hash: u64,
    family: Box<str>,
    table: Box<str>,
    key: Box<[Key]>,
    epoch: u64,
    /// `None`: the LDB had no such row (negative entries are cached too).
    row: Option<Arc<CachedRow>>,
    /// CLOCK's second-chance bit: set by a hit, cleared as the hand passes.
    referenced: bool,
}

impl Slot {
    fn is(&self, family: &str, table: &str, key: &[Key]) -> bool {
        &*self.family == family && &*self.table == table && &*self.key == key
    }
}

/// What a lookup found: a row, a cached "no such row", or nothing usable.
enum Lookup {
    Row(Arc<CachedRow>),
    NoRow,
    Miss,
}

struct Shard {
    /// Full 64-bit key hash → slot. A different key with the same hash is told apart by
    /// comparing the slot's key, and then simply replaces it.
    index: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    slots: Vec<Slot>,
    hand: usize,
    capacity: usize,
    hits: u64,
    misses: u64,
    evictions: u64,
}

impl Shard {
    fn new(capacity: usize) -> Shard {
        Shard {
            index: HashMap::default(),
            slots: Vec::new(),
            hand: 0,
            capacity,
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    fn lookup(&mut self, hash: u64, family: &str, table: &str, key: &[Key], epoch: u64) -> Lookup {
        let found = self
            .index
            .get(&hash)
            .and_then(|&i| self.slots.get_mut(i))
            .filter(|s| s.epoch == epoch && s.is(family, table, key));
        let Some(slot) = found else {
            self.misses += 1;
            return Lookup::Miss;
        };
        slot.referenced = true;
        self.hits += 1;
        match &slot.row {
            Some(row) => Lookup::Row(row.clone()),
            None => Lookup::NoRow,
        }
    }

    fn insert(&mut self, new: Slot) {
        if let Some(&i) = self.index.get(&new.hash)
            && let Some(slot) = self.slots.get_mut(i)
        {
            *slot = new;
            return;
        }
        if self.slots.len() < self.capacity {
            self.index.insert(new.hash, self.slots.len());
            self.slots.push(new);
            return;
        }
        let Some(i) = self.victim(new.epoch) else {
            return;
        };
        self.index.remove(&self.slots[i].hash);
        self.index.insert(new.hash, i);
        self.slots[i] = new;
        self.evictions += 1;
    }

    /// CLOCK: the first slot, from the hand on, that is invalidated or was not read since the
    /// hand last passed. Ends within two turns (the first clears every bit).
    fn victim(&mut self, epoch: u64) -> Option<usize> {
        let n = self.slots.len();
        for _ in 0..=2 * n {
            let i = self.hand;
            self.hand = (self.hand + 1) % n.max(1);
            let slot = self.slots.get_mut(i)?;
            if slot.referenced && slot.epoch == epoch {
                slot.referenced = false;
                continue;
            }
            return Some(i);
        }
        None
    }
}

/// The cache's own view of the LDB: its identity and `data_version` at the last validation.
struct Validator {
    path: PathBuf,
    conn: Connection,
    file: Option<FileId>,
    data_version: i64,
}

impl Validator {
    fn open(path: &Path) -> Result<Validator, ReaderError> {
        // Identity first: if the file is replaced between the two, the next validation sees
        // an identity different from this one and invalidates (never the reverse).
        let file = file_id(path);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A read can meet a lock only while the reflector restarts the WAL; wait it out rather
        // than fail the read that happens to validate.
        conn.busy_timeout(Duration::from_secs(1))?;
        let data_version = read_data_version(&conn)?;
        Ok(Validator {
            path: path.to_path_buf(),
            conn,
            file,
            data_version,
        })
    }

    /// Whether the LDB changed since the last call: replaced, or written by another connection.
    fn changed(&mut self) -> Result<bool, ReaderError> {
        let file = file_id(&self.path);
        // A missing file (deleted, or between an unlink and a rename) is no evidence of a
        // change: the old file's content is what this host last had.
        if file.is_some() && file != self.file {
            *self = Validator::open(&self.path)?;
            return Ok(true);
        }
        let version = read_data_version(&self.conn)?;
        let changed = version != self.data_version;
        self.data_version = version;
        Ok(changed)
    }
}

/// `PRAGMA data_version`: changes whenever *another* connection commits to the file (the
/// reflector, or any writer), read from the WAL index without touching table pages.
fn read_data_version(conn: &Connection) -> Result<i64, ReaderError> {
    // Cached: preparing the pragma costs more than running it.
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

/// The row cache of one [`crate::Reader`].
pub(crate) struct RowCache {
    shards: Box<[Mutex<Shard>]>,
    capacity: usize,
    /// Seeds [`KeyHasher`], so hashes differ between processes.
    seed: u64,
    /// Bumped when a validation finds the LDB changed; entries of older epochs are invalid.
    epoch: AtomicU64,
    /// Nanoseconds after `base` at which the last validation began.
    validated_at: AtomicU64,
    base: Instant,
    staleness_nanos: u64,
    validator: Mutex<Validator>,
    invalidations: AtomicU64,
}

impl RowCache {
    pub(crate) fn new(path: &Path, config: CacheConfig) -> Result<RowCache, ReaderError> {
        let rows = config.rows.max(1);
        let shard_count = rows.min(MAX_SHARDS);
        // Exactly `rows` slots in all: the first `rows % shards` shards take one more.
        let shards = (0..shard_count)
            .map(|i| {
                let extra = usize::from(i < rows % shard_count);
                Mutex::new(Shard::new(rows / shard_count + extra))
            })
            .collect();
        let base = Instant::now();
        let validator = Validator::open(path)?;
        Ok(RowCache {
            shards,
            capacity: rows,
            seed: RandomState::new().build_hasher().finish(),
            epoch: AtomicU64::new(0),
            // `base` precedes the validator's first `data_version`: a conservative start.
            validated_at: AtomicU64::new(1),
            base,
            staleness_nanos: u64::try_from(config.max_extra_staleness.as_nanos())
                .unwrap_or(u64::MAX),
            validator: Mutex::new(validator),
            invalidations: AtomicU64::new(0),
        })
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    // PERFORMANCE-CRITICAL PATH: a cached point read.
    /// The row of `family.table` at `key`, mapped by `map`, from memory when a valid entry is
    /// there, else from SQLite through `pool` (and then remembered).
    pub(crate) fn get<T>(
        &self,
        pool: &Pool,
        family: &str,
        table: &str,
        key: &[Key],
        map: impl FnOnce(&CachedRow) -> Result<T, ReaderError>,
    ) -> Result<Option<T>, ReaderError> {
        let epoch = self.current_epoch(pool)?;
        let hash = self.hash(family, table, key);
        let shard = self.shard(hash);
        match lock(shard).lookup(hash, family, table, key, epoch) {
            Lookup::Row(row) => return map(&row).map(Some),
            Lookup::NoRow => return Ok(None),
            Lookup::Miss => {}
        }
        // `epoch` was read before this query: if the LDB changes after the query, a validation
        // bumps the epoch and this entry is never served.
        let row = pool
            .with(|c| c.get_cached_row(family, table, key))?
            .map(Arc::new);
        let out = row.as_deref().map(map).transpose();
        lock(shard).insert(Slot {
            hash,
            family: family.into(),
            table: table.into(),
            key: key.into(),
            epoch,
            row,
            referenced: false,
        });
        out
    }

    /// The epoch entries must carry to be served now, after validating the LDB if the last
    /// validation began `max_extra_staleness` ago or more.
    fn current_epoch(&self, pool: &Pool) -> Result<u64, ReaderError> {
        let since = self
            .now_nanos()
            .saturating_sub(self.validated_at.load(Ordering::Acquire));
        if since >= self.staleness_nanos {
            self.validate(pool)?;
        }
        Ok(self.epoch.load(Ordering::Acquire))
    }

    #[cold]
    fn validate(&self, pool: &Pool) -> Result<(), ReaderError> {
        let mut validator = lock(&self.validator);
        // Taken before reading the counter: the LDB held at least what the counter shows at
        // this instant, so reads until `began + staleness` are within the bound.
        let began = self.now_nanos();
        let last = self.validated_at.load(Ordering::Acquire);
        if began.saturating_sub(last) < self.staleness_nanos {
            return Ok(()); // another thread validated while this one waited for the lock
        }
        if validator.changed()? {
            // The pool must leave the old file before any read carries the new epoch, or a
            // miss could refill the cache from a connection still on the replaced file.
            pool.check_file();
            self.epoch.fetch_add(1, Ordering::AcqRel);
            self.invalidations.fetch_add(1, Ordering::Relaxed);
        }
        self.validated_at.store(began, Ordering::Release);
        Ok(())
    }

    fn hash(&self, family: &str, table: &str, key: &[Key]) -> u64 {
        let mut h = KeyHasher(self.seed);
        hash_into(&mut h, family, table, key);
        h.finish()
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        // The top bits choose the shard; the map inside hashes on the whole value.
        let i = ((hash >> 32) as usize) % self.shards.len();
        &self.shards[i]
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            capacity: self.capacity,
            invalidations: self.invalidations.load(Ordering::Relaxed),
            ..CacheStats::default()
        };
        for shard in self.shards.iter() {
            let s = lock(shard);
            stats.rows += s.slots.len();
            stats.hits += s.hits;
            stats.misses += s.misses;
            stats.evictions += s.evictions;
        }
        stats
    }
}

/// Feeds a cache key to `h`: lengths and type tags keep distinct keys distinct inputs.
fn hash_into(h: &mut impl Hasher, family: &str, table: &str, key: &[Key]) {
    h.write(family.as_bytes());
    h.write_u8(0xff);
    h.write(table.as_bytes());
    h.write_u8(0xff);
    for k in key {
        match k {
            Key::Int(i) => {
                h.write_u8(0);
                h.write_i64(*i);
            }
            Key::Text(s) => {
                h.write_u8(1);
                h.write_usize(s.len());
                h.write(s.as_bytes());
            }
            Key::Bytes(b) => {
                h.write_u8(2);
                h.write_usize(b.len());
                h.write(b);
            }
        }
    }
}

/// A poisoned lock only means another reader panicked while holding it; every slot is written
/// whole (one assignment), so the cache stays consistent and usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(hash: u64, n: i64, epoch: u64) -> Slot {
        Slot {
            hash,
            family: "f".into(),
            table: "t".into(),
            key: vec![Key::Int(n)].into(),
            epoch,
            row: None,
            referenced: false,
        }
    }

    #[test]
    fn key_hashes_of_a_million_similar_keys_do_not_collide() {
        let cache_seed = 0x1234_5678_9abc_def0;
        let mut seen = std::collections::HashSet::new();
        for i in 0..1_000_000i64 {
            let key = [Key::Text(format!("flag-{}", i / 10)), Key::Int(i % 10)];
            let mut h = KeyHasher(cache_seed);
            hash_into(&mut h, "bench", "flags", &key);
            assert!(seen.insert(h.finish()), "collision at {i}");
        }
    }

    #[test]
    fn a_full_shard_evicts_and_never_grows() {
        let mut shard = Shard::new(3);
        for n in 0..10 {
            shard.insert(slot(n as u64, n, 0));
            assert!(shard.slots.len() <= 3);
            assert_eq!(shard.index.len(), shard.slots.len());
        }
        assert_eq!(shard.evictions, 7);
        assert!(matches!(
            shard.lookup(9, "f", "t", &[Key::Int(9)], 0),
            Lookup::NoRow
        ));
        assert!(matches!(
            shard.lookup(0, "f", "t", &[Key::Int(0)], 0),
            Lookup::Miss
        ));
    }

    #[test]
    fn clock_spares_recently_read_entries() {
        let mut shard = Shard::new(2);
        shard.insert(slot(1, 1, 0));
        shard.insert(slot(2, 2, 0));
        assert!(matches!(
            shard.lookup(1, "f", "t", &[Key::Int(1)], 0),
            Lookup::NoRow
        ));
        shard.insert(slot(3, 3, 0));
        assert!(
            matches!(shard.lookup(1, "f", "t", &[Key::Int(1)], 0), Lookup::NoRow),
            "the entry read since it was added survives"
        );
        assert!(matches!(
            shard.lookup(2, "f", "t", &[Key::Int(2)], 0),
            Lookup::Miss
        ));
    }

    #[test]
    fn another_epoch_or_key_is_a_miss() {
        let mut shard = Shard::new(4);
        shard.insert(slot(1, 1, 0));
        assert!(matches!(
            shard.lookup(1, "f", "t", &[Key::Int(1)], 1),
            Lookup::Miss
        ));
        // Same hash, different key: told apart, never served for the other.
        assert!(matches!(
            shard.lookup(1, "f", "t", &[Key::Int(2)], 0),
            Lookup::Miss
        ));
        assert!(matches!(
            shard.lookup(1, "f", "u", &[Key::Int(1)], 0),
            Lookup::Miss
        ));
    }
}
