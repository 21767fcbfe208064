# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by scripts/interop.sh
# Courier POP3 1.0.16 (courier-pop, courier-base: unpacked, they conflict with Dovecot) with
# Courier's authentication library (courier-authlib, -authdaemon, -authlib-userdb: installed,
# they do not conflict; their authdaemond service is not started).
#
# Processes, as Debian's init scripts run them: authdaemond (root) answering on
# /run/courier/authdaemon/socket from the userdb; couriertcpd (root) on 127.0.0.1:PORT running
# courierpop3login, which offers STLS (through couriertls) and SASL, checks the password with
# authdaemond, then becomes the mail owner and execs courierpop3d on the user's Maildir; a
# second couriertcpd on SPORT runs couriertls (as user courier) in front of the same pair
# for implicit TLS. libcourierauth has /etc/courier and that socket path compiled in, so all
# three run in a private mount namespace (unshare -m) where STATE/courier/etc is bind-mounted
# on /etc/courier and STATE/courier/authrun on /run/courier/authdaemon: the system's files are
# neither read nor changed (the two folders must exist as mount points; the packages make
# /etc/courier, and /run/courier/authdaemon is made here if missing, as tmpfiles.d would).
#
# Users: STATE/courier/etc/userdb (crypt password, plus the HMAC secrets that CRAM-MD5,
# CRAM-SHA1 and CRAM-SHA256 need, made with userdbpw), compiled with makeuserdb; mail in
# STATE/home/NAME/Maildir owned by the mail owner. Courier has no APOP.
#
# fill writes each file into new/ as Courier's deliverquota would, after turning each CRLF
# into LF (a Maildir holds Unix lines, as an MTA writes them; courierpop3d sends LF as CRLF
# and counts it so in LIST), with names that keep fill order (see srv_fill). So RETR returns
# the filled bytes, except that courierpop3d replaces a message whose headers hold 8-bit
# bytes with a generated multipart notice ("Cannot display Unicode content", the original
# as a message/global part; "+OK 783 octets follow." where LIST says 76) unless the client
# has sent UTF8 (RFC 6856) first. UIDL is UIDn-TIME. A failed login costs 5 s.

SRV_STLS=1
SRV_APOP=0
SRV_MECHANISMS='PLAIN LOGIN CRAM-MD5 CRAM-SHA1 CRAM-SHA256'
SRV_POP3S=1

srv_install() {
    apt_install courier-authlib courier-authdaemon courier-authlib-userdb \
        libcourier-unicode4 libgamin0 libidn12 libpcre3 libgdbm6 libgnutls30
    ROOT=$(unpacked_tree courier courier-pop courier-base)
    [[ -x $ROOT/usr/lib/courier/courier/courierpop3login ]] || die "no courierpop3login in $ROOT"
    [[ -d /etc/courier ]] || die "/etc/courier missing (courier-authdaemon should make it)"
    getent passwd courier >/dev/null || die "no user courier (courier-authlib should make it)"
    [[ -d /run/courier/authdaemon ]] || install -d -m 750 /run/courier/authdaemon
}

co_paths() {
    CO_ETC=$STATE/courier/etc
    CO_USERDB=$CO_ETC/userdb
    CO_HOMES=$STATE/home
    SRV_LOG=$LOGDIR/pop3d.log
}

srv_login() { echo "$1"; }

srv_prepare() {
    co_paths
    install -d -m 755 "$STATE/courier" "$CO_HOMES"
    install -d -m 750 "$CO_ETC" "$STATE/courier/authrun"
    cat >"$CO_ETC/authdaemonrc" <<EOF
# Written by scripts/interop.sh at each start; edits are lost.
authmodulelist="authuserdb"
authmodulelistorig="authuserdb"
daemons=2
authdaemonvar=/run/courier/authdaemon
DEBUG_LOGIN=0
DEFAULTOPTIONS=""
LOGGEROPTS=""
EOF
    install -m 600 /dev/null "$CO_USERDB"
    # couriertls runs as user courier (compiled in for STLS; -user=courier for the TLS port,
    # as Debian's init script says), so the key is for group courier.
    chgrp courier "$TLS/server-combined.pem"
}

userdb_secret() {               # userdbpw -OPTION, password on stdin
    printf '%s\n' "$2" | userdbpw "$1" 2>/dev/null
}

srv_adduser() {
    local name=$1 pw=$2 home fields
    co_paths
    home=$CO_HOMES/$name
    install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 700 "$home" "$home/Maildir" \
        "$home/Maildir/cur" "$home/Maildir/new" "$home/Maildir/tmp"
    fields="uid=$OWNER_UID|gid=$OWNER_GID|home=$home|mail=$home/Maildir"
    fields+="|systempw=$(openssl passwd -6 -- "$pw")"
    fields+="|hmac-md5pw=$(userdb_secret -hmac-md5 "$pw")"
    fields+="|hmac-sha1pw=$(userdb_secret -hmac-sha1 "$pw")"
    fields+="|hmac-sha256pw=$(userdb_secret -hmac-sha256 "$pw")"
    { awk -v n="$name" '$1 != n' "$CO_USERDB"; printf '%s\t%s\n' "$name" "$fields"; } >"$CO_USERDB.tmp"
    chmod 600 "$CO_USERDB.tmp"
    mv -f "$CO_USERDB.tmp" "$CO_USERDB"
    makeuserdb -f "$CO_USERDB" || die "makeuserdb failed"
}

srv_launch() {
    co_paths
    : >"$SRV_LOG"
    rm -f "$RUN"/*.pid
    # Returns once the three daemons are started (they stay in the namespace).
    unshare --mount --propagation private -- \
        bash "$SCRIPTS/interop/courier-ns.sh" "$STATE" "$ROOT" "$PORT" "$SPORT" courier ||
        return 1
    local name pid ok=1
    # Record every one that runs before judging, so a failed start leaves none behind.
    for name in authdaemond couriertcpd couriertcpd-ssl; do
        pid=$(cat "$RUN/$name.pid" 2>/dev/null) || { ok=0; continue; }
        record_pid "$pid" "${name%-ssl}" || ok=0
    done
    ((ok)) || return 1
    MAIN_PID=$(cat "$RUN/couriertcpd.pid")
    wait_listen "$MAIN_PID" "$PORT" "$SPORT" || return 1
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -S $STATE/courier/authrun/socket ]] && return 0
        sleep 0.05
    done
    note "authdaemond made no socket in $STATE/courier/authrun"
    return 1
}

srv_check_running() {
    local pid start name ok=0
    while read -r pid start name; do
        is_ours "$pid" "$start" "$name" && ((++ok))
    done <"$STATE/pids"
    ((ok == 3))
}

srv_after_stop() { rm -f "$RUN"/*.pid; }

co_maildir() {
    co_paths
    MD=$CO_HOMES/$1/Maildir
    [[ -d $MD/cur ]] || die "no mailbox for $1 in $STATE"
}

srv_fill() {
    local name=$1 f seqf base n size file
    shift
    co_maildir "$name"
    # Written as deliverquota would (tmp/, then a rename into new/), but named by hand:
    # courierpop3d lists a Maildir in file-name order, and deliverquota's names carry the
    # microseconds unpadded (1.M95157 sorts after 1.M101374), so its deliveries within one
    # second come out shuffled. A counter kept in STATE, zero-padded, keeps fill order.
    seqf=$STATE/fill.seq
    [[ -s $seqf ]] || echo "$(date +%s) 0" >"$seqf"
    read -r base n <"$seqf"
    for f in "$@"; do
        n=$((n + 1))
        file=$MD/tmp/$((base + n / 1000000)).M$(printf '%06d' $((n % 1000000)))P$$Q$n.pop3interop
        to_unix_lines "$f" >"$file"
        size=$(stat -c %s -- "$file")
        chown "$MAIL_OWNER:$MAIL_OWNER" "$file"
        chmod 600 "$file"
        mv -- "$file" "$MD/new/${file##*/},S=$size"
    done
    echo "$base $n" >"$seqf"
}

srv_clear() {
    co_maildir "$1"
    find "$MD" -mindepth 1 -delete
    install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 700 "$MD/cur" "$MD/new" "$MD/tmp"
}
