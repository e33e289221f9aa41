//! Debezium events in source order → items with transaction ends. An event ends its
//! transaction when the next event belongs to another one, when it names none, or when the
//! source goes idle: Debezium writes a transaction's events back to back, so a pause means the
//! transaction is complete (docs/loader.md, "Atomicity").

use std::collections::VecDeque;

use crate::change::Item;
use crate::debezium::Decoder;
use crate::position::Mark;

#[derive(Default)]
pub struct DebeziumStream {
    decoder: Decoder,
    ready: VecDeque<Item>,
    /// The newest item, held until the next tells whether it ends its transaction.
    held: Option<(Item, Option<String>)>,
}

impl DebeziumStream {
    /// Adds one message. A message that cannot be decoded is an error naming its mark.
    pub fn push(
        &mut self,
        mark: Mark,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<(), String> {
        let event = self
            .decoder
            .decode(key, value)
            .map_err(|e| format!("{mark}: {e}"))?;
        let Some(event) = event else {
            return Ok(());
        };
        self.push_event(mark, event);
        Ok(())
    }

    pub fn push_json(
        &mut self,
        mark: Mark,
        key: Option<&serde_json::Value>,
        value: &serde_json::Value,
    ) -> Result<(), String> {
        let event = self
            .decoder
            .decode_json(key, value)
            .map_err(|e| format!("{mark}: {e}"))?;
        if let Some(event) = event {
            self.push_event(mark, event);
        }
        Ok(())
    }

    fn push_event(&mut self, mark: Mark, event: crate::debezium::Event) {
        let item = Item {
            change: event.change,
            mark,
            ends_transaction: false,
            committed_at: event.committed_at,
        };
        if let Some((mut previous, txn)) = self.held.take() {
            previous.ends_transaction = txn.is_none() || txn != event.transaction;
            self.ready.push_back(previous);
        }
        self.held = Some((item, event.transaction));
    }

    /// The source has nothing more for now: the held event ends its transaction.
    pub fn idle(&mut self) {
        if let Some((mut item, _)) = self.held.take() {
            item.ends_transaction = true;
            self.ready.push_back(item);
        }
    }

    pub fn pop(&mut self) -> Option<Item> {
        self.ready.pop_front()
    }

    /// Items decoded but not yet taken.
    pub fn pending(&self) -> usize {
        self.ready.len() + usize::from(self.held.is_some())
    }
}
