#!/usr/bin/env bash
# Runs inside the private mount namespace that scripts/interop/courier.sh makes (unshare -m):
# puts STATE's Courier files where the binaries look for them, then starts the three
# daemons in the background and writes their PIDs to STATE/run/NAME.pid. Not for direct use.
#   courier-ns.sh STATE ROOT PORT SPORT TLS_USER
set -euo pipefail

STATE=$1 ROOT=$2 PORT=$3 SPORT=$4 TLS_USER=$5
ETC=$STATE/courier/etc
LOG=$STATE/log

# Compiled into libcourierauth and authdaemond: /etc/courier/authdaemonrc and userdb.dat,
# and the socket /run/courier/authdaemon/socket. Only this namespace sees these mounts.
mount --bind "$ETC" /etc/courier
mount --bind "$STATE/courier/authrun" /run/courier/authdaemon

# The settings Debian's /etc/courier/pop3d and pop3d-ssl give, with our paths. env -i: the
# daemons and every login see only these.
common=(
    PATH=/usr/bin:/bin:/usr/sbin:/sbin SHELL=/bin/sh LANG=C.UTF-8
    POP3AUTH="PLAIN LOGIN CRAM-MD5 CRAM-SHA1 CRAM-SHA256"
    POP3AUTH_TLS="PLAIN LOGIN CRAM-MD5 CRAM-SHA1 CRAM-SHA256"
    POP3_PROXY=0 PROXY_HOSTNAME=
    COURIERTLS="$ROOT/usr/bin/couriertls"
    TLS_CERTFILE="$STATE/tls/server-combined.pem"
    TLS_TRUSTCERTS="$STATE/tls/ca.pem"
    TLS_VERIFYPEER=NONE
    MAILDIRPATH=Maildir
    MIME_UNICODE_MESSAGE_TYPE=message/global
)
tcpd=(
    "$ROOT/usr/sbin/couriertcpd" -address=127.0.0.1 -maxprocs=1200 -maxperip=1200
    -nodnslookup -noidentlookup
)
login=("$ROOT/usr/lib/courier/courier/courierpop3login" "$ROOT/usr/lib/courier/courier/courierpop3d" Maildir)

setsid env -i "${common[@]}" /usr/lib/courier/courier-authlib/authdaemond \
    </dev/null >>"$LOG/authdaemond.log" 2>&1 &
echo $! >"$STATE/run/authdaemond.pid"

setsid env -i "${common[@]}" POP3_STARTTLS=YES POP3_TLS_REQUIRED=0 \
    "${tcpd[@]}" -stderr="$LOG/pop3d.log" "$PORT" "${login[@]}" \
    </dev/null >>"$LOG/pop3d.log" 2>&1 &
echo $! >"$STATE/run/couriertcpd.pid"

setsid env -i "${common[@]}" POP3_TLS=1 POP3_STARTTLS=NO POP3_TLS_REQUIRED=0 \
    "${tcpd[@]}" -stderr="$LOG/pop3d.log" "$SPORT" \
    "$ROOT/usr/bin/couriertls" -server -tcpd -user="$TLS_USER" "${login[@]}" \
    </dev/null >>"$LOG/pop3d.log" 2>&1 &
echo $! >"$STATE/run/couriertcpd-ssl.pid"
