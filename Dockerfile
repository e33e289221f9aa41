# syntax=docker/dockerfile:1
# ctlstore's image: both binaries (`ctlstore`, `ctlstore-cli`) on a slim Debian, run as an
# unprivileged user, with the host's LDB directory as a volume.
#
#   docker build -t ctlstore:local .
#   docker run --rm ctlstore:local executive -bind 0.0.0.0:3000 -ctldb 'ctldb:pw@tcp(mysql:3306)/ctldb'
#
# docker-compose.yml runs a whole system from it. crates/ctlstore/tests/packaging.rs checks
# that what this file builds, copies and runs agrees with the workspace (the Rust version, the
# binaries, the entrypoint, the paths).

# The builder: the workspace's rust-version (Cargo.toml). The slim image has gcc and libc6-dev,
# all the C the bundled SQLite, zstd and aws-lc need.
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-slim-trixie AS build
WORKDIR /src
COPY . .
# The registry and target caches make rebuilds incremental; the binaries are copied out of the
# cached target directory, which is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ctlstore -p ctlstore-cli \
    && mkdir -p /out \
    && cp target/release/ctlstore target/release/ctlstore-cli /out/

# The runtime: the binaries, CA certificates (S3 snapshots over TLS) and the sqlite3 tool (for
# looking into an LDB or an SQLite ctldb by hand).
FROM debian:trixie-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates sqlite3 \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so volumes and Kubernetes' runAsUser agree across rebuilds. The directories
# exist (and belong to the user) before the volumes are declared: Docker copies their owner
# into a new named volume, so the unprivileged services can write their LDBs and snapshots.
RUN groupadd --system --gid 10001 ctlstore \
    && useradd --system --uid 10001 --gid ctlstore --home-dir /var/spool/ctlstore \
       --no-create-home --shell /usr/sbin/nologin ctlstore \
    && install -d -o ctlstore -g ctlstore -m 0750 /var/spool/ctlstore /snapshots
COPY --from=build /out/ctlstore /out/ctlstore-cli /usr/local/bin/
USER 10001:10001
WORKDIR /var/spool/ctlstore
# Every host's LDB lives here (the sidecar's and ldb-read-key's default path is
# /var/spool/ctlstore/ldb.db); it must outlive the container.
VOLUME ["/var/spool/ctlstore"]
# executive, sidecar, reflector/supervisor health and metrics
EXPOSE 3000 1331 9090
ENTRYPOINT ["/usr/local/bin/ctlstore"]
CMD ["--help"]
