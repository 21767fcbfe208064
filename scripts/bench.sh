#!/usr/bin/env bash
# Driver benchmarks against a private Dovecot on loopback, and the scale benchmark against
# minipop. One command, as root:
#
#   scripts/bench.sh
#
# Sections (BENCHMARKS.md records a run):
#   (a) 10,000 messages of 3-5 KB over plain TCP: pop3-blocking bench_fetch and pop3-tokio
#       bench_fetch_tokio, Python poplib, curl (one process, one connection), and the raw
#       ceiling (nc writing every RETR at once and draining to /dev/null). Target: ours >= 35,000 messages/s.
#   (b) one 1 GiB message to /dev/null: ours, raw nc, curl, poplib; MB/s and peak RSS.
#       Target: ours >= 0.95x raw, peak RSS < 16 MB.
#   (c) (a) and (b) over implicit TLS: ours, curl, poplib, and openssl s_client as the raw one.
#   (d) 1,000 concurrent pop3-tokio sessions on one current-thread runtime against minipop:
#       messages/s and client RSS per session (target < 64 KiB), at the default read_size and
#       at 16 KiB.
#   (e) pop3 serve against Dovecot, the same client against both, pop3 serve serving Dovecot's
#       own Maildirs: (a)'s mailbox and (b)'s message with pop3-blocking bench_fetch, and
#       BENCH_SESSIONS concurrent bench_scale sessions (one user each, 10 messages) held open
#       while the servers' memory is read. Every user has the same Argon2id hash on both.
#       Server CPU is its whole process tree's (Dovecot runs a process per session); memory is
#       PSS, so pages Dovecot's processes share count once.
#   (f) pop3 fetch against mpop (its own Maildir delivery), fetchmail (delivering through
#       safecat, a process per message) and getmail6 (its Maildir destination): (a)'s mailbox
#       from Dovecot into a fresh Maildir, every message synced to disk; fetchmail and getmail
#       run once (they are slow). And (b)'s 1 GiB message with pop3 fetch: time and peak RSS.
#       (f) runs before (e), which turns Dovecot's passwords into Argon2 hashes. The Maildirs
#       go under BENCH_MAILDIRS (default target/bench-maildirs in the checkout), then under
#       /dev/shm (tmpfs: what is left when syncing is free); each table says what creating
#       and syncing a file costs there.
# Every time is the whole process's wall time, the median of BENCH_RUNS runs (default 3),
# rounds interleaved across clients so a drift in machine load hits them all alike; peak RSS
# is the highest of those runs (GNU time's %M). In the tables, "vs raw" is a client's speed as a
# share of the raw ceiling's, and "blk gain"/"tok gain" how many times faster pop3-blocking and
# pop3-tokio are than that client.
#
# Environment: BENCH_RUNS (default 3); BENCH_SECTIONS (default "a b c d e f"); BENCH_SESSIONS
# (default 1000); BENCH_MESSAGES and BENCH_BIG_MIB (default 10000 and 1024: smaller for a
# quick trial of the script itself). Needs ~3 GiB free under /tmp for the big message in (b)
# and (c), and ~3 GiB of memory for poplib on it (each skipped with a note if short). Takes
# ~15 minutes (Dovecot's delivery of the 10,000 messages alone ~80 s). Installs curl,
# netcat-openbsd, time and openssl from Debian when missing. Everything it starts (Dovecot,
# minipop) listens on 127.0.0.1 only and is stopped by PID on exit, and the scratch folders go.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
readonly ROOT
readonly RUNS=${BENCH_RUNS:-3}
readonly SECTIONS=${BENCH_SECTIONS:-a b c d e f}
readonly SESSIONS=${BENCH_SESSIONS:-1000}
readonly SMALL_COUNT=${BENCH_MESSAGES:-10000}
readonly BIG_MIB=${BENCH_BIG_MIB:-1024}
readonly BIG_BYTES=$((BIG_MIB * 1024 * 1024))
readonly SMALL_USER=small SMALL_PASS=small-pw
readonly BIG_USER=big BIG_PASS=big-pw
readonly HOST=127.0.0.1

WORK=''           # scratch: generated mail, command files, build outputs
STATE=''          # Dovecot's state dir (its maildirs hold a copy of every message)
MINIPOP_PID=''
BIG_FILLED=''
MAILDIRS=''       # section (f)'s Maildirs

# Insertion sort of a[1..k] by value, for medians (Debian's awk is mawk: no asort).
readonly AWK_ISORT='
    function isort(a, k,   i, j, v) {
        for (i = 2; i <= k; i++) { v = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > v; j--) a[j + 1] = a[j]; a[j + 1] = v }
    }'

die() { echo "bench.sh: $*" >&2; exit 1; }
note() { echo "bench.sh: $*" >&2; }
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

cleanup() {
    local status=$?
    stop_minipop
    stop_serve
    if [[ -n $STATE ]]; then
        "$ROOT/scripts/dovecot.sh" stop "$STATE" >/dev/null 2>&1 || true
        rm -rf "$STATE"
    fi
    [[ -z $WORK ]] || rm -rf "$WORK"
    [[ -z $MAILDIRS ]] || rm -rf "$MAILDIRS"
    exit "$status"
}

stop_minipop() {
    if [[ -n $MINIPOP_PID ]]; then
        kill "$MINIPOP_PID" 2>/dev/null || true
        wait "$MINIPOP_PID" 2>/dev/null || true
        MINIPOP_PID=''
    fi
}

# ----- setup ---------------------------------------------------------------------------------

install_tools() {
    local missing=() pair
    # command:package
    for pair in curl:curl nc:netcat-openbsd openssl:openssl python3:python3; do
        command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
    done
    [[ -x /usr/bin/time ]] || missing+=(time)
    ((${#missing[@]})) || return 0
    note "installing ${missing[*]}"
    apt-get -q -o DPkg::Lock::Timeout=300 update >&2
    DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 \
        --no-install-recommends install "${missing[@]}" >&2
}

# The 1 GiB message exists three times at most: the generated file (deleted after the fill),
# Dovecot's copy, and page cache.
big_fits() {
    local avail
    avail=$(df --output=avail -B1 "$WORK" | tail -n 1)
    ((avail > 3 * BIG_BYTES))
}

machine() {
    echo "== machine"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')   nproc: $(nproc)   $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "kernel: $(uname -r)   memory: $(free -m | awk '/^Mem:/ {print $2 " MiB total, " $7 " MiB available"}')"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc: $(rustc --version)   dovecot: $(dovecot --version 2>/dev/null || echo '?')"
    echo "curl: $(curl --version | head -n 1 | cut -d' ' -f1-2)   python: $(python3 --version 2>&1)   $(openssl version)"
}

# Python helpers: generating the mail, and the poplib client. Deterministic (fixed seeds).
write_helpers() {
    cat >"$WORK/helpers.py" <<'EOF'
import poplib, random, ssl, sys

WORDS = ("the quick brown fox jumps over a lazy dog while seven pop3 servers hand out "
         "mail in dot stuffed lines to every client that asks nicely").split()

def lines(rnd):
    """Endless CRLF text lines of 20-76 bytes, about 3% starting with a dot."""
    while True:
        words, length, limit = [], 0, rnd.randint(18, 74)
        while length < limit:
            w = rnd.choice(WORDS)
            words.append(w)
            length += len(w) + 1
        line = " ".join(words)[:74]
        if rnd.random() < 0.03:
            line = "." + line[1:] if rnd.random() < 0.8 else "."
        yield line.encode() + b"\r\n"

def gen_small(folder, count):
    rnd = random.Random(1939)
    total = 0
    for i in range(1, count + 1):
        size = rnd.randint(3000, 5000)
        msg = bytearray(f"From: Bench <sender{i % 97}@example.com>\r\nTo: small@localhost\r\n"
                        f"Subject: bench message {i}\r\nMessage-ID: <{i}@bench.invalid>\r\n\r\n"
                        .encode())
        for line in lines(rnd):
            if len(msg) + len(line) > size:
                break
            msg += line
        with open(f"{folder}/{i:05d}.eml", "wb") as f:
            f.write(msg)
        total += len(msg)
    print(total)

def gen_big(path, size):
    rnd = random.Random(2449)
    head = b"From: Bench <big@example.com>\r\nSubject: one big message\r\n\r\n"
    block = bytearray()
    for line in lines(rnd):
        if len(block) + len(line) > 1 << 20:
            break
        block += line
    with open(path, "wb") as f:
        f.write(head)
        left = size - len(head)
        while left >= len(block):
            f.write(block)
            left -= len(block)
        # The rest: whole lines of the block, then one line padding to the exact size.
        cut = block.rfind(b"\r\n", 0, max(left - 3, 0)) + 2 if left > 3 else 0
        f.write(block[:cut])
        f.write(b"x" * (left - cut - 2) + b"\r\n")

def pop(host, port, user, password, ca=None):
    """Python's poplib as an application would use it: one connection, RETR each message."""
    if ca:
        context = ssl.create_default_context(cafile=ca)
        p = poplib.POP3_SSL(host, int(port), context=context)
    else:
        p = poplib.POP3(host, int(port))
    p.user(user)
    p.pass_(password)
    count, _ = p.stat()
    octets = 0
    for n in range(1, count + 1):
        octets += p.retr(n)[2]
    p.quit()
    print(count, octets)

def tree(root):
    """CPU seconds and PSS (KiB) of a process and all its descendants, and how many there are.
    CPU includes what each has reaped from its children, so sessions that ended count too."""
    import os
    procs = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat = open(f"/proc/{p}/stat").read()
        except OSError:
            continue
        procs[int(p)] = stat[stat.rindex(")") + 2:].split()
    kids = {}
    for pid, f in procs.items():
        kids.setdefault(int(f[1]), []).append(pid)
    todo, ticks, pss, n = [int(root)], 0, 0, 0
    while todo:
        pid = todo.pop()
        if pid not in procs:
            continue
        n += 1
        ticks += sum(int(x) for x in procs[pid][11:15])
        try:
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
        todo += kids.get(pid, [])
    print(f"{ticks / os.sysconf('SC_CLK_TCK'):.2f} {pss} {n}")

if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"gen-small": lambda f, c: gen_small(f, int(c)),
     "gen-big": lambda p, s: gen_big(p, int(s)),
     "poplib": pop,
     "tree": tree}[cmd](*args)
EOF
}

# build_example PACKAGE EXAMPLE DEST [--bin]
# shellcheck source=scripts/lib/build.sh
. "$ROOT/scripts/lib/build.sh"

build() {
    note "building the release examples"
    mkdir -p "$WORK/bin"
    build_example pop3-blocking bench_fetch "$WORK/bin/blocking_fetch"
    build_example pop3-tokio bench_fetch_tokio "$WORK/bin/tokio_fetch"
    build_example pop3-tokio minipop "$WORK/bin/minipop"
    build_example pop3-tokio bench_scale "$WORK/bin/bench_scale"
    build_example pop3-cli pop3 "$WORK/bin/pop3" --bin
}

start_dovecot() {
    STATE=$(mktemp -d)
    "$ROOT/scripts/dovecot.sh" start "$STATE" >/dev/null
    # shellcheck disable=SC1091
    source "$STATE/env"
}

fill_small() {
    "$ROOT/scripts/dovecot.sh" adduser "$STATE" "$SMALL_USER" "$SMALL_PASS"
    mkdir "$WORK/small"
    SMALL_BYTES=$(python3 "$WORK/helpers.py" gen-small "$WORK/small" "$SMALL_COUNT")
    note "filling $SMALL_COUNT messages (~80 s: Dovecot delivery is one file at a time)"
    "$ROOT/scripts/dovecot.sh" fill "$STATE" "$SMALL_USER" "$WORK/small" >/dev/null
    rm -rf "$WORK/small"
}

fill_big() {
    "$ROOT/scripts/dovecot.sh" adduser "$STATE" "$BIG_USER" "$BIG_PASS"
    python3 "$WORK/helpers.py" gen-big "$WORK/big.eml" "$BIG_BYTES"
    "$ROOT/scripts/dovecot.sh" fill "$STATE" "$BIG_USER" "$WORK/big.eml" >/dev/null
    rm -f "$WORK/big.eml"
}

# The raw client: every command written at once, QUIT last so the server closes and the client
# ends; a wrapper script, so GNU time measures the client itself (sh execs it).
write_raw_client() {
    local user=$1 pass=$2 count=$3 port=$4 ca=$5 script=$6 i
    {
        printf 'USER %s\r\nPASS %s\r\n' "$user" "$pass"
        for ((i = 1; i <= count; i++)); do printf 'RETR %d\r\n' "$i"; done
        printf 'QUIT\r\n'
    } >"$script.in"
    if [[ -z $ca ]]; then
        printf '#!/bin/sh\nexec nc %s %s <%s\n' "$HOST" "$port" "$script.in" >"$script"
    else
        # -quiet implies -ign_eof: s_client keeps reading after its input ends, until QUIT.
        printf '#!/bin/sh\nexec openssl s_client -quiet -verify_return_error -CAfile %s -connect %s:%s <%s 2>/dev/null\n' \
            "$ca" "$HOST" "$port" "$script.in" >"$script"
    fi
    chmod 755 "$script"
}

# curl config: every message of one mailbox in one process (curl reuses the connection), and
# per transfer "connects exitcode" on stdout, so check can tell it was one connection.
write_curl_config() {
    local user=$1 pass=$2 count=$3 scheme=$4 port=$5 ca=$6 file=$7 i
    {
        printf 'silent\nuser = "%s:%s"\nwrite-out = "%%{num_connects} %%{exitcode}\\n"\n' "$user" "$pass"
        [[ -z $ca ]] || printf 'cacert = "%s"\n' "$ca"
        for ((i = 1; i <= count; i++)); do
            printf 'url = "%s://%s:%s/%d"\noutput = "/dev/null"\n' "$scheme" "$HOST" "$port" "$i"
        done
    } >"$file"
}

# ----- measuring -----------------------------------------------------------------------------

# measure OUT CMD...: runs CMD once, stdout to OUT. Sets M_SECS (wall time from fork to exit,
# in seconds) and M_RSS (peak RSS in KiB).
# measure OUT CMD...: runs CMD with stdout to OUT. Sets M_SECS (wall), M_RSS (peak KiB),
# M_CPU (the client's user + system seconds) and, while Dovecot runs, M_SERVER_CPU (the CPU
# seconds its whole process tree spent meanwhile, sessions that ended included).
measure() {
    local out=$1 t0 t1 before=''
    shift
    [[ -n ${POP3_PID:-} ]] && before=$(tree_stat "$POP3_PID")
    t0=$(date +%s%N)
    if ! /usr/bin/time -f '%M %U %S' -o "$WORK/time.txt" "$@" >"$out" 2>"$WORK/stderr.txt"; then
        note "failed: $*"
        cat "$WORK/stderr.txt" "$WORK/time.txt" >&2
        return 1
    fi
    t1=$(date +%s%N)
    M_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    read -r M_RSS M_CPU < <(tail -n 1 "$WORK/time.txt" | awk '{ print $1, $2 + $3 }')
    M_SERVER_CPU=-
    if [[ -n $before ]]; then
        # The session's process counts once the master has reaped it: wait for that (1 s at most).
        local after i
        for ((i = 0; i < 50; i++)); do
            after=$(tree_stat "$POP3_PID")
            [[ ${after##* } -le ${before##* } ]] && break
            sleep 0.02
        done
        M_SERVER_CPU=$(awk -v a="${before%% *}" -v b="${after%% *}" 'BEGIN { printf "%.2f", b - a }')
    fi
}

# check KIND COUNT OUT: did the client get every message? (ours and poplib print the count
# first; curl prints "connects exitcode" per transfer; raw output went to /dev/null and was
# checked by verify_raw.)
check() {
    local kind=$1 count=$2 out=$3
    case $kind in
    ours | poplib) [[ $(awk '{print $1; exit}' "$out") == "$count" ]] ;;
    curl) awk -v n="$count" '{ c += $1; if ($2 != 0) bad = 1 } END { exit !(NR == n && c == 1 && !bad) }' "$out" ;;
    raw) true ;;
    esac || {
        note "$kind did not fetch $count messages; its output:"
        head -n 5 "$out" >&2
        return 1
    }
}

# verify_raw COUNT CMD...: one untimed run through a counter; the timed runs write to /dev/null.
verify_raw() {
    local count=$1 got
    shift
    got=$("$@" | grep -a -c '^+OK [0-9]* octets') || true
    [[ $got == "$count" ]] || die "raw client got $got of $count RETR replies: $*"
}

# run_section TITLE MESSAGES BYTES SPEC...: each SPEC is "key|label|kind|command words".
# Prints a table: median wall time, messages/s, MB/s, peak RSS, the share of the raw ceiling,
# how many times faster each of ours is, and the median CPU seconds (user + system) the client
# and Dovecot's whole process tree spent per run: where a client is slower than the raw one
# with the same server, they say which side was busy.
run_section() {
    local title=$1 count=$2 bytes=$3 spec key label kind cmd run out
    shift 3
    local -a keys=() argv
    local -A labels=() kinds=() cmds=() secs=() rss=() cpu=() server=()
    for spec in "$@"; do
        IFS='|' read -r key label kind cmd <<<"$spec"
        keys+=("$key")
        labels[$key]=$label kinds[$key]=$kind cmds[$key]=$cmd
        if [[ $kind == raw ]]; then
            read -r -a argv <<<"$cmd"
            verify_raw "$count" "${argv[@]}"
        fi
    done
    for ((run = 1; run <= RUNS; run++)); do
        for key in "${keys[@]}"; do
            read -r -a argv <<<"${cmds[$key]}"
            out=$WORK/out.txt
            [[ ${kinds[$key]} == raw ]] && out=/dev/null
            measure "$out" "${argv[@]}"
            check "${kinds[$key]}" "$count" "$out"
            secs[$key]+="$M_SECS "
            rss[$key]+="$M_RSS "
            cpu[$key]+="$M_CPU "
            server[$key]+="$M_SERVER_CPU "
        done
    done
    echo
    echo "== $title"
    {
        for key in "${keys[@]}"; do
            printf '%s|%s|%s|%s|%s|%s\n' "$key" "${labels[$key]}" "${secs[$key]}" "${rss[$key]}" \
                "${cpu[$key]}" "${server[$key]}"
        done
    } | awk -F'|' -v n="$count" -v bytes="$bytes" "$AWK_ISORT"'
        function median(s,   a, k) { k = split(s, a, " "); isort(a, k); return a[int((k + 1) / 2)] }
        function maximum(s,   a, k, i, m) { k = split(s, a, " "); m = 0
            for (i = 1; i <= k; i++) if (a[i] + 0 > m) m = a[i] + 0; return m }
        { key[NR] = $1; label[NR] = $2; t[NR] = median($3); r[NR] = maximum($4); runs = split($3, x, " ")
          c[NR] = median($5); sv[NR] = ($6 ~ /-/) ? "-" : sprintf("%.2f", median($6))
          if ($1 == "raw") raw = t[NR]; if ($1 == "blocking") ob = t[NR]; if ($1 == "tokio") ot = t[NR] }
        END {
            printf "%-34s %9s %9s %9s %10s %7s %9s %9s %8s %8s\n", "client (median of " runs ")", "seconds",
                "msg/s", "MB/s", "peak RSS", "vs raw", "blk gain", "tok gain", "cli CPU", "srv CPU"
            for (i = 1; i <= NR; i++) {
                printf "%-34s %9.3f %9s %9.1f %7.1f MB %7s %9s %9s %8.2f %8s\n", label[i], t[i],
                    (n / t[i] >= 100 ? sprintf("%.0f", n / t[i]) : sprintf("%.2f", n / t[i])),
                    bytes / t[i] / 1e6, r[i] * 1024 / 1e6,
                    raw ? sprintf("%.2f", raw / t[i]) : "-",
                    ob ? sprintf("%.2fx", t[i] / ob) : "-", ot ? sprintf("%.2fx", t[i] / ot) : "-",
                    c[i], sv[i]
            }
        }'
}

# SPECS for one workload: USER PASS COUNT PORT [CA] (a CA file means implicit TLS).
specs_for() {
    local user=$1 pass=$2 count=$3 port=$4 ca=${5:-}
    local tag=$user${ca:+-tls} ours_mode=none scheme=pop3 raw_label="raw: nc, all RETRs at once"
    if [[ -n $ca ]]; then
        ours_mode="implicit $ca" scheme=pop3s raw_label="raw: openssl s_client, all at once"
    fi
    write_raw_client "$user" "$pass" "$count" "$port" "$ca" "$WORK/raw-$tag"
    write_curl_config "$user" "$pass" "$count" "$scheme" "$port" "$ca" "$WORK/curl-$tag"
    SPECS=(
        "blocking|pop3-blocking bench_fetch|ours|env POP3_PASSWORD=$pass $WORK/bin/blocking_fetch $HOST $port $user $ours_mode"
        "tokio|pop3-tokio bench_fetch_tokio|ours|env POP3_PASSWORD=$pass $WORK/bin/tokio_fetch $HOST $port $user $ours_mode"
        "poplib|python3 poplib|poplib|python3 $WORK/helpers.py poplib $HOST $port $user $pass $ca"
        "curl|curl (1 process, 1 conn)|curl|curl -K $WORK/curl-$tag"
        "raw|$raw_label|raw|$WORK/raw-$tag"
    )
    # poplib holds a whole message in memory as a list of lines (~1.4 GB for 1 GiB).
    if ((count == 1)) && ! poplib_fits; then
        note "less than 3 GiB of memory available: poplib skipped for the big message"
        unset 'SPECS[2]'
        SPECS=("${SPECS[@]}")
    fi
}

poplib_fits() {
    local avail_kib
    avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    ((avail_kib > 3 * BIG_BYTES / 1024))
}

# ----- the scale benchmark -------------------------------------------------------------------

# Each session is a socket in bench_scale and another in minipop: lift the soft limit on open
# files to the hard one (for this script and what it starts) and check it suffices.
raise_nofile() {
    local hard
    hard=$(ulimit -Hn)
    [[ $hard != unlimited ]] || hard=1048576
    ulimit -n "$hard" 2>/dev/null || true
    (($(ulimit -n) >= SESSIONS + 64)) ||
        die "ulimit -n is $(ulimit -n): too low for $SESSIONS sessions (BENCH_SESSIONS)"
}

start_minipop() {
    local out=$WORK/minipop.out i
    "$WORK/bin/minipop" 0 >"$out" 2>"$WORK/minipop.err" &
    MINIPOP_PID=$!
    for ((i = 0; i < 100; i++)); do
        MINIPOP_PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
        [[ -z $MINIPOP_PORT ]] || return 0
        kill -0 "$MINIPOP_PID" 2>/dev/null || die "minipop died: $(cat "$WORK/minipop.err")"
        sleep 0.05
    done
    die "minipop did not report its port"
}

# One bench_scale run per read size, RUNS times; medians of messages/s and KiB per session.
scale_section() {
    raise_nofile
    start_minipop
    echo
    echo "== (d) $SESSIONS concurrent pop3-tokio sessions on one current-thread runtime, minipop on 127.0.0.1:$MINIPOP_PORT"
    printf '%-22s %12s %14s %16s %16s\n' "read_size" "msg/s" "fetch msg/s" "KiB/session" "KiB/session"
    printf '%-22s %12s %14s %16s %16s\n' "(median of $RUNS)" "(overall)" "(fetch phase)" "(peak)" "(all logged in)"
    local size label run line
    for size in default 16384; do
        local results=()
        for ((run = 1; run <= RUNS; run++)); do
            if [[ $size == default ]]; then
                line=$("$WORK/bin/bench_scale" "$HOST" "$MINIPOP_PORT" "$SESSIONS")
            else
                line=$(POP3_READ_SIZE=$size "$WORK/bin/bench_scale" "$HOST" "$MINIPOP_PORT" "$SESSIONS")
            fi
            [[ $line == *" failures=0" ]] || die "bench_scale: $line"
            results+=("$line")
        done
        label=$size
        if [[ $size == default && ${results[0]} =~ read_size=([0-9]+) ]]; then
            label="default (${BASH_REMATCH[1]})"
        fi
        printf '%s\n' "${results[@]}" | awk -v label="$label" "$AWK_ISORT"'
            function field(line, name,   a, i, k) { k = split(line, a, /[ =]/)
                for (i = 1; i < k; i++) if (a[i] == name) return a[i + 1] }
            function median(v, k) { isort(v, k); return v[int((k + 1) / 2)] }
            { m[NR] = field($0, "messages_per_s"); f[NR] = field($0, "fetch_messages_per_s")
              p[NR] = field($0, "peak_kib_per_session"); c[NR] = field($0, "connected_kib_per_session") }
            END { printf "%-22s %12.0f %14.0f %16.1f %16.1f\n", label, median(m, NR), median(f, NR),
                      median(p, NR), median(c, NR) }'
    done
    echo "target: < 64 KiB of client memory per session"
    stop_minipop
}

# ----- the server benchmark: pop3 serve against Dovecot --------------------------------------

readonly SCALE_PASS=scale-pw SCALE_MESSAGES=10
SERVE_PID=''

stop_serve() {
    if [[ -n $SERVE_PID ]]; then
        kill "$SERVE_PID" 2>/dev/null || true
        wait "$SERVE_PID" 2>/dev/null || true
        SERVE_PID=''
    fi
}

# SESSIONS users scale0.. with SCALE_MESSAGES messages each, in Dovecot.
fill_scale() {
    local i md hash
    note "adding $SESSIONS users of $SCALE_MESSAGES messages each"
    for ((i = 0; i < SESSIONS; i++)); do
        "$ROOT/scripts/dovecot.sh" adduser "$STATE" "scale$i" "$SCALE_PASS"
    done
    mkdir "$WORK/scale"
    python3 "$WORK/helpers.py" gen-small "$WORK/scale" "$SCALE_MESSAGES" >/dev/null
    "$ROOT/scripts/dovecot.sh" fill "$STATE" scale0 "$WORK/scale" >/dev/null
    rm -rf "$WORK/scale"
    md=$POP3_MAILDIR_ROOT/scale0/Maildir/cur
    for ((i = 1; i < SESSIONS; i++)); do
        cp -a "$md/." "$POP3_MAILDIR_ROOT/scale$i/Maildir/cur/"
    done
}

# From here on both servers check the same Argon2id hash for each user: Dovecot's users file
# gets the very PHC strings pop3 serve's has.
argon2_everywhere() {
    SMALL_HASH=$(POP3_PASSWORD=$SMALL_PASS "$WORK/bin/pop3" hash-password)
    BIG_HASH=$(POP3_PASSWORD=$BIG_PASS "$WORK/bin/pop3" hash-password)
    SCALE_HASH=$(POP3_PASSWORD=$SCALE_PASS "$WORK/bin/pop3" hash-password)
    SMALL_HASH=$SMALL_HASH BIG_HASH=$BIG_HASH SCALE_HASH=$SCALE_HASH python3 - "$STATE/users" <<'PY'
import os, sys
path = sys.argv[1]
def hashed(line):
    name, rest = line.split(":", 1)
    key = "SCALE_HASH" if name.startswith("scale") else {"small": "SMALL_HASH", "big": "BIG_HASH"}.get(name)
    if key is None:
        return line
    return name + ":{ARGON2ID}" + os.environ[key] + ":" + rest.split(":", 1)[1]
lines = [hashed(l) for l in open(path)]
st = os.stat(path)
with open(path + ".tmp", "w") as f:
    f.writelines(lines)
os.chown(path + ".tmp", st.st_uid, st.st_gid)
os.chmod(path + ".tmp", st.st_mode)
os.replace(path + ".tmp", path)
PY
}

# pop3 serve over Dovecot's own Maildirs (symlinked), same users and passwords.
start_serve() {
    local root=$WORK/serve-root users=$WORK/serve-users i out=$WORK/serve.err
    mkdir -p "$root"
    : >"$users"
    add_serve_user() {
        ln -s "$POP3_MAILDIR_ROOT/$1/Maildir" "$root/$1"
        printf '%s:%s\n' "$1" "$2" >>"$users"
    }
    add_serve_user "$SMALL_USER" "$SMALL_HASH"
    [[ -z $BIG_FILLED ]] || add_serve_user "$BIG_USER" "$BIG_HASH"
    for ((i = 0; i < SESSIONS; i++)); do add_serve_user "scale$i" "$SCALE_HASH"; done
    SERVE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$WORK/bin/pop3" serve --root "$root" --users "$users" --listen "$HOST:$SERVE_PORT" \
        --allow-plaintext-auth 2>"$out" &
    SERVE_PID=$!
    for ((i = 0; i < 200; i++)); do
        grep -q "POP3 on" "$out" && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || die "pop3 serve died: $(cat "$out")"
        sleep 0.05
    done
    die "pop3 serve did not start"
}

tree_stat() { python3 "$WORK/helpers.py" tree "$1"; }

# serve_workload TITLE COUNT BYTES USER PASS: the same client (pop3-blocking bench_fetch)
# against Dovecot and pop3 serve, RUNS rounds interleaved; per server the median client wall
# time, the server's CPU for the run (its whole process tree) and its memory after.
serve_workload() {
    local title=$1 count=$2 bytes=$3 user=$4 pass=$5 run name port pid before after
    local -A secs=() cpu=() pss=()
    for ((run = 1; run <= RUNS; run++)); do
        for name in dovecot serve; do
            if [[ $name == dovecot ]]; then port=$POP3_PORT pid=$POP3_PID; else port=$SERVE_PORT pid=$SERVE_PID; fi
            before=$(tree_stat "$pid")
            measure "$WORK/out.txt" env POP3_PASSWORD="$pass" "$WORK/bin/blocking_fetch" "$HOST" "$port" "$user" none
            check ours "$count" "$WORK/out.txt"
            sleep 0.3 # let Dovecot reap the session's process, so its CPU is counted
            after=$(tree_stat "$pid")
            secs[$name]+="$M_SECS "
            cpu[$name]+="$(awk -v a="${before%% *}" -v b="${after%% *}" 'BEGIN { printf "%.2f", b - a }') "
            pss[$name]+="$(echo "$after" | cut -d' ' -f2) "
        done
    done
    echo
    echo "== $title"
    for name in dovecot serve; do
        printf '%s|%s|%s|%s\n' "$name" "${secs[$name]}" "${cpu[$name]}" "${pss[$name]}"
    done | awk -F'|' -v n="$count" -v bytes="$bytes" "$AWK_ISORT"'
        function median(s,   a, k) { k = split(s, a, " "); isort(a, k); return a[int((k + 1) / 2)] }
        BEGIN { printf "%-22s %9s %9s %9s %12s %14s %16s\n", "server (median)", "seconds", "msg/s",
                    "MB/s", "server CPU s", "CPU us/msg", "server PSS after" }
        { t = median($2); c = median($3); m = median($4)
          printf "%-22s %9.3f %9.0f %9.1f %12.2f %14.1f %13.1f MB\n", ($1 == "serve" ? "pop3 serve" : "dovecot"),
              t, n / t, bytes / t / 1e6, c, c / n * 1e6, m * 1024 / 1e6 }'
}

# SESSIONS concurrent bench_scale sessions against each server: every session logs in (one
# Argon2id check each, on both), all are held open while the server's memory is measured,
# then each fetches its SCALE_MESSAGES messages and quits.
serve_scale() {
    local run name port pid base during before after line err
    local -A mem=() cpu=() rate=() procs=()
    for ((run = 1; run <= RUNS; run++)); do
        for name in dovecot serve; do
            if [[ $name == dovecot ]]; then port=$POP3_PORT pid=$POP3_PID; else port=$SERVE_PORT pid=$SERVE_PID; fi
            before=$(tree_stat "$pid")
            err=$WORK/scale.err
            : >"$err"
            POP3_USER='scale{n}' POP3_PASSWORD=$SCALE_PASS POP3_HOLD_MS=3000 \
                "$WORK/bin/bench_scale" "$HOST" "$port" "$SESSIONS" >"$WORK/scale.out" 2>"$err" &
            local client=$!
            while ! grep -q "all logged in" "$err"; do
                kill -0 "$client" 2>/dev/null || break
                sleep 0.05
            done
            sleep 1 # the last logins settle (Dovecot hands each from its login process)
            during=$(tree_stat "$pid")
            wait "$client" || die "bench_scale against $name: $(cat "$err" "$WORK/scale.out")"
            line=$(cat "$WORK/scale.out")
            [[ $line == *" failures=0" ]] || die "bench_scale against $name: $line"
            sleep 0.5
            after=$(tree_stat "$pid")
            mem[$name]+="$(awk -v a="$(echo "$before" | cut -d' ' -f2)" -v b="$(echo "$during" | cut -d' ' -f2)" \
                'BEGIN { printf "%.1f", (b - a) / '"$SESSIONS"' }') "
            cpu[$name]+="$(awk -v a="${before%% *}" -v b="${after%% *}" 'BEGIN { printf "%.2f", b - a }') "
            rate[$name]+="$(echo "$line" | sed 's/.* fetch_messages_per_s=\([0-9]*\).*/\1/') "
            procs[$name]=$(echo "$during" | cut -d' ' -f3)
        done
    done
    echo
    echo "== (e) $SESSIONS concurrent sessions, $SCALE_MESSAGES messages of 3-5 KB each (client: pop3-tokio bench_scale)"
    for name in dovecot serve; do
        printf '%s|%s|%s|%s|%s\n' "$name" "${mem[$name]}" "${cpu[$name]}" "${rate[$name]}" "${procs[$name]}"
    done | awk -F'|' -v n="$SESSIONS" -v m="$SCALE_MESSAGES" "$AWK_ISORT"'
        function median(s,   a, k) { k = split(s, a, " "); isort(a, k); return a[int((k + 1) / 2)] }
        BEGIN { printf "%-22s %18s %12s %16s %16s %14s\n", "server (median)", "KiB/session (PSS)",
                    "processes", "server CPU s", "CPU ms/session", "fetch msg/s" }
        { c = median($3)
          printf "%-22s %18.1f %12s %16.2f %16.2f %14.0f\n", ($1 == "serve" ? "pop3 serve" : "dovecot"),
              median($2), $5, c, c / n * 1e3, median($4) }'
    echo "Both check one Argon2id hash (m=19 MiB, t=2) per login, the same hash strings."
}

serve_section() {
    raise_nofile
    fill_scale
    argon2_everywhere
    start_serve
    echo
    echo "pop3 serve on $HOST:$SERVE_PORT over Dovecot's Maildirs; Dovecot on $HOST:$POP3_PORT"
    serve_workload "(e) $SMALL_COUNT messages of 3-5 KB, one session (client: pop3-blocking bench_fetch)" \
        "$SMALL_COUNT" "$SMALL_BYTES" "$SMALL_USER" "$SMALL_PASS"
    if [[ -n $BIG_FILLED ]]; then
        serve_workload "(e) one $BIG_MIB MiB message (client: pop3-blocking bench_fetch)" \
            1 "$BIG_BYTES" "$BIG_USER" "$BIG_PASS"
    fi
    serve_scale
    stop_serve
}

# ----- the fetch benchmark: pop3 fetch against mpop, fetchmail and getmail -----------------

# Client configurations for the small mailbox on Dovecot's plain port, each delivering into
# its own Maildir under $WORK/md-<key>, keeping every message on the server and fetching all
# of them on every run.
write_fetch_configs() {
    local port=$POP3_PORT
    cat >"$WORK/mpoprc" <<EOF
account bench
host $HOST
port $port
user $SMALL_USER
password $SMALL_PASS
auth user
tls off
delivery maildir $MAILDIRS/md-mpop
keep on
only_new off
received_header off
uidls_file $WORK/mpop-uidls
EOF
    cat >"$WORK/fetchmailrc" <<EOF
set no syslog
poll $HOST protocol POP3 port $port auth password
  user "$SMALL_USER" there with password "$SMALL_PASS" is "root" here
  sslproto '' keep fetchall norewrite
  mda "/usr/bin/safecat $MAILDIRS/md-fetchmail/tmp $MAILDIRS/md-fetchmail/new"
EOF
    mkdir -p "$WORK/getmail"
    cat >"$WORK/getmailrc" <<EOF
[retriever]
type = SimplePOP3Retriever
server = $HOST
port = $port
username = $SMALL_USER
password = $SMALL_PASS

[destination]
type = Maildir
path = $MAILDIRS/md-getmail/
# getmail refuses to deliver as root.
user = nobody

[options]
read_all = true
delete = false
received = false
delivered_to = false
verbose = 0
EOF
    chmod 600 "$WORK/mpoprc" "$WORK/fetchmailrc" "$WORK/getmailrc"
}

# fetch_run KEY: one timed run of one fetcher into a fresh Maildir; checks it stored all.
fetch_run() {
    local key=$1 md=$MAILDIRS/md-$1 got
    rm -rf "$md"
    mkdir -p "$md/tmp" "$md/new" "$md/cur"
    [[ $key != getmail ]] || chown -R nobody "$md"
    case $key in
    ours) measure /dev/null env POP3_PASSWORD="$SMALL_PASS" "$WORK/bin/pop3" --host "$HOST" \
        --port "$POP3_PORT" --tls none --user "$SMALL_USER" fetch --maildir "$md" ;;
    mpop) measure /dev/null mpop --quiet -C "$WORK/mpoprc" bench ;;
    fetchmail) measure /dev/null env HOME="$WORK" fetchmail -f "$WORK/fetchmailrc" --nodetach \
        --invisible --silent --pidfile "$WORK/fetchmail.pid" ;;
    getmail) measure /dev/null getmail --getmaildir "$WORK/getmail" --rcfile "$WORK/getmailrc" --quiet ;;
    esac
    got=$(find "$md/new" "$md/cur" -type f | wc -l)
    ((got == SMALL_COUNT)) || die "$key stored $got of $SMALL_COUNT messages"
}

# fs_costs DIR: what creating a 4 KB file and syncing it cost in DIR (the floor under every
# Maildir delivery there).
fs_costs() {
    python3 - "$1" <<'PY'
import os, sys, time
d = os.path.join(sys.argv[1], "probe")
os.makedirs(d, exist_ok=True)
n = 300
t = time.time()
fds = [os.open(f"{d}/c{i}", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600) for i in range(n)]
for fd in fds:
    os.write(fd, b"x" * 4000)
create = (time.time() - t) / n
t = time.time()
for fd in fds:
    os.fsync(fd)
    os.close(fd)
sync = (time.time() - t) / n
for i in range(n):
    os.unlink(f"{d}/c{i}")
os.rmdir(d)
print(f"creating a 4 KB file {create * 1e3:.3f} ms, fsync {sync * 1e3:.3f} ms")
PY
}

# fetch_table WHERE: (a)'s mailbox into Maildirs under WHERE with every fetcher.
fetch_table() {
    MAILDIRS=$1
    mkdir -p "$MAILDIRS"
    chmod 755 "$MAILDIRS"
    write_fetch_configs
    local keys=(ours mpop fetchmail getmail) key run costs
    local -A secs=() rss=()
    costs=$(fs_costs "$MAILDIRS")
    # fetchmail and getmail deliver a message per process or per Python call: one run each.
    for ((run = 1; run <= RUNS; run++)); do
        for key in "${keys[@]}"; do
            if ((run > 1)) && [[ $key == fetchmail || $key == getmail ]]; then continue; fi
            fetch_run "$key"
            secs[$key]+="$M_SECS "
            rss[$key]+="$M_RSS "
            cpu[$key]+="$M_CPU "
            server[$key]+="$M_SERVER_CPU "
        done
    done
    echo
    echo "== (f) $SMALL_COUNT messages of 3-5 KB from Dovecot into a Maildir in $MAILDIRS"
    echo "   ($(df --output=fstype "$MAILDIRS" | tail -n 1); $costs; target: pop3 fetch >= 2x mpop)"
    for key in "${keys[@]}"; do
        printf '%s|%s|%s\n' "$key" "${secs[$key]}" "${rss[$key]}"
    done | awk -F'|' -v n="$SMALL_COUNT" "$AWK_ISORT"'
        function median(s,   a, k) { k = split(s, a, " "); isort(a, k); return a[int((k + 1) / 2)] }
        function maximum(s,   a, k, i, m) { k = split(s, a, " "); m = 0
            for (i = 1; i <= k; i++) if (a[i] + 0 > m) m = a[i] + 0; return m }
        BEGIN { printf "%-30s %5s %9s %9s %10s %10s\n", "fetcher", "runs", "seconds", "msg/s", "peak RSS", "vs ours" }
        { t[NR] = median($2); k[NR] = split($2, x, " "); r[NR] = maximum($3); label[NR] = $1; if ($1 == "ours") ours = t[NR] }
        END {
            name["ours"] = "pop3 fetch"; name["mpop"] = "mpop (maildir delivery)"
            name["fetchmail"] = "fetchmail (mda: safecat)"; name["getmail"] = "getmail6 (Maildir)"
            for (i = 1; i <= NR; i++)
                printf "%-30s %5d %9.3f %9.0f %7.1f MB %9.2fx\n", name[label[i]], k[i], t[i], n / t[i],
                    r[i] * 1024 / 1e6, t[i] / ours
        }'
    echo "vs ours: how many times longer than pop3 fetch the fetcher took."
}

fetch_section() {
    "$ROOT/scripts/apt-install.sh" mpop fetchmail getmail6 safecat
    # Where mail lives: a disk (the checkout's target/, not /tmp: on this machine creating a
    # file in /tmp cost 25 times what it cost elsewhere on the same disk), then tmpfs, where
    # syncing is free and what is left is each fetcher's own cost.
    fetch_table "${BENCH_MAILDIRS:-$ROOT/target/bench-maildirs}"
    if [[ -d /dev/shm ]]; then
        rm -rf "$MAILDIRS"
        fetch_table /dev/shm/pop3-bench-maildirs
    fi
    if [[ -n $BIG_FILLED ]]; then
        local md=$MAILDIRS/md-big
        rm -rf "$md"
        measure /dev/null env POP3_PASSWORD="$BIG_PASS" "$WORK/bin/pop3" --host "$HOST" \
            --port "$POP3_PORT" --tls none --user "$BIG_USER" fetch --maildir "$md"
        [[ $(find "$md/new" -type f -size +$((BIG_BYTES / 1024 / 2))k | wc -l) == 1 ]] ||
            die "pop3 fetch did not store the big message"
        echo
        echo "== (f) one $BIG_MIB MiB message from Dovecot into a Maildir in $MAILDIRS (target: peak RSS < 16 MB)"
        awk -v t="$M_SECS" -v r="$M_RSS" -v b="$BIG_BYTES" 'BEGIN {
            printf "pop3 fetch: %.3f s, %.1f MB/s, peak RSS %.1f MB\n", t, b / t / 1e6, r * 1024 / 1e6 }'
    fi
    rm -rf "$MAILDIRS"
    MAILDIRS=''
}

# ----- main ----------------------------------------------------------------------------------

main() {
    [[ $EUID -eq 0 ]] || die "run as root (scripts/dovecot.sh installs and runs Dovecot)"
    [[ $ROOT =~ ^[A-Za-z0-9._/+-]+$ ]] || die "the checkout path must be plain: $ROOT"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    install_tools
    WORK=$(mktemp -d)
    chmod 755 "$WORK"
    write_helpers
    build
    machine

    local big=1
    if (want b || want c || want e || want f) && ! big_fits; then
        note "less than 3 GiB free under $WORK: skipping the 1 GiB message"
        big=''
    fi
    if want a || want b || want c || want e || want f; then
        start_dovecot
        echo "dovecot: plain port $POP3_PORT, implicit TLS port $POP3S_PORT (127.0.0.1)"
        fill_small
        [[ -z $big ]] || { fill_big; BIG_FILLED=1; }
        echo "mail: $SMALL_COUNT messages, $SMALL_BYTES bytes; one message of $BIG_BYTES bytes"
    fi

    if want a; then
        specs_for "$SMALL_USER" "$SMALL_PASS" "$SMALL_COUNT" "$POP3_PORT"
        run_section "(a) $SMALL_COUNT messages of 3-5 KB, plain TCP (target: ours >= 35000 msg/s)" \
            "$SMALL_COUNT" "$SMALL_BYTES" "${SPECS[@]}"
    fi
    if want b && [[ -n $big ]]; then
        specs_for "$BIG_USER" "$BIG_PASS" 1 "$POP3_PORT"
        run_section "(b) one $BIG_MIB MiB message, plain TCP (target: ours >= 0.95x raw, peak RSS < 16 MB)" \
            1 "$BIG_BYTES" "${SPECS[@]}"
    fi
    if want c; then
        specs_for "$SMALL_USER" "$SMALL_PASS" "$SMALL_COUNT" "$POP3S_PORT" "$POP3_CA"
        run_section "(c) $SMALL_COUNT messages of 3-5 KB, implicit TLS" \
            "$SMALL_COUNT" "$SMALL_BYTES" "${SPECS[@]}"
        if [[ -n $big ]]; then
            specs_for "$BIG_USER" "$BIG_PASS" 1 "$POP3S_PORT" "$POP3_CA"
            run_section "(c) one $BIG_MIB MiB message, implicit TLS" 1 "$BIG_BYTES" "${SPECS[@]}"
        fi
    fi
    if want d; then
        scale_section
    fi
    if want f; then
        fetch_section
    fi
    if want e; then
        serve_section
    fi
    echo
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

main "$@"
