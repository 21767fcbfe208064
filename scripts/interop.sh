#!/usr/bin/env bash
# Private instances of four more real POP3 servers from Debian 12 on loopback, for the
# interop matrix (scripts/dovecot.sh runs the reference Dovecot the same way).
#
#   scripts/interop.sh start   SERVER STATE_DIR         (re)start; writes STATE_DIR/env, prints it
#   scripts/interop.sh stop    STATE_DIR                stop it; fine if it is not running
#   scripts/interop.sh adduser STATE_DIR NAME PASSWORD  add (or re-password) a mail user
#   scripts/interop.sh fill    STATE_DIR NAME PATH...   deliver files (or every file of a folder)
#   scripts/interop.sh clear   STATE_DIR NAME           empty that user's mailbox
#   scripts/interop.sh login   STATE_DIR NAME           print the name NAME logs in with
#
# SERVER is one of: cyrus courier mailutils popa3d (scripts/interop/SERVER.sh says how each
# is run and what it does to messages). Runs as root. cyrus-pop3d, courier-pop and popa3d
# conflict with dovecot-pop3d, so they are fetched with apt-get download and unpacked into
# /var/cache/pop3-interop (kept between runs); their other dependencies, and mailutils-pop3d,
# are installed with scripts/apt-install.sh, which starts no service.
#
# start wipes what an earlier start left in STATE_DIR, picks two free ports, makes a test CA
# and a leaf certificate (STATE_DIR/tls/ca.pem; the leaf names localhost, 127.0.0.1, ::1;
# CA:FALSE, serverAuth), adds alice (alice-pw) and bob (bob-pw), and starts the server on
# 127.0.0.1 only. STATE_DIR/env then holds KEY=VALUE lines, read literally (no quoting, as
# dovecot.sh's; STATE_DIR/env.sh has the same quoted for the shell):
#   POP3_SERVER POP3_HOST POP3_PORT POP3S_PORT (empty: no implicit TLS) POP3_CA POP3_WRONG_CA
#   POP3_TLS_NAME POP3_STLS (1/0) POP3_APOP (1/0) POP3_MECHANISMS (space-separated SASL
#   mechanisms that work) POP3_PID (the main process) POP3_LOG POP3_STATE
#   POP3_USER POP3_PASS (alice) POP3_USER2 POP3_PASS2 (bob) POP3_USERS (login:password,...)
# Login names are what `login` prints: alice for Cyrus and Courier, alice@localhost for
# Mailutils (virtual domain), pop3i_alice for popa3d (a system account).
#
# fill keeps the order of its arguments (a folder's files in name order); the server lists
# messages in the order they were filled.
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPTS
readonly SERVERS="cyrus courier mailutils popa3d"
# shellcheck source=scripts/interop/common.sh
. "$SCRIPTS/interop/common.sh"

usage() {
    sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

set_paths() {
    [[ -n ${1:-} ]] || usage
    STATE=$(realpath -m -- "$1")
    check_state_path "$STATE"
    TLS=$STATE/tls
    LOGDIR=$STATE/log
    RUN=$STATE/run
    USERS=$STATE/users
    ENVF=$STATE/env
}

load_server() {
    local name=$1
    [[ " $SERVERS " == *" $name "* ]] || die "unknown server '$name' (one of: $SERVERS)"
    SERVER=$name
    # shellcheck source=/dev/null
    . "$SCRIPTS/interop/$name.sh"
}

# For every command but start: the server that start recorded in STATE.
load_recorded_server() {
    [[ -f $STATE/server ]] || die "no server set up in $STATE: run start first"
    local name root
    { read -r name; read -r root; } <"$STATE/server"
    load_server "$name"
    ROOT=$root
}

user_password() {
    awk -F: -v n="$1" '$1 == n { print $2 }' "$USERS"
}

write_env() {
    local users='' name pw
    while IFS=: read -r name pw; do
        [[ -n $name ]] || continue
        users+=${users:+,}$(srv_login "$name"):$pw
    done <"$USERS"
    {
        echo "POP3_SERVER=$SERVER"
        echo "POP3_HOST=127.0.0.1"
        echo "POP3_PORT=$PORT"
        echo "POP3S_PORT=$SPORT"
        echo "POP3_TLS_NAME=$TLS_NAME"
        echo "POP3_CA=$TLS/ca.pem"
        echo "POP3_WRONG_CA=$TLS/wrong-ca.pem"
        echo "POP3_STLS=$SRV_STLS"
        echo "POP3_APOP=$SRV_APOP"
        echo "POP3_MECHANISMS=$SRV_MECHANISMS"
        echo "POP3_PID=$MAIN_PID"
        echo "POP3_LOG=$SRV_LOG"
        echo "POP3_STATE=$STATE"
        echo "POP3_USER=$(srv_login alice)"
        echo "POP3_PASS=$(user_password alice)"
        echo "POP3_USER2=$(srv_login bob)"
        echo "POP3_PASS2=$(user_password bob)"
        echo "POP3_USERS=$users"
    } >"$ENVF.tmp"
    # The same, quoted for the shell (POP3_MECHANISMS has spaces), for `. STATE/env.sh`.
    local k v
    while IFS='=' read -r k v; do printf '%s=%q\n' "$k" "$v"; done <"$ENVF.tmp" >"$ENVF.sh.tmp"
    mv -f "$ENVF.sh.tmp" "$ENVF.sh"
    mv -f "$ENVF.tmp" "$ENVF"
}

add_user() {
    local name=$1 pw=$2
    check_user "$name"
    check_password "$pw"
    { [[ -f $USERS ]] && awk -F: -v n="$name" '$1 != n' "$USERS"; echo "$name:$pw"; } >"$USERS.tmp"
    chmod 600 "$USERS.tmp"
    mv -f "$USERS.tmp" "$USERS"
    srv_adduser "$name" "$pw"
}

fail_start() {
    note "$*"
    if [[ -n ${SRV_LOG:-} ]]; then
        echo "--- last lines of $SRV_LOG ---" >&2
        tail -n 30 "$SRV_LOG" >&2 2>/dev/null || true
    fi
    cmd_stop "$STATE" >&2 || true
    exit 1
}

cmd_start() {
    load_server "$1"
    set_paths "$2"
    [[ $EUID -eq 0 ]] || die "must run as root"
    # Whatever ran in STATE before (any server) goes first.
    if [[ -f $STATE/server ]]; then cmd_stop "$STATE" >/dev/null; fi
    load_server "$1"

    local t0 e
    t0=$(date +%s%N)
    with_setup_lock
    ensure_mail_owner
    srv_install                 # sets ROOT
    end_setup_lock

    mkdir -p "$STATE"
    for e in $STATE_ENTRIES; do rm -rf "${STATE:?}/$e"; done
    # Servers that drop root must reach inside.
    chmod 755 "$STATE"
    runuser -u "$MAIL_OWNER" -- test -x "$STATE" ||
        die "$MAIL_OWNER cannot reach $STATE: every folder above it must be searchable (chmod 755; mktemp -d makes 700)"
    mkdir -p "$LOGDIR" "$RUN"
    chmod 755 "$LOGDIR" "$RUN"
    printf '%s\n%s\n' "$SERVER" "$ROOT" >"$STATE/server"
    make_certs
    srv_prepare
    add_user alice alice-pw
    add_user bob bob-pw

    local attempt
    for attempt in 1 2 3; do
        pick_ports
        PORT=${PICKED[0]} SPORT=${PICKED[1]}
        [[ $SRV_POP3S == 1 ]] || SPORT=''
        if srv_launch; then break; fi
        ((attempt < 3)) || fail_start "$SERVER did not start"
        note "$SERVER did not start on ports $PORT/$SPORT; trying others"
        stop_recorded
    done

    local deadline=$((SECONDS + START_TIMEOUT))
    until greeting_ok "$PORT" && { [[ -z $SPORT ]] || port_listening "$SPORT"; }; do
        ((SECONDS < deadline)) || fail_start "ports $PORT/$SPORT not ready after ${START_TIMEOUT}s"
        sleep 0.05
    done
    srv_check_running || fail_start "$SERVER is not running"
    write_env
    cat "$ENVF"
    note "$SERVER up in $((($(date +%s%N) - t0) / 1000000)) ms"
}

cmd_stop() {
    set_paths "$1"
    STOPPED=0
    if [[ -f $STATE/server ]]; then
        load_recorded_server
        stop_recorded
        srv_after_stop
    fi
    if ((STOPPED)); then echo "interop.sh: stopped $SERVER ($STATE)"; else echo "interop.sh: not running ($STATE)"; fi
}

cmd_adduser() {
    set_paths "$1"
    load_recorded_server
    with_setup_lock
    ensure_mail_owner
    add_user "$2" "$3"
    end_setup_lock
    if [[ -f $ENVF ]]; then
        local POP3_PORT POP3S_PORT POP3_PID
        # shellcheck disable=SC1090
        source <(grep -E '^(POP3_PORT|POP3S_PORT|POP3_PID)=' "$ENVF")
        PORT=$POP3_PORT SPORT=$POP3S_PORT MAIN_PID=$POP3_PID
        write_env
    fi
}

cmd_fill() {
    set_paths "$1"
    load_recorded_server
    ensure_mail_owner
    check_user "$2"
    [[ -n $(user_password "$2") ]] || die "no user $2 in $STATE (adduser first)"
    local name=$2
    shift 2
    collect_files "$@"
    srv_fill "$name" "${FILES[@]}"
    note "delivered ${#FILES[@]} message(s) to $name"
}

cmd_clear() {
    set_paths "$1"
    load_recorded_server
    ensure_mail_owner
    check_user "$2"
    [[ -n $(user_password "$2") ]] || die "no user $2 in $STATE"
    srv_clear "$2"
    note "emptied the mailbox of $2"
}

cmd_login() {
    set_paths "$1"
    load_recorded_server
    check_user "$2"
    srv_login "$2"
}

main() {
    local cmd=${1:-}
    (($# > 0)) && shift
    case $cmd in
    start) [[ $# -eq 2 ]] || usage; cmd_start "$@" ;;
    stop) [[ $# -eq 1 ]] || usage; cmd_stop "$@" ;;
    adduser) [[ $# -eq 3 ]] || usage; cmd_adduser "$@" ;;
    fill) [[ $# -ge 3 ]] || usage; cmd_fill "$@" ;;
    clear) [[ $# -eq 2 ]] || usage; cmd_clear "$@" ;;
    login) [[ $# -eq 2 ]] || usage; cmd_login "$@" ;;
    *) usage ;;
    esac
}

main "$@"
