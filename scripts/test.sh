#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, docs, the no_std builds, and the test
# suites of every crate. Installs what it needs (Debian packages) and leaves nothing running.
# This is the README's test command, and exactly what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
cargo fmt --manifest-path hosts/wasm/Cargo.toml --check
cargo fmt --manifest-path hosts/cortex-m4/Cargo.toml --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets --quiet -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "pop3-proto without default features (no std)"
cargo build -p pop3-proto --no-default-features --quiet

step "pop3-proto for wasm32 and thumbv7em (really no_std)"
scripts/nostd-check.sh

step "packaging: README and licences in each package, every crate built from its tarball, cargo deny (licenses bans sources), each rust-version built"
scripts/package-check.sh

step "fuzz targets: each for a short fixed time (nightly + cargo-fuzz)"
fuzz/run-ci.sh

step "fuzz target bodies over the checked-in corpus (stable)"
cargo test --manifest-path fuzz/Cargo.toml

step "real POP3 clients for the pop3 serve tests (Debian packages)"
scripts/apt-install.sh mpop fetchmail curl

step "a private Dovecot on loopback for the real-server tests"
state=$(mktemp -d /tmp/pop3-dovecot.XXXXXX)
interop=$(mktemp -d /tmp/pop3-ix.XXXXXX)
chmod 755 "$interop" # servers that drop root (Cyrus, Mailutils) must reach their folders
stop_servers() {
    scripts/dovecot.sh stop "$state" >/dev/null 2>&1 || true
    local dir
    for dir in "$interop"/*/; do
        [[ -d $dir ]] && { scripts/interop.sh stop "$dir" >/dev/null 2>&1 || true; }
    done
    rm -rf "$state" "$interop"
}
trap stop_servers EXIT
scripts/dovecot.sh start "$state" >/dev/null
export POP3_DOVECOT_ENV="$state/env" POP3_REQUIRE_DOVECOT=1

step "pop3-proto in a WASM host (Node.js) and on an emulated Cortex-M4 (QEMU): every transcript"
hosts/run.sh

step "private Cyrus, Courier, GNU Mailutils and popa3d on loopback for the interop matrix"
envs=()
for server in cyrus courier mailutils popa3d; do
    scripts/interop.sh start "$server" "$interop/$server" >/dev/null
    envs+=("$interop/$server/env")
done
POP3_INTEROP_ENVS=$(IFS=:; echo "${envs[*]}")
export POP3_INTEROP_ENVS POP3_REQUIRE_INTEROP=1

step "cargo test (every crate, unit + integration + doc tests)"
cargo test --workspace
