//! `ctlstore loader`, run as the built binary against a real executive, from each source:
//! a file of Debezium events, a private PostgreSQL cluster with logical replication, tansu
//! (a Kafka-protocol broker) and NATS JetStream. Each checks that the host's LDB ends equal to
//! the origin, that source transactions map onto ledger batches as documented, and that
//! nothing is applied twice across restarts, kills and a second loader.

mod file;
mod kafka;
mod nats;
mod postgres;
mod support;
