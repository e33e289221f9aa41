//! Reads Kafka topics for the loader: partitions, offsets, fetches, over a pure-Rust client.
