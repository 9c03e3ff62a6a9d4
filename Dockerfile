# syntax=docker/dockerfile:1
# Agendamento server image (SPEC-2 §15): a Rust builder stage, then a small Debian runtime
# running as a non-root user, with the four folders as volumes and a HEALTHCHECK that uses
# the binary's own probe (`agendamento saude`: the slim image has no curl or wget).
# Build: docker build -t agendamento .   Run: see README "Docker".

FROM rust:1.95-slim-trixie AS builder
WORKDIR /src
# Manifests first, with stub targets, so the dependency layer is cached across source edits.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src bench tests/api tests/inproc \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > bench/loadgen.rs \
    && touch tests/api/main.rs tests/inproc/main.rs \
    && cargo build --release --locked --bin agendamento \
    && rm -rf src bench tests
COPY . .
# The stubs' build stamps are older than the real sources, so cargo rebuilds the crate.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin agendamento \
    && cp target/release/agendamento /usr/local/bin/agendamento

FROM debian:trixie-slim
# tzdata: the clinic's time zone (jiff reads /usr/share/zoneinfo). ca-certificates: the CA
# roots the webhook client verifies HTTPS receivers with (without them it cannot be built and
# notifications wait).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 agendamento \
    && useradd --system --uid 10001 --gid agendamento --home-dir /var/lib/agendamento \
       --shell /usr/sbin/nologin agendamento \
    && mkdir -p /var/lib/agendamento/banco /var/lib/agendamento/backups \
       /var/lib/agendamento/reports /var/lib/agendamento/logs \
    && chown -R agendamento:agendamento /var/lib/agendamento
COPY --from=builder /usr/local/bin/agendamento /usr/local/bin/agendamento
WORKDIR /var/lib/agendamento
ENV AGENDAMENTO_ADDR=0.0.0.0:8000 \
    AGENDAMENTO_DATA_DIR=/var/lib/agendamento/banco \
    AGENDAMENTO_BACKUP_DIR=/var/lib/agendamento/backups \
    AGENDAMENTO_REPORTS_DIR=/var/lib/agendamento/reports \
    AGENDAMENTO_LOGS_DIR=/var/lib/agendamento/logs
VOLUME ["/var/lib/agendamento/banco", "/var/lib/agendamento/backups", "/var/lib/agendamento/reports", "/var/lib/agendamento/logs"]
EXPOSE 8000
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["agendamento", "saude"]
# SIGTERM drains and flushes (README "Data and durability"); give it time in `docker stop -t`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["agendamento"]
