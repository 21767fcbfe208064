#!/usr/bin/env bash
# Runs pop3-proto in its two no_std hosts and fails on any mismatch:
#
#   WASM       hosts/wasm built for wasm32-unknown-unknown, loaded by Node.js (hosts/wasm/run.mjs):
#              every transcript checked inside WASM at every cut, the plain-command ones
#              driven from JavaScript through the session interface, and the decode speed
#              against the native build (pop3-transcript's decode_speed example).
#   Cortex-M4  hosts/cortex-m4 built for thumbv7em-none-eabihf at opt-level "z", run under
#              QEMU's mps2-an386 board with semihosting: every transcript at every cut, and
#              the heap one session needs (the exit status says pass or fail); then the
#              .text sizes of the core client, the client with procedures, and client +
#              server role, each over a baseline firmware.
#   Real server when POP3_DOVECOT_ENV names a running Dovecot's env file (scripts/dovecot.sh):
#              hosts/wasm/pop3.mjs logs in from JavaScript over implicit TLS and plaintext,
#              and a wrong password must fail.
#
# Installs from Debian what it needs (rustc-web, cargo-web, rust-web-src: a toolchain with
# the standard library's sources for -Zbuild-std; lld-22 for wasm-ld and ld.lld; qemu-system-arm;
# nodejs when node is missing). Starts nothing that outlives it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=$root/target/hosts
packages=(rustc-web cargo-web rust-web-src lld-22 qemu-system-arm)
command -v node >/dev/null || packages+=(nodejs)
"$root/scripts/apt-install.sh" "${packages[@]}"

build() { # DIR TARGET
    (cd "$root/hosts/$1" && PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$target \
        /usr/bin/cargo build --quiet --release --locked -Zbuild-std=core,alloc --target "$2")
}

echo "hosts: building hosts/wasm for wasm32-unknown-unknown"
build wasm wasm32-unknown-unknown
wasm=$target/wasm32-unknown-unknown/release/pop3_wasm_host.wasm
node "$root/hosts/wasm/run.mjs" "$wasm"
cargo run --quiet --release -p pop3-transcript --example decode_speed

echo "hosts: building hosts/cortex-m4 for thumbv7em-none-eabihf (opt-level z)"
build cortex-m4 thumbv7em-none-eabihf
arm=$target/thumbv7em-none-eabihf/release
qemu() {
    timeout 600 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -kernel "$1"
}
qemu "$arm/transcripts" | grep -v '^ok ' # one line per transcript is too many for the log
text_size() { # the size of an ELF file's .text (readelf reads ARM ELF on any machine)
    local hex
    hex=$(readelf -SW "$1" | awk '$2 == ".text" { print $6 } $3 == ".text" { print $7 }' | head -n 1)
    echo $((16#$hex))
}
base=$(text_size "$arm/size-empty")
for bin in size-empty size-core size-client size-server; do
    qemu "$arm/$bin" >/dev/null
done
echo "cortex-m4: .text at opt-level z over a ${base}-byte baseline (runtime, heap, semihosting):"
for bin in size-core size-client size-server; do
    case $bin in
    size-core) what="core client (Client, commands and events)" ;;
    size-client) what="client + procedures (login with every method it may choose, SASL included; batch)" ;;
    size-server) what="client + procedures + server role" ;;
    esac
    awk -v n="$(text_size "$arm/$bin")" -v b="$base" -v w="$what" \
        'BEGIN { printf "  %7d bytes  %5.1f KiB  %s\n", n - b, (n - b) / 1024, w }'
done

if [[ -n ${POP3_DOVECOT_ENV:-} ]]; then
    # shellcheck disable=SC1090
    source "$POP3_DOVECOT_ENV"
    echo "hosts: a real POP3 session from JavaScript (hosts/wasm/pop3.mjs) against Dovecot"
    POP3_PASSWORD=$POP3_PASS node "$root/hosts/wasm/pop3.mjs" --wasm "$wasm" --tls implicit \
        --ca "$POP3_CA" --name "$POP3_TLS_NAME" "$POP3_HOST" "$POP3S_PORT" "$POP3_USER"
    POP3_PASSWORD=$POP3_PASS node "$root/hosts/wasm/pop3.mjs" --wasm "$wasm" --insecure \
        "$POP3_HOST" "$POP3_PORT" "$POP3_USER" 2>/dev/null
    if POP3_PASSWORD=wrong-$POP3_PASS node "$root/hosts/wasm/pop3.mjs" --wasm "$wasm" \
        --insecure "$POP3_HOST" "$POP3_PORT" "$POP3_USER" 2>/dev/null; then
        echo "hosts: pop3.mjs logged in with a wrong password" >&2
        exit 1
    fi
    if POP3_PASSWORD=$POP3_PASS node "$root/hosts/wasm/pop3.mjs" --wasm "$wasm" \
        "$POP3_HOST" "$POP3_PORT" "$POP3_USER" 2>/dev/null; then
        echo "hosts: pop3.mjs sent a password without TLS unasked" >&2
        exit 1
    fi
fi
echo "hosts: WASM and Cortex-M4 hosts pass"
