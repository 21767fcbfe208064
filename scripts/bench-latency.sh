#!/usr/bin/env bash
# The latency benchmark: 1,000 messages of 3-5 KB from the private Dovecot through a delay
# line on loopback (a small userspace proxy holding every chunk BENCH_DELAY_MS each way, so
# the round trip is twice that; this kernel has no netem), whole-process wall time of:
#   - pop3-blocking bench_fetch with the default configuration;
#   - the same with the old default window of 32 commands (POP3_WINDOW=32), for reference;
#   - mpop 1.4.18, pipelining on, into a Maildir on tmpfs (no fsync cost);
#   - Python's poplib, one RETR at a time.
# Median of BENCH_RUNS runs (default 3), rounds interleaved. As root:
#
#   scripts/bench-latency.sh
#
# Environment: BENCH_MESSAGES (default 1000), BENCH_DELAY_MS (default 10), BENCH_RUNS.
# Stops Dovecot and the proxy it started, by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
readonly ROOT
# shellcheck source=scripts/lib/build.sh
. "$ROOT/scripts/lib/build.sh"
readonly COUNT=${BENCH_MESSAGES:-1000}
readonly DELAY_MS=${BENCH_DELAY_MS:-10}
readonly RUNS=${BENCH_RUNS:-3}
readonly USER_NAME=latency PASSWORD=latency-pw

WORK='' STATE='' PROXY_PID=''

die() { echo "bench-latency.sh: $*" >&2; exit 1; }

cleanup() {
    local status=$?
    [[ -z $PROXY_PID ]] || { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; }
    [[ -z $STATE ]] || { "$ROOT/scripts/dovecot.sh" stop "$STATE" >/dev/null 2>&1 || true; rm -rf "$STATE"; }
    [[ -z $WORK ]] || rm -rf "$WORK" /dev/shm/pop3-bench-latency
    exit "$status"
}

# The delay line: accepts on 127.0.0.1 (the port is printed), forwards to TARGET_PORT, and
# delivers every chunk in each direction DELAY seconds after it arrived, in order.
start_proxy() {
    cat >"$WORK/delay.py" <<'PY'
import asyncio, sys

target_port, delay = int(sys.argv[1]), float(sys.argv[2])

async def line(reader, writer):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def receive():
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(receive(), send(), return_exceptions=True)

async def handle(client_reader, client_writer):
    server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
    await asyncio.gather(line(client_reader, server_writer), line(server_reader, client_writer))

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
PY
    : >"$WORK/proxy.out"
    python3 "$WORK/delay.py" "$1" "$(awk -v ms="$DELAY_MS" 'BEGIN { print ms / 1000 }')" >"$WORK/proxy.out" &
    PROXY_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        PROXY_PORT=$(head -n 1 "$WORK/proxy.out" 2>/dev/null || true)
        [[ -z $PROXY_PORT ]] || return 0
        sleep 0.05
    done
    die "the delay proxy did not start"
}

# One timed run of CLIENT; prints seconds.
run_client() {
    local client=$1 t0 t1 out md=/dev/shm/pop3-bench-latency/md
    rm -rf "$md"
    mkdir -p "$md/tmp" "$md/new" "$md/cur"
    t0=$(date +%s%N)
    case $client in
    ours) out=$(POP3_PASSWORD=$PASSWORD "$WORK/bench_fetch" 127.0.0.1 "$PROXY_PORT" "$USER_NAME" none) ;;
    ours-32) out=$(POP3_WINDOW=32 POP3_PASSWORD=$PASSWORD "$WORK/bench_fetch" 127.0.0.1 "$PROXY_PORT" "$USER_NAME" none) ;;
    mpop)
        mpop --quiet -C "$WORK/mpoprc" l
        out=$(find "$md/new" -type f | wc -l)
        ;;
    poplib) out=$(python3 - "$PROXY_PORT" <<PY
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]))
p.user("$USER_NAME")
p.pass_("$PASSWORD")
count = p.stat()[0]
for n in range(1, count + 1):
    p.retr(n)
p.quit()
print(count)
PY
) ;;
    esac
    t1=$(date +%s%N)
    [[ ${out%% *} == "$COUNT" ]] || die "$client got: $out"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'
}

main() {
    [[ $EUID -eq 0 ]] || die "run as root (scripts/dovecot.sh installs and runs Dovecot)"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    "$ROOT/scripts/apt-install.sh" mpop python3
    WORK=$(mktemp -d)
    chmod 755 "$WORK"
    mkdir -p "$WORK/mail" /dev/shm/pop3-bench-latency
    python3 - "$WORK/mail" "$COUNT" <<'PY'
import os, random, sys
folder, count = sys.argv[1], int(sys.argv[2])
rnd = random.Random(20)
words = "round trips cost more than bytes when every command waits for its reply".split()
for i in range(count):
    size = rnd.randint(3000, 5000)
    m = f"Subject: latency {i}\r\n\r\n".encode()
    while len(m) < size:
        m += " ".join(rnd.choice(words) for _ in range(10)).encode() + b"\r\n"
    open(os.path.join(folder, f"{i:06d}"), "wb").write(m)
PY
    build_example pop3-blocking bench_fetch "$WORK/bench_fetch"
    STATE=$(mktemp -d /tmp/pop3-lat.XXXXXX)
    "$ROOT/scripts/dovecot.sh" start "$STATE" >/dev/null
    "$ROOT/scripts/dovecot.sh" adduser "$STATE" "$USER_NAME" "$PASSWORD" >/dev/null
    "$ROOT/scripts/dovecot.sh" fill "$STATE" "$USER_NAME" "$WORK/mail" >/dev/null
    sleep 1.1 # Dovecot re-reads its passwd-file at most once a second
    start_proxy "$(sed -n 's/^POP3_PORT=//p' "$STATE/env")"
    cat >"$WORK/mpoprc" <<EOF
account l
host 127.0.0.1
port $PROXY_PORT
user $USER_NAME
password $PASSWORD
auth user
tls off
pipelining on
delivery maildir /dev/shm/pop3-bench-latency/md
keep on
only_new off
received_header off
uidls_file $WORK/uidls
EOF
    chmod 600 "$WORK/mpoprc"

    local clients=(ours ours-32 mpop poplib) client run
    local -A secs=()
    for ((run = 1; run <= RUNS; run++)); do
        for client in "${clients[@]}"; do
            secs[$client]+="$(run_client "$client") "
        done
    done
    echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "== $COUNT messages of 3-5 KB from Dovecot through a $((2 * DELAY_MS)) ms round trip (median of $RUNS runs; target: pop3 default <= 0.30 s)"
    printf '%-44s %9s %9s\n' client seconds msg/s
    local -A label=([ours]="pop3-blocking bench_fetch, default config"
        [ours-32]="pop3-blocking, window of 32 commands (old)"
        [mpop]="mpop, pipelining on" [poplib]="python3 poplib")
    for client in "${clients[@]}"; do
        printf '%s\n' ${secs[$client]} | sort -n | awk -v n="$COUNT" -v label="${label[$client]}" \
            '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "%-44s %9.3f %9.0f\n", label, m, n / m }'
    done
}

main "$@"
