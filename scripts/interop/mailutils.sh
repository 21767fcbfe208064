# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by scripts/interop.sh
# GNU Mailutils pop3d (package mailutils-pop3d, installed: it does not conflict with Dovecot).
#
# One daemon (`pop3d --config-file STATE/etc/pop3d.conf`, mode daemon, in the foreground),
# root until a login, then the mail owner's uid. Two server blocks on 127.0.0.1: the plain
# port offers STLS (tls-mode ondemand), the other is implicit TLS (tls-mode connection).
# Users are a virtual domain: STATE/etc/virt/localhost is a passwd-format file (crypt
# passwords), so a user logs in as NAME@localhost and nothing outside STATE changes. APOP
# secrets are in STATE/etc/apop.db (popauth). Mailutils' pop3d has no AUTH command: no SASL.
#
# Mailbox: an mbox, STATE/home/NAME/INBOX. fill appends each file as a local delivery agent
# does (mbox_append: CRLF -> LF, ">"-quoted "From " lines, which pop3d unquotes again);
# pop3d sends LF as CRLF. Observed: RETR always shows headers pop3d adds, X-IMAPbase: (first
# message only), X-UID: and Status: O, plus X-UIDL: once UIDL has been asked; LIST counts a
# message as the mbox held it when the session began (97 bytes, then RETR sends 152), and a
# session that opened the mbox rewrites it with those headers at its end, so sizes grow
# between sessions (97 -> 219).

SRV_STLS=1
SRV_APOP=1
SRV_MECHANISMS=''
SRV_POP3S=1
MU_DOMAIN=localhost

srv_install() {
    apt_install mailutils-pop3d
    ROOT=/
    if ! command -v pop3d >/dev/null || ! command -v popauth >/dev/null; then
        die "mailutils-pop3d installed but pop3d/popauth not found"
    fi
}

mu_paths() {
    MU_ETC=$STATE/etc
    MU_CONF=$MU_ETC/pop3d.conf
    MU_VIRT=$MU_ETC/virt
    MU_APOP=$MU_ETC/apop.db
    MU_HOMES=$STATE/home
    SRV_LOG=$LOGDIR/pop3d.log
}

srv_login() { echo "$1@$MU_DOMAIN"; }

srv_prepare() {
    mu_paths
    install -d -m 755 "$MU_ETC" "$MU_VIRT" "$MU_HOMES"
    chown "$MAIL_OWNER:$MAIL_OWNER" "$RUN"      # for pop3d's pid file
    : >"$MU_VIRT/$MU_DOMAIN"
    chmod 644 "$MU_VIRT/$MU_DOMAIN"
}

srv_adduser() {
    local name=$1 pw=$2 hash home
    mu_paths
    home=$MU_HOMES/$name
    hash=$(openssl passwd -6 -- "$pw")
    install -d -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 700 "$home"
    [[ -e $home/INBOX ]] || install -o "$MAIL_OWNER" -g "$MAIL_OWNER" -m 600 /dev/null "$home/INBOX"
    { awk -F: -v n="$name" '$1 != n' "$MU_VIRT/$MU_DOMAIN"
      printf '%s:%s:%s:%s:pop3 interop:%s:/usr/sbin/nologin\n' \
          "$name" "$hash" "$OWNER_UID" "$OWNER_GID" "$home"; } >"$MU_VIRT/$MU_DOMAIN.tmp"
    chmod 644 "$MU_VIRT/$MU_DOMAIN.tmp"
    mv -f "$MU_VIRT/$MU_DOMAIN.tmp" "$MU_VIRT/$MU_DOMAIN"
    # APOP looks the secret up by the name the client gives.
    popauth -f "$MU_APOP" -m -u "$(srv_login "$name")" -p "$pw" >/dev/null 2>&1 ||
        popauth -f "$MU_APOP" -a -u "$(srv_login "$name")" -p "$pw" >/dev/null ||
        die "popauth could not store the APOP secret of $name"
    chown "$MAIL_OWNER:$MAIL_OWNER" "$MU_APOP"*
    chmod 600 "$MU_APOP"*
}

mu_write_conf() {
    cat >"$MU_CONF" <<EOF
# Written by scripts/interop.sh at each start; edits are lost.
mode daemon;
foreground yes;
pidfile $RUN/pop3d.pid;
max-children 1200;
logging {
    syslog no;
}
server 127.0.0.1:$PORT {
    tls-mode ondemand;
}
server 127.0.0.1:$SPORT {
    tls-mode connection;
}
tls {
    ssl-certificate-file $TLS/server.pem;
    ssl-key-file $TLS/server.key;
    ssl-ca-file $TLS/ca.pem;
}
tls-file-checks {
    key-file none;
    cert-file none;
    ca-file none;
}
auth {
    authorization virtdomain;
    authentication generic;
}
virtdomain {
    passwd-dir $MU_VIRT;
}
apop-database-file $MU_APOP;
mailbox {
    mailbox-type mbox;
}
EOF
}

srv_launch() {
    mu_paths
    mu_write_conf
    pop3d --config-file="$MU_CONF" --config-lint >"$LOGDIR/lint.out" 2>&1 ||
        { cat "$LOGDIR/lint.out" >&2; die "pop3d rejects $MU_CONF"; }
    : >"$SRV_LOG"
    # Every mailbox belongs to the mail owner, so the whole server can run as it (pop3d then
    # switches to the uid it already has). pop3d insists on setgid(mail) at startup, which
    # an unprivileged process may do only if mail is already its group; the key is readable
    # through the supplementary group.
    setsid setpriv --reuid="$MAIL_OWNER" --regid=mail --groups="$OWNER_GID" -- \
        pop3d --config-file="$MU_CONF" </dev/null >>"$SRV_LOG" 2>&1 &
    MAIN_PID=$!
    record_pid "$MAIN_PID" pop3d || return 1
    wait_listen "$MAIN_PID" "$PORT" "$SPORT"
}

srv_check_running() { is_ours "$MAIN_PID" "$(proc_start "$MAIN_PID")" pop3d; }

srv_after_stop() { rm -f "$STATE/run/pop3d.pid"; }

srv_fill() {
    local name=$1 f mbox
    shift
    mu_paths
    mbox=$MU_HOMES/$name/INBOX
    [[ -f $mbox ]] || die "no mailbox for $name in $STATE"
    for f in "$@"; do mbox_append "$f" "$mbox"; done
    chown "$MAIL_OWNER:$MAIL_OWNER" "$mbox"
}

srv_clear() {
    mu_paths
    local mbox=$MU_HOMES/$1/INBOX
    [[ -f $mbox ]] || die "no mailbox for $1 in $STATE"
    : >"$mbox"
}
