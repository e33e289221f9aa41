//! A window of recent ledger entries in memory, shared by many followers: the executive keeps
//! one (so a commit costs one ctldb read however many hosts wait on it) and so does a relay (so
//! its followers never reach the executive). Pure data; the owner adds the locking and the
//! wake-ups.

use std::collections::VecDeque;

use crate::LedgerEntry;

/// Every ledger entry with `after < seq <= through`, in seq order, at most `capacity` of them.
/// Seqs missing inside the range are gaps, final by the time a later entry is known (decision
/// 0011), so an entry below `through` never appears later.
#[derive(Debug, Clone)]
pub struct LedgerWindow {
    entries: VecDeque<LedgerEntry>,
    after: i64,
    through: i64,
    capacity: usize,
}

impl LedgerWindow {
    /// An empty window that starts after `seq` (holding nothing until entries are pushed).
    pub fn starting_after(seq: i64, capacity: usize) -> LedgerWindow {
        LedgerWindow {
            entries: VecDeque::new(),
            after: seq,
            through: seq,
            capacity: capacity.max(1),
        }
    }

    /// Adds entries that follow `through` (older or repeated ones are ignored), dropping the
    /// oldest beyond the capacity.
    pub fn push(&mut self, entries: impl IntoIterator<Item = LedgerEntry>) {
        for e in entries {
            if e.seq <= self.through {
                continue;
            }
            self.through = e.seq;
            self.entries.push_back(e);
        }
        while self.entries.len() > self.capacity {
            if let Some(old) = self.entries.pop_front() {
                self.after = old.seq;
            }
        }
    }

    /// Moves the window's end to `seq` without entries (the source says nothing more exists up
    /// to there: its head).
    pub fn advance_to(&mut self, seq: i64) {
        self.through = self.through.max(seq);
    }

    /// Starts over after `seq`, empty (the source pruned past this window).
    pub fn restart_after(&mut self, seq: i64) {
        *self = LedgerWindow::starting_after(seq, self.capacity);
    }

    /// Whether a follower at `after` can be served from here.
    pub fn covers(&self, after: i64) -> bool {
        (self.after..=self.through).contains(&after)
    }

    /// Up to `limit` entries after `after`, if the window covers it; an empty page when
    /// nothing newer is here yet.
    pub fn page(&self, after: i64, limit: usize) -> Option<Vec<LedgerEntry>> {
        if !self.covers(after) {
            return None;
        }
        let start = self.entries.partition_point(|e| e.seq <= after);
        Some(self.entries.range(start..).take(limit).cloned().collect())
    }

    /// The seq the window starts after.
    pub fn after(&self) -> i64 {
        self.after
    }

    /// The last seq the window has reached.
    pub fn through(&self) -> i64 {
        self.through
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64) -> LedgerEntry {
        LedgerEntry {
            seq,
            leader_ts: String::new(),
            statement: format!("s{seq}"),
        }
    }

    fn seqs(page: Option<Vec<LedgerEntry>>) -> Option<Vec<i64>> {
        page.map(|p| p.iter().map(|e| e.seq).collect())
    }

    #[test]
    fn serves_what_it_covers_and_drops_the_oldest() {
        let mut w = LedgerWindow::starting_after(10, 3);
        assert_eq!(seqs(w.page(10, 5)), Some(vec![]));
        assert_eq!(seqs(w.page(9, 5)), None, "before the window");
        w.push([entry(11), entry(13), entry(14)]);
        assert_eq!(seqs(w.page(10, 5)), Some(vec![11, 13, 14]));
        assert_eq!(seqs(w.page(11, 1)), Some(vec![13]));
        assert_eq!(seqs(w.page(12, 5)), Some(vec![13, 14]), "inside a gap");
        assert_eq!(seqs(w.page(15, 5)), None, "past the window's end");
        w.push([entry(13), entry(15)]);
        assert_eq!(w.len(), 3);
        assert_eq!(w.after(), 11);
        assert_eq!(seqs(w.page(10, 5)), None, "dropped");
        assert_eq!(seqs(w.page(11, 5)), Some(vec![13, 14, 15]));
        w.advance_to(20);
        assert_eq!(seqs(w.page(20, 5)), Some(vec![]));
        w.restart_after(100);
        assert!(w.is_empty());
        assert_eq!(seqs(w.page(99, 5)), None);
        assert_eq!(seqs(w.page(100, 5)), Some(vec![]));
    }
}
