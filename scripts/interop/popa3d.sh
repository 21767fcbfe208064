# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by scripts/interop.sh
# popa3d 1.0.3 (Openwall), unpacked from Debian's package (it conflicts with dovecot-pop3d).
#
# popa3d has no TLS, no APOP, no SASL and no CAPA; its standalone mode (-D) binds 0.0.0.0
# port 110, which is compiled in, so it runs as inetd would run it: socat accepts on
# 127.0.0.1:PORT and, for each connection, forks and execs popa3d with the socket as its
# stdin and stdout (EXEC:...,nofork). popa3d itself runs the unauthenticated part as user
# popa3d chrooted to /var/lib/popa3d (both compiled in; created here, as the package would,
# if missing), checks the password through PAM (service "popa3d"; without the package's
# /etc/pam.d/popa3d PAM uses /etc/pam.d/other, i.e. the system's common-auth: pam_unix) and
# then serves the mbox /var/mail/USER as that user.
#
# So its users are system accounts: adduser NAME makes pop3i_NAME (no home, no shell, the
# password set with chpasswd); they are kept for later runs and never removed, and every
# STATE shares them (the last adduser sets the password). /var/mail is compiled in too: the
# whole accept loop runs in a private mount namespace where STATE/mail is bind-mounted on
# /var/mail, so the spool is STATE/mail/pop3i_NAME and the system's /var/mail is untouched.
#
# fill appends each file to the mbox as a local delivery agent does (mbox_append: CRLF ->
# LF, "From " lines quoted with ">"); popa3d sends LF as CRLF and does not unquote, so a body
# line "From here" comes back as ">From here"; all else is as filled, LIST sizes exact.
# Its UIDL is a hash of some headers: two messages can share one. A wrong password costs
# 2.5 s and closes the connection; every response text is empty ("+OK", "-ERR").
# Syslog is all popa3d logs to (nothing here if no syslog daemon runs); POP3_LOG is socat's
# log (connections, exits).

SRV_STLS=0
SRV_APOP=0
SRV_MECHANISMS=''
SRV_POP3S=0
POPA3D_PREFIX=pop3i_

srv_install() {
    apt_install socat
    ROOT=$(unpacked_tree popa3d popa3d)
    [[ -x $ROOT/usr/sbin/popa3d ]] || die "no popa3d in $ROOT"
    getent passwd popa3d >/dev/null ||
        useradd --system --no-create-home --home-dir /var/lib/popa3d \
            --shell /usr/sbin/nologin --user-group popa3d
    [[ -d /var/lib/popa3d ]] || install -d -m 755 /var/lib/popa3d
}

pa_paths() {
    PA_SPOOL=$STATE/mail
    SRV_LOG=$LOGDIR/socat.log
}

srv_login() { echo "$POPA3D_PREFIX$1"; }

srv_prepare() {
    pa_paths
    # Like /var/mail: anyone may create a lock file, nobody may remove another's.
    install -d -m 1777 "$PA_SPOOL"
}

srv_adduser() {
    local name=$1 pw=$2 login
    pa_paths
    login=$(srv_login "$name")
    if ! getent passwd "$login" >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin --user-group --comment "pop3 interop test user" "$login"
    fi
    [[ $(getent passwd "$login" | cut -d: -f5) == "pop3 interop test user" ]] ||
        die "system user $login exists but was not made by interop.sh; not touching it"
    printf '%s:%s\n' "$login" "$pw" | chpasswd
    [[ -e $PA_SPOOL/$login ]] || install -o "$login" -g "$login" -m 600 /dev/null "$PA_SPOOL/$login"
}

srv_launch() {
    pa_paths
    : >"$SRV_LOG"
    # popa3d (unlike inetd) must not inherit socat's log as its stderr: send it to a file.
    # shellcheck disable=SC2016
    setsid unshare --mount --propagation private -- /bin/sh -c '
        mount --bind "$1" /var/mail || exit 1
        shift
        exec "$@"' sh "$PA_SPOOL" \
        socat -d -d -lf "$SRV_LOG" \
        "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork,max-children=1200,backlog=128" \
        "EXEC:$ROOT/usr/sbin/popa3d,nofork" \
        </dev/null >>"$LOGDIR/popa3d.err" 2>&1 &
    MAIN_PID=$!
    record_pid "$MAIN_PID" socat || return 1
    wait_listen "$MAIN_PID" "$PORT"
}

srv_check_running() { is_ours "$MAIN_PID" "$(proc_start "$MAIN_PID")" socat; }

srv_after_stop() { :; }

srv_fill() {
    local name=$1 f mbox login
    shift
    pa_paths
    login=$(srv_login "$name")
    mbox=$PA_SPOOL/$login
    [[ -f $mbox ]] || die "no mailbox for $name in $STATE"
    for f in "$@"; do mbox_append "$f" "$mbox"; done
    chown "$login:$login" "$mbox"
}

srv_clear() {
    pa_paths
    local mbox
    mbox=$PA_SPOOL/$(srv_login "$1")
    [[ -f $mbox ]] || die "no mailbox for $1 in $STATE"
    : >"$mbox"
}
