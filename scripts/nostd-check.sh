#!/usr/bin/env bash
# Proves pop3-proto is really no_std + alloc: builds it for wasm32-unknown-unknown and
# thumbv7em-none-eabihf (a Cortex-M4F, no OS) with Debian's rustc-web toolchain and
# -Zbuild-std=core,alloc. rustup has no such targets installed here, and none can be
# downloaded, so Debian's packages (which ship the standard library sources) do the job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! [ -x /usr/bin/cargo ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
  echo "nostd-check: installing Debian's rustc-web, cargo-web and rust-web-src"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null
fi

cd "$root/pop3-proto"
for target in wasm32-unknown-unknown thumbv7em-none-eabihf; do
  echo "nostd-check: building pop3-proto for $target (no default features)"
  PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$root/target/nostd" \
    /usr/bin/cargo build --quiet --release --no-default-features \
      -Zbuild-std=core,alloc --target "$target"
done
echo "nostd-check: pop3-proto builds for wasm32-unknown-unknown and thumbv7em-none-eabihf"
