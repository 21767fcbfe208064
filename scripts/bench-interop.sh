#!/usr/bin/env bash
# The interop benchmark: per real server (Dovecot, Cyrus, Courier, GNU Mailutils, popa3d;
# private instances on loopback from scripts/dovecot.sh and scripts/interop.sh), messages per
# second for BENCH_MESSAGES messages of 3-5 KB over plain TCP with:
#   - pop3-blocking bench_fetch, pipelined (the default window) and stop-and-wait (window 1);
#   - mpop 1.4.18 with pipelining on and off (delivering into a Maildir on tmpfs);
#   - Python's poplib (stop-and-wait, one RETR at a time).
# Every client fetches every message, in the same run, rounds interleaved; the table gives the
# median of BENCH_RUNS runs (default 3). As root:
#
#   scripts/bench-interop.sh
#
# Environment: BENCH_MESSAGES (default 300: stop-and-wait clients pay a round trip per
# message, 40 ms on some servers), BENCH_RUNS (default 3), BENCH_SERVERS (default
# "dovecot cyrus courier mailutils popa3d"). Stops everything it started, by PID.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
readonly ROOT
# shellcheck source=scripts/lib/build.sh
. "$ROOT/scripts/lib/build.sh"
readonly COUNT=${BENCH_MESSAGES:-300}
readonly RUNS=${BENCH_RUNS:-3}
readonly SERVERS=${BENCH_SERVERS:-dovecot cyrus courier mailutils popa3d}
readonly USER_NAME=benchix PASSWORD=benchix-pw

WORK=''
declare -A STATES=()

die() { echo "bench-interop.sh: $*" >&2; exit 1; }

cleanup() {
    local status=$? name
    for name in "${!STATES[@]}"; do
        if [[ $name == dovecot ]]; then
            "$ROOT/scripts/dovecot.sh" stop "${STATES[$name]}" >/dev/null 2>&1 || true
        else
            "$ROOT/scripts/interop.sh" stop "${STATES[$name]}" >/dev/null 2>&1 || true
        fi
    done
    [[ -z $WORK ]] || rm -rf "$WORK" /dev/shm/pop3-bench-interop
    exit "$status"
}

# Messages of 3-5 KB with dot lines, CRLF, deterministic.
generate() {
    python3 - "$1" "$COUNT" <<'PY'
import os, random, sys
folder, count = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1939)
words = "the quick brown fox jumps over a lazy dog while pop3 servers hand out mail".split()
for i in range(count):
    size = rnd.randint(3000, 5000)
    m = f"Subject: interop bench {i}\r\nMessage-ID: <{i}@bench.invalid>\r\n\r\n".encode()
    while len(m) < size:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(4, 12)))
        if rnd.random() < 0.03:
            line = "." + line
        m += line.encode() + b"\r\n"
    with open(os.path.join(folder, f"{i:06d}"), "wb") as f:
        f.write(m)
PY
}

# start NAME: the server running with USER_NAME's mailbox filled; sets PORT[NAME], LOGIN[NAME].
declare -A PORT=() LOGIN=()
start() {
    local name=$1 state
    state=$(mktemp -d /tmp/pop3-bix.XXXXXX)
    chmod 755 "$state" # servers that drop root must reach their folders
    STATES[$name]=$state
    if [[ $name == dovecot ]]; then
        "$ROOT/scripts/dovecot.sh" start "$state" >/dev/null
        "$ROOT/scripts/dovecot.sh" adduser "$state" "$USER_NAME" "$PASSWORD" >/dev/null
        "$ROOT/scripts/dovecot.sh" fill "$state" "$USER_NAME" "$WORK/mail" >/dev/null
        LOGIN[$name]=$USER_NAME
        sleep 1.1 # Dovecot re-reads its passwd-file at most once a second
    else
        "$ROOT/scripts/interop.sh" start "$name" "$state/s" >/dev/null
        STATES[$name]=$state/s
        "$ROOT/scripts/interop.sh" adduser "$state/s" "$USER_NAME" "$PASSWORD" >/dev/null
        "$ROOT/scripts/interop.sh" fill "$state/s" "$USER_NAME" "$WORK/mail" >/dev/null
        LOGIN[$name]=$("$ROOT/scripts/interop.sh" login "$state/s" "$USER_NAME")
    fi
    PORT[$name]=$(sed -n 's/^POP3_PORT=//p' "${STATES[$name]}/env")
}

# One timed run; prints seconds. CLIENT is ours-pipelined, ours-stop, mpop-on, mpop-off, poplib.
run_client() {
    local client=$1 name=$2 port=${PORT[$2]} login=${LOGIN[$2]} t0 t1 md out
    md=/dev/shm/pop3-bench-interop/md
    rm -rf "$md"
    mkdir -p "$md/tmp" "$md/new" "$md/cur"
    t0=$(date +%s%N)
    case $client in
    ours-pipelined) out=$(POP3_PASSWORD=$PASSWORD "$WORK/bench_fetch" 127.0.0.1 "$port" "$login" none) ;;
    ours-stop) out=$(POP3_WINDOW=1 POP3_PASSWORD=$PASSWORD "$WORK/bench_fetch" 127.0.0.1 "$port" "$login" none) ;;
    mpop-on | mpop-off)
        cat >"$WORK/mpoprc" <<EOF
account b
host 127.0.0.1
port $port
user $login
password $PASSWORD
auth user
tls off
pipelining ${client#mpop-}
delivery maildir $md
keep on
only_new off
received_header off
uidls_file $WORK/uidls
EOF
        chmod 600 "$WORK/mpoprc"
        mpop --quiet -C "$WORK/mpoprc" b
        out=$(find "$md/new" -type f | wc -l)
        ;;
    poplib) out=$(python3 - 127.0.0.1 "$port" "$login" "$PASSWORD" <<'PY'
import poplib, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
p = poplib.POP3(host, port)
p.user(user)
p.pass_(password)
count = p.stat()[0]
for n in range(1, count + 1):
    p.retr(n)
p.quit()
print(count)
PY
) ;;
    esac
    t1=$(date +%s%N)
    [[ ${out%% *} == "$COUNT" ]] || die "$client against $name got: $out"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'
}

main() {
    [[ $EUID -eq 0 ]] || die "run as root (the servers are installed and run privately)"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    "$ROOT/scripts/apt-install.sh" mpop python3
    WORK=$(mktemp -d)
    mkdir -p "$WORK/mail" /dev/shm/pop3-bench-interop
    generate "$WORK/mail"
    build_example pop3-blocking bench_fetch "$WORK/bench_fetch"
    local name client run
    for name in $SERVERS; do start "$name"; done

    echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "== $COUNT messages of 3-5 KB per server over plain TCP, messages/s (median of $RUNS runs)"
    local clients=(ours-pipelined ours-stop mpop-on mpop-off poplib)
    printf '%-10s %16s %16s %12s %12s %10s %14s\n' server "pop3 pipelined" "pop3 stop+wait" "mpop pipe" "mpop no-pipe" poplib "pop3 vs mpop"
    for name in $SERVERS; do
        local -A secs=()
        for ((run = 1; run <= RUNS; run++)); do
            for client in "${clients[@]}"; do
                secs[$client]+="$(run_client "$client" "$name" "$COUNT") "
            done
        done
        local medians=()
        for client in "${clients[@]}"; do
            medians+=("$(printf '%s\n' ${secs[$client]} | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')")
        done
        awk -v n="$COUNT" -v name="$name" -v p="${medians[0]}" -v s="${medians[1]}" \
            -v mo="${medians[2]}" -v mf="${medians[3]}" -v py="${medians[4]}" 'BEGIN {
            best_mpop = (mo < mf ? mo : mf)
            printf "%-10s %16.0f %16.0f %12.0f %12.0f %10.0f %13.1fx\n", name, n / p, n / s, n / mo, n / mf, n / py, best_mpop / p }'
        unset secs
    done
    echo "pop3 vs mpop: pop3 pipelined against mpop's faster mode."
}

main "$@"
