#!/usr/bin/env bash
# A private Dovecot POP3 server on loopback, for the integration tests and benchmarks.
#
#   scripts/dovecot.sh start   STATE_DIR               (re)start; writes STATE_DIR/env, prints it
#   scripts/dovecot.sh stop    STATE_DIR               stop it; fine if it is not running
#   scripts/dovecot.sh adduser STATE_DIR NAME PASSWORD add (or re-password) a mail user
#   scripts/dovecot.sh fill    STATE_DIR USER PATH...  deliver files (or every file of a folder)
#   scripts/dovecot.sh clear   STATE_DIR USER          empty that user's mailbox
#   scripts/dovecot.sh clientcert STATE_DIR NAME       print cert and key paths for EXTERNAL
#   scripts/dovecot.sh token   STATE_DIR NAME [SECS]   print an OAuth2 token valid SECS (3600)
#
# Runs as root (it installs packages, creates a system user and chowns mail). Nothing listens
# beyond 127.0.0.1 and ::1; the ports are picked free at each start and given in STATE_DIR/env:
#   POP3_HOST POP3_HOST6 POP3_PORT POP3S_PORT POP3_TLS_NAME POP3_CA POP3_WRONG_CA POP3_STATE
#   POP3_MAILDIR_ROOT (a user's mail is $POP3_MAILDIR_ROOT/USER/Maildir) POP3_LOG POP3_PID
#   POP3_USER POP3_PASS (alice) POP3_USER2 POP3_PASS2 (bob) POP3_USERS (user:password,...)
#   POP3_MECHANISMS (the SASL mechanisms, comma-separated) POP3_TLS_DIR
# POP3_CA verifies the server (name localhost, 127.0.0.1 or ::1); POP3_WRONG_CA never does.
#
# Every mail user can log in with USER/PASS, APOP and SASL PLAIN, LOGIN, CRAM-MD5,
# SCRAM-SHA-1 and SCRAM-SHA-256 (password), EXTERNAL (over TLS, with the certificate that
# `clientcert` prints: $POP3_TLS_DIR/client-NAME.pem and .key, CN=NAME, from POP3_CA's CA),
# and XOAUTH2 and OAUTHBEARER (with the token that `token` prints: an HS256 JWT whose `sub`
# is the user, checked locally against a key made at each start, so older tokens fail).
#
# `fill` keeps the order of its arguments (a folder's files in name order), and the server
# lists messages in the order they were filled. The bytes are delivered as they are. Dovecot
# sends each bare LF as CRLF, which LIST counts, and ends a message that lacks a final
# newline with an extra CRLF, which LIST does not count.
set -euo pipefail

readonly MAIL_OWNER=pop3test            # owns every mail home; the server runs as it per login
readonly TLS_NAME=localhost
readonly START_TIMEOUT=20               # seconds for both ports to answer
readonly STOP_TIMEOUT=10
# The mechanisms that check the passwd-file's password; EXTERNAL and the OAuth2 ones have a
# passdb each, and each passdb takes only its own mechanisms.
readonly PASSWORD_MECHS="plain login cram-md5 apop scram-sha-1 scram-sha-256"
readonly OAUTH_MECHS="xoauth2 oauthbearer"
# What CAPA's SASL line offers (APOP is no SASL mechanism), for STATE/env.
readonly SASL_MECHS=PLAIN,LOGIN,CRAM-MD5,SCRAM-SHA-1,SCRAM-SHA-256,EXTERNAL,OAUTHBEARER,XOAUTH2

die() { echo "dovecot.sh: $*" >&2; exit 1; }

# used_ports, pick_ports (into PICKED), greeting_ok: shared with scripts/interop.sh.
# shellcheck source=scripts/lib/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/ports.sh"

usage() {
    sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Everything below STATE goes into dovecot.conf and the passwd-file unquoted, and the users
# and passwords into the env file, so only characters that need no quoting anywhere pass.
check_state_path() {
    [[ $1 =~ ^/[A-Za-z0-9._/+-]*$ ]] || die "state dir path must be plain (A-Z a-z 0-9 . _ / + -): $1"
}
check_user() {
    # Dovecot lower-cases login names before the lookup (auth_username_format = %Lu).
    [[ $1 =~ ^[a-z0-9][a-z0-9._@-]*$ ]] || die "user name must match [a-z0-9][a-z0-9._@-]*: $1"
}
check_password() {
    [[ $1 =~ ^[A-Za-z0-9._@+-]+$ ]] || die "password must match [A-Za-z0-9._@+-]+: $1"
}

set_paths() {
    [[ -n ${1:-} ]] || usage
    STATE=$(realpath -m -- "$1")
    check_state_path "$STATE"
    CONF=$STATE/dovecot.conf
    RUN=$STATE/run                      # Dovecot's base_dir: sockets and master.pid
    LIB=$STATE/lib
    TLS=$STATE/tls
    HOMES=$STATE/home
    USERS=$STATE/users                  # passwd-file: passdb and userdb both
    KEYS=$STATE/keys                    # the OAuth2 passdb's key dict (fs:posix)
    OAUTH_KEY=$KEYS/default/HS256/default   # base64 of the JWT HMAC secret
    OAUTH_CONF=$STATE/oauth2.conf
    LOG=$STATE/dovecot.log
    ENVF=$STATE/env
    PIDFILE=$RUN/master.pid
}

# Serialises installs and user creation: test binaries may start servers in parallel.
with_setup_lock() {
    local dir=/run/lock
    [[ -d $dir ]] || dir=/tmp
    exec 9>"$dir/pop3-dovecot-setup.lock"
    flock -w 600 9 || die "timed out waiting for another dovecot.sh setup"
}

install_packages() {
    "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" dovecot-core dovecot-pop3d openssl
}

ensure_mail_owner() {
    getent passwd "$MAIL_OWNER" >/dev/null ||
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$MAIL_OWNER"
    OWNER_UID=$(id -u "$MAIL_OWNER")
    OWNER_GID=$(id -g "$MAIL_OWNER")
}

has_ipv6_loopback() {
    grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6
}

make_certs() {
    rm -rf "$TLS"
    mkdir -p "$TLS"
    chmod 755 "$TLS"
    # Our own openssl config, so the system's openssl.cnf defaults play no part.
    local cnf=$TLS/openssl.cnf name
    cat >"$cnf" <<EOF
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$TLS_NAME, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    # P-256 keys: made in milliseconds, and every TLS stack the project tests with takes them.
    # Each start makes new CAs with distinct names, so no stale trust carries over.
    for name in ca wrong-ca; do
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$TLS/$name.key" -out "$TLS/$name.pem" -days 3650 -sha256 \
            -subj "/CN=pop3 test $name $(date +%s%N)" -config "$cnf" -extensions ca \
            >/dev/null 2>&1 || die "openssl could not make $name.pem"
    done
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=$TLS_NAME" \
        -config "$cnf" >/dev/null 2>&1 || die "openssl could not make the server key"
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 825 -sha256 \
        -extfile "$cnf" -extensions server -out "$TLS/server.pem" >/dev/null 2>&1 ||
        die "openssl could not sign the server certificate"
    rm -f "$TLS/server.csr"
    chown root:dovecot "$TLS/server.key"
    chmod 640 "$TLS/server.key"
    chmod 600 "$TLS/ca.key" "$TLS/wrong-ca.key"
    chmod 644 "$TLS/ca.pem" "$TLS/wrong-ca.pem" "$TLS/server.pem"
}

# A client certificate for EXTERNAL: CN=NAME, which Dovecot takes as the login name. Made
# once per start (each start makes a new CA and drops the old certificates). Parallel tests
# may ask for the same one, hence the lock: no one gets one key with another's certificate.
make_client_cert() {
    local name=$1 key=$TLS/client-$1.key crt=$TLS/client-$1.pem
    [[ -r $TLS/ca.key && -r $TLS/openssl.cnf ]] || die "no test CA in $TLS: run start first"
    exec 8>"$TLS/clientcert.lock"
    flock -w 60 8 || die "timed out waiting for another dovecot.sh clientcert"
    [[ -s $key && -s $crt ]] && return 0
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$key.tmp" -out "$TLS/client-$name.csr" -subj "/CN=$name" \
        -config "$TLS/openssl.cnf" >/dev/null 2>&1 || die "openssl could not make a client key"
    openssl x509 -req -in "$TLS/client-$name.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 825 -sha256 \
        -extfile "$TLS/openssl.cnf" -extensions client -out "$crt.tmp" >/dev/null 2>&1 ||
        die "openssl could not sign the client certificate"
    rm -f "$TLS/client-$name.csr"
    chmod 600 "$key.tmp"
    chmod 644 "$crt.tmp"
    mv -f "$key.tmp" "$key"
    mv -f "$crt.tmp" "$crt"
    exec 8>&-
}

# A new HMAC secret at each start, so a token from an earlier start no longer validates.
# The secret is 64 hex digits used as ASCII bytes, so openssl takes it as a plain -macopt key.
# Dovecot reads the key, base64-encoded, from the dict at shared/<azp>/<alg>/<kid>, and fs:posix
# keeps shared/X in the file PREFIX/X.
make_oauth_key() {
    rm -rf "$KEYS"
    install -d -o root -g dovecot -m 750 "$KEYS" "${OAUTH_KEY%/*/*}" "${OAUTH_KEY%/*}"
    openssl rand -hex 32 | tr -d '\n' | base64 -w0 >"$OAUTH_KEY.tmp"
    chown root:dovecot "$OAUTH_KEY.tmp"
    chmod 640 "$OAUTH_KEY.tmp"
    mv -f "$OAUTH_KEY.tmp" "$OAUTH_KEY"
}

write_conf() {
    local port=$1 sport=$2 listen=127.0.0.1 dh=''
    if has_ipv6_loopback; then listen="127.0.0.1, ::1"; fi
    # Dovecot 2.3 needs DH parameters only for DHE suites; use the package's file if there.
    if [[ -r /usr/share/dovecot/dh.pem ]]; then dh="ssl_dh = </usr/share/dovecot/dh.pem"; fi
    cat >"$CONF" <<EOF
# Written by scripts/dovecot.sh at each start; edits are lost.
instance_name = pop3test-$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)
base_dir = $RUN
state_dir = $LIB
log_path = $LOG
protocols = pop3
listen = $listen
# Room for the server benchmark's 1,000 concurrent sessions (scripts/bench.sh, section e):
# by default each service runs at most 100 processes, and one pop3-login process serves
# one connection.
default_process_limit = 1200
default_client_limit = 4096

service pop3-login {
  inet_listener pop3 {
    port = $port
  }
  inet_listener pop3s {
    port = $sport
    ssl = yes
  }
}

ssl = yes
ssl_cert = <$TLS/server.pem
ssl_key = <$TLS/server.key
ssl_min_protocol = TLSv1.2
$dh
# For EXTERNAL: ask every TLS client for a certificate from the test CA, but let clients
# without one (or with one that does not verify) carry on and log in with a password.
# A verified certificate's commonName becomes the login name; it then also replaces the
# name that any other mechanism (or USER) gives on that connection.
ssl_ca = <$TLS/ca.pem
ssl_verify_client_cert = yes
# The test CA revokes nothing and publishes no CRL; with the default (yes) no certificate
# would ever count as verified.
ssl_require_crl = no
auth_ssl_require_client_cert = no
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName

# The tests exercise USER/PASS and every SASL mechanism over plain TCP as well.
disable_plaintext_auth = no
# apop also makes the greeting carry the APOP timestamp.
auth_mechanisms = $PASSWORD_MECHS external $OAUTH_MECHS
default_login_user = dovenull
default_internal_user = dovecot

# APOP, CRAM-MD5 and SCRAM need the plaintext password, hence {PLAIN} entries. Only the
# password mechanisms use it, so neither a token nor EXTERNAL's empty response is ever
# compared with a password.
passdb {
  driver = passwd-file
  args = $USERS
  mechanisms = $PASSWORD_MECHS
}
# EXTERNAL asks for no password: the verified certificate is the proof. Only EXTERNAL may
# use this passdb, or any name would log in with any password.
passdb {
  driver = static
  args = nopassword=y
  mechanisms = external
  result_success = continue-ok
}
# The token is a JWT, validated locally with the key in $KEYS; no network. A bad token
# ends the lookup here.
passdb {
  driver = oauth2
  args = $OAUTH_CONF
  mechanisms = $OAUTH_MECHS
  result_success = continue-ok
  result_failure = return-fail
  result_internalfail = return-fail
}
# After a continue-ok success Dovecot skips the password check, so this only asks whether
# the certificate's or token's user exists. Without it an unknown user passes the passdb,
# the userdb then fails, and the client sees the connection close instead of -ERR.
passdb {
  driver = passwd-file
  args = $USERS
  mechanisms = external $OAUTH_MECHS
  result_failure = return-fail
  result_internalfail = return-fail
}
userdb {
  driver = passwd-file
  args = $USERS
}

mail_location = maildir:~/Maildir
first_valid_uid = $OWNER_UID
first_valid_gid = $OWNER_GID
# Benchmarks and concurrency tests open many sessions as one user from one address.
mail_max_userip_connections = 512

# RETR would otherwise move messages to cur/ and mark them seen: runs must be repeatable.
pop3_no_flag_updates = yes
EOF
    # The token's user is its "sub" claim; it must match the name the client gives.
    cat >"$OAUTH_CONF" <<EOF
# Written by scripts/dovecot.sh at each start; edits are lost.
introspection_mode = local
local_validation_key_dict = fs:posix:prefix=$KEYS/
username_attribute = sub
EOF
}

# passwd-file line: user:password:uid:gid:gecos:home:shell:extra
user_line() {
    printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$1" "$2" "$OWNER_UID" "$OWNER_GID" "$HOMES/$1"
}

add_user() {
    local name=$1 pw=$2 tmp
    check_user "$name"
    check_password "$pw"
    mkdir -p "$HOMES"
    chmod 755 "$HOMES"
    install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 700 \
        "$HOMES/$name" "$HOMES/$name/Maildir" \
        "$HOMES/$name/Maildir/cur" "$HOMES/$name/Maildir/new" "$HOMES/$name/Maildir/tmp"
    tmp=$USERS.tmp
    { [[ -f $USERS ]] && awk -F: -v n="$name" '$1 != n' "$USERS"; user_line "$name" "$pw"; } >"$tmp"
    chown root:dovecot "$tmp"
    chmod 640 "$tmp"
    # A rename, so a running auth process never reads half a file; it re-reads on change.
    mv -f "$tmp" "$USERS"
}

# Fail early with a clear reason rather than with a login that mysteriously does not work.
check_access() {
    runuser -u dovecot -- test -r "$USERS" ||
        die "user dovecot cannot read $USERS: make every parent of $STATE searchable (o+x)"
    runuser -u "$MAIL_OWNER" -- test -w "$HOMES/alice/Maildir/cur" ||
        die "user $MAIL_OWNER cannot reach $HOMES: make every parent of $STATE searchable (o+x)"
}

# Is PID the master of the Dovecot started with our CONF (not a reused PID)?
is_our_master() {
    local pid=$1 args=() i
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || return 1
    [[ ${args[0]:-} == dovecot || ${args[0]:-} == */dovecot ]] || return 1
    for ((i = 1; i + 1 < ${#args[@]}; i++)); do
        [[ ${args[i]} == -c && ${args[i + 1]} == "$CONF" ]] && return 0
    done
    return 1
}

# "PID STARTTIME" of each child of $1: identifies them even after the master is gone.
# (read, not $(<file): bash 5.2 exits under set -e when $(<file) finds no file.)
children_of() {
    local stat f rest fields
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue
        rest=${stat##*) }                  # fields after the command name, from field 3
        read -r -a fields <<<"$rest"
        [[ ${fields[1]:-} == "$1" ]] && echo "${f//[^0-9]/} ${fields[19]:-}"
    done
    return 0
}

# A zombie counts as gone: it holds nothing, and this machine's init may reap it late.
same_process() {
    local stat rest fields
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    [[ ${fields[0]:-} != Z && ${fields[19]:-} == "$2" ]]
}

cmd_stop() {
    set_paths "${1:-}"
    local pid kids pidn start deadline
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if ! is_our_master "$pid"; then
        # A stale PID that now names another process would make dovecot refuse to start.
        rm -f "$PIDFILE"
        echo "dovecot.sh: not running ($STATE)"
        return 0
    fi
    kids=$(children_of "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + STOP_TIMEOUT))
    while is_our_master "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
    if is_our_master "$pid"; then
        echo "dovecot.sh: master $pid ignored TERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    # The master ends its children on TERM; a KILLed master cannot, so finish the job.
    while read -r pidn start; do
        [[ -n ${pidn:-} ]] || continue
        deadline=$((SECONDS + STOP_TIMEOUT))
        while same_process "$pidn" "$start" && ((SECONDS < deadline)); do sleep 0.05; done
        if same_process "$pidn" "$start"; then kill -KILL "$pidn" 2>/dev/null || true; fi
    done <<<"$kids"
    rm -f "$PIDFILE"
    echo "dovecot.sh: stopped (was PID $pid)"
}

port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

fail_start() {
    echo "dovecot.sh: $*" >&2
    echo "--- last lines of $LOG ---" >&2
    tail -n 30 "$LOG" >&2 2>/dev/null || true
    cmd_stop "$STATE" >&2 || true
    exit 1
}

write_env() {
    local port=$1 sport=$2 pid=$3 users='' name pw rest
    while IFS=: read -r name pw rest; do
        [[ -n $name ]] || continue
        users+=${users:+,}$name:${pw#\{PLAIN\}}
    done <"$USERS"
    {
        echo "POP3_SERVER=dovecot"
        echo "POP3_HOST=127.0.0.1"
        if has_ipv6_loopback; then echo "POP3_HOST6=::1"; fi
        echo "POP3_PORT=$port"
        echo "POP3S_PORT=$sport"
        echo "POP3_TLS_NAME=$TLS_NAME"
        echo "POP3_CA=$TLS/ca.pem"
        echo "POP3_WRONG_CA=$TLS/wrong-ca.pem"
        echo "POP3_STATE=$STATE"
        echo "POP3_MAILDIR_ROOT=$HOMES"
        echo "POP3_LOG=$LOG"
        echo "POP3_PID=$pid"
        echo "POP3_USER=alice"
        echo "POP3_PASS=alice-pw"
        echo "POP3_USER2=bob"
        echo "POP3_PASS2=bob-pw"
        echo "POP3_USERS=$users"
        echo "POP3_MECHANISMS=$SASL_MECHS"
        echo "POP3_TLS_DIR=$TLS"
    } >"$ENVF.tmp"
    mv -f "$ENVF.tmp" "$ENVF"
}

cmd_start() {
    set_paths "${1:-}"
    [[ $EUID -eq 0 ]] || die "must run as root"
    with_setup_lock
    install_packages
    ensure_mail_owner
    exec 9>&-

    cmd_stop "$STATE" >/dev/null
    mkdir -p "$STATE" "$LIB"
    # Dovecot's auth (user dovecot) and mail processes (user pop3test) must reach inside.
    chmod 755 "$STATE"
    make_certs
    make_oauth_key
    add_user alice alice-pw
    add_user bob bob-pw
    check_access

    local t0 attempt out pid deadline port sport
    t0=$(date +%s%N)
    for attempt in 1 2 3; do
        pick_ports
        port=${PICKED[0]} sport=${PICKED[1]}
        write_conf "$port" "$sport"
        out=$(doveconf -c "$CONF" -n 2>&1 >/dev/null) || die "doveconf rejects $CONF: $out"
        [[ -z $out ]] || echo "$out" >&2
        : >"$LOG"
        # Not our stdio: the daemon keeps what it inherits, and a caller reading our output
        # through a pipe (or $(...)) would wait for it forever.
        if dovecot -c "$CONF" </dev/null >"$STATE/dovecot.start.out" 2>&1; then break; fi
        out=$(cat "$STATE/dovecot.start.out")
        # Someone took a port between the pick and the bind: pick again.
        if [[ $out == *"Address already in use"* && $attempt -lt 3 ]]; then continue; fi
        echo "$out" >&2
        fail_start "dovecot did not start"
    done

    deadline=$((SECONDS + START_TIMEOUT))
    until port_open 127.0.0.1 "$port" && port_open 127.0.0.1 "$sport" && greeting_ok "$port"; do
        ((SECONDS < deadline)) || fail_start "ports $port/$sport not ready after ${START_TIMEOUT}s"
        sleep 0.1
    done
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    is_our_master "$pid" || fail_start "no master PID in $PIDFILE"

    write_env "$port" "$sport" "$pid"
    cat "$ENVF"
    echo "dovecot.sh: dovecot up in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
}

cmd_adduser() {
    set_paths "${1:-}"
    [[ $# -eq 3 ]] || usage
    [[ -f $USERS ]] || die "no server set up in $STATE: run start first"
    ensure_mail_owner
    add_user "$2" "$3"
    if [[ -f $ENVF ]]; then
        local POP3_PORT POP3S_PORT POP3_PID
        # shellcheck disable=SC1090
        source <(grep -E '^(POP3_PORT|POP3S_PORT|POP3_PID)=' "$ENVF")
        write_env "$POP3_PORT" "$POP3S_PORT" "$POP3_PID"
    fi
}

user_maildir() {
    check_user "$1"
    MD=$HOMES/$1/Maildir
    [[ -d $MD/cur ]] || die "no mailbox for user $1 in $STATE (adduser first)"
}

cmd_fill() {
    set_paths "${1:-}"
    [[ $# -ge 3 ]] || usage
    ensure_mail_owner
    user_maildir "$2"
    shift 2
    local files=() arg f
    for arg in "$@"; do
        if [[ -d $arg ]]; then
            # Name order, whatever the locale, so a test controls the message numbers.
            while IFS= read -r -d '' f; do files+=("$f"); done < <(
                find "$arg" -maxdepth 1 -type f -print0 | LC_ALL=C sort -z)
        elif [[ -f $arg ]]; then
            files+=("$arg")
        else
            die "no such file or folder: $arg"
        fi
    done

    # Dovecot numbers new messages by the time.M<usec> in their names, so a counter kept in
    # STATE, spread over a fixed base second, keeps every fill after the ones before it.
    local seqf=$STATE/fill.seq base n size name
    [[ -s $seqf ]] || echo "$(date +%s) 0" >"$seqf"
    read -r base n <"$seqf"
    for f in "${files[@]}"; do
        n=$((n + 1))
        size=$(stat -c %s -- "$f")
        name="$((base + n / 1000000)).M$((n % 1000000))P$$Q$n.pop3test,S=$size:2,"
        # Written in tmp/ and renamed, as maildir delivery must be, so no reader sees half.
        install -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 600 -- "$f" "$MD/tmp/$name"
        mv -- "$MD/tmp/$name" "$MD/cur/$name"
    done
    echo "$base $n" >"$seqf"
    echo "dovecot.sh: delivered ${#files[@]} message(s) to $MD/cur"
}

cmd_clear() {
    set_paths "${1:-}"
    [[ $# -eq 2 ]] || usage
    ensure_mail_owner
    user_maildir "$2"
    # Indexes and dovecot-uidlist go too, so numbering and UIDs start afresh.
    find "$MD" -mindepth 1 -delete
    install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 700 "$MD/cur" "$MD/new" "$MD/tmp"
    echo "dovecot.sh: emptied $MD"
}

cmd_clientcert() {
    set_paths "${1:-}"
    [[ $# -eq 2 ]] || usage
    check_user "$2"
    make_client_cert "$2"
    echo "$TLS/client-$2.pem"
    echo "$TLS/client-$2.key"
}

# base64url without padding, as JWT wants.
b64url() {
    openssl base64 -A | tr '+/' '-_' | tr -d '='
}

# An HS256 JWT that the oauth2 passdb accepts for NAME until SECS from now (0 or less: an
# expired one). Dovecot 2.3.19 needs "typ":"JWT" (exactly) and "alg" in the header, "sub"
# (the user, see username_attribute; XOAUTH2's user= and OAUTHBEARER's a= must equal it)
# and "exp"; "iat" and "nbf" are optional but must not lie in the future. With neither
# "azp" nor a "kid" header the key is looked up under default/HS256/default.
cmd_token() {
    set_paths "${1:-}"
    [[ $# -eq 2 || $# -eq 3 ]] || usage
    check_user "$2"
    local name=$2 secs=${3:-3600} secret now header payload sig
    [[ $secs =~ ^-?[0-9]+$ ]] || die "seconds must be an integer: $secs"
    [[ -r $OAUTH_KEY ]] || die "no OAuth2 key in $STATE: run start first"
    secret=$(base64 -d "$OAUTH_KEY")
    now=$(date +%s)
    header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
    payload=$(printf '{"sub":"%s","iat":%d,"exp":%d}' "$name" "$now" "$((now + secs))" | b64url)
    sig=$(printf '%s.%s' "$header" "$payload" |
        openssl dgst -sha256 -mac HMAC -macopt "key:$secret" -binary | b64url)
    echo "$header.$payload.$sig"
}

main() {
    local cmd=${1:-}
    (($# > 0)) && shift
    case $cmd in
    start) [[ $# -eq 1 ]] || usage; cmd_start "$@" ;;
    stop) [[ $# -eq 1 ]] || usage; cmd_stop "$@" ;;
    adduser) cmd_adduser "$@" ;;
    fill) cmd_fill "$@" ;;
    clear) cmd_clear "$@" ;;
    clientcert) cmd_clientcert "$@" ;;
    token) cmd_token "$@" ;;
    *) usage ;;
    esac
}

main "$@"
