//! Reads a NATS JetStream stream for the loader, from a given stream sequence.
