# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by scripts/interop.sh
# Cyrus IMAP 3.6.1's pop3d (cyrus-pop3d, cyrus-common: unpacked, they conflict with Dovecot;
# their libraries are installed, and libsasl2-modules(-db) and sasl2-bin for the sasldb).
#
# Cyrus' master (`master -C STATE/cyrus/imapd.conf -M STATE/cyrus/cyrus.conf`, in the
# foreground) starts as root, becomes the mail owner (cyrus_user) and runs pop3d on
# 127.0.0.1:PORT (STLS), `pop3d -s` on SPORT (implicit TLS) and lmtpd on a Unix socket in
# STATE for delivery. Its shared libraries come from the unpacked tree (LD_LIBRARY_PATH,
# which master passes on). Everything, config, mailboxes, databases, sockets, lives in
# STATE/cyrus. Cyrus logs through syslog only; POP3_LOG is master's stdout/stderr.
#
# Users: a private sasldb (STATE/cyrus/sasldb2, plaintext secrets, realm = servername =
# localhost), so USER/PASS, APOP and SASL PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-SHA-1
# and SCRAM-SHA-256 all work. An INBOX is made at the first delivery or login.
#
# fill delivers through LMTP with Cyrus' own deliver (as an MTA would; Cyrus must be running)
# and lmtpd stores CRLF lines. Observed: it prepends Return-Path: <pop3-interop@localhost>,
# a 4-line Received: (from deliver ... with LMTPA; DATE), X-Cyrus-Session-Id: and X-Sieve:
# CMU Sieve 3.0, appends Message-ID: <cmu-lmtpd-...@localhost> and Date: when the message has
# none, and turns every 8-bit byte in a header into 'X' (munge8bit; "caf\xc3\xa9 \xff" ->
# "cafXX X"); bodies, 8-bit included, and dot lines are kept. LIST sizes are RETR's. UIDL is
# UIDVALIDITY.UID. clear expunges every message with ipurge (UIDs keep rising, as on a real
# server). A failed login costs 3 s.

SRV_STLS=1
SRV_APOP=1
SRV_MECHANISMS='PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256'
SRV_POP3S=1

srv_install() {
    apt_install libsasl2-modules libsasl2-modules-db sasl2-bin libclamav12 libical3 \
        libicu72 libjansson4 libpq5 libxapian30 libzephyr4 libpcre3 libwrap0 libsqlite3-0 \
        libxml2 libldap-2.5-0 libkrb5-3 libssl3 libcom-err2
    ROOT=$(unpacked_tree cyrus cyrus-pop3d cyrus-common)
    [[ -x $ROOT/usr/lib/cyrus/bin/master && -x $ROOT/usr/lib/cyrus/bin/pop3d ]] ||
        die "no Cyrus master/pop3d in $ROOT"
}

cy_paths() {
    CY=$STATE/cyrus
    CY_CONF=$CY/imapd.conf
    CY_MASTER_CONF=$CY/cyrus.conf
    CY_DIR=$CY/conf
    CY_SPOOL=$CY/spool
    CY_SASLDB=$CY/sasldb2
    CY_BIN=$ROOT/usr/lib/cyrus/bin
    CY_LIB=$(dirname "$(find "$ROOT/usr/lib" -name 'libcyrus.so.0' -print -quit)")
    SRV_LOG=$LOGDIR/master.log
}

# Cyrus tools with their libraries, as root (they become cyrus_user themselves).
cy_run() {
    local tool=$1
    shift
    LD_LIBRARY_PATH=$CY_LIB "$CY_BIN/$tool" -C "$CY_CONF" "$@"
}

srv_login() { echo "$1"; }

srv_prepare() {
    cy_paths
    local d
    ((${#CY_DIR} + 20 < 108)) || die "state dir path too long for Cyrus' Unix sockets: $STATE"
    install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 750 "$CY"
    for d in "$CY_DIR" "$CY_SPOOL" "$CY_DIR"/{db,log,lock,proc,socket,quota,user,sieve,msg,ptclient}; do
        install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 750 "$d"
    done
    cat >"$CY_CONF" <<EOF
# Written by scripts/interop.sh at each start; edits are lost.
configdirectory: $CY_DIR
defaultpartition: default
partition-default: $CY_SPOOL
sievedir: $CY_DIR/sieve
cyrus_user: $MAIL_OWNER
cyrus_group: $MAIL_OWNER
servername: localhost
syslog_prefix: pop3-interop
unixhierarchysep: yes
lmtpsocket: $CY_DIR/socket/lmtp
idlesocket: $CY_DIR/socket/idle
notifysocket: $CY_DIR/socket/notify
# Tests use USER/PASS and every mechanism over plain TCP as well.
allowplaintext: yes
allowapop: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $CY_SASLDB
sasl_mech_list: $SRV_MECHANISMS
tls_server_cert: $TLS/server.pem
tls_server_key: $TLS/server.key
tls_client_ca_file: $TLS/ca.pem
autocreate_quota: 0
autocreate_post: yes
popminpoll: 0
EOF
    chmod 644 "$CY_CONF"
}

srv_adduser() {
    local name=$1 pw=$2
    cy_paths
    printf '%s' "$pw" | saslpasswd2 -p -c -u localhost -f "$CY_SASLDB" "$name" ||
        die "saslpasswd2 failed for $name"
    chown "$MAIL_OWNER:$MAIL_OWNER" "$CY_SASLDB"
    chmod 640 "$CY_SASLDB"
}

cy_write_master_conf() {
    cat >"$CY_MASTER_CONF" <<EOF
# Written by scripts/interop.sh at each start; edits are lost.
START {
}
SERVICES {
  pop3     cmd="$CY_BIN/pop3d -C $CY_CONF" listen="127.0.0.1:$PORT" prefork=0 maxchild=1200
  pop3s    cmd="$CY_BIN/pop3d -s -C $CY_CONF" listen="127.0.0.1:$SPORT" prefork=0 maxchild=1200
  lmtpunix cmd="$CY_BIN/lmtpd -C $CY_CONF" listen="$CY_DIR/socket/lmtp" prefork=0 maxchild=20
}
EVENTS {
}
DAEMON {
}
EOF
    chmod 644 "$CY_MASTER_CONF"
}

srv_launch() {
    cy_paths
    cy_write_master_conf
    : >"$SRV_LOG"
    setsid env LD_LIBRARY_PATH="$CY_LIB" "$CY_BIN/master" -C "$CY_CONF" -M "$CY_MASTER_CONF" \
        -p "$RUN/master.pid" -L "$SRV_LOG" </dev/null >>"$LOGDIR/master.out" 2>&1 &
    MAIN_PID=$!
    record_pid "$MAIN_PID" master || return 1
    wait_listen "$MAIN_PID" "$PORT" "$SPORT"
}

srv_check_running() { is_ours "$MAIN_PID" "$(proc_start "$MAIN_PID")" master; }

srv_after_stop() { rm -f "$RUN/master.pid"; }

srv_fill() {
    local name=$1 f
    shift
    cy_paths
    [[ -S $CY_DIR/socket/lmtp ]] || die "Cyrus is not running in $STATE (no LMTP socket)"
    for f in "$@"; do
        cy_run deliver -q -a "$name" -r "pop3-interop@localhost" "$name" <"$f" ||
            die "deliver failed for $f"
    done
}

srv_clear() {
    cy_paths
    # Every message bigger than 0 bytes, i.e. all, is expunged.
    cy_run ipurge -f -b 0 "user/$1" >/dev/null || die "ipurge failed for $1"
}
