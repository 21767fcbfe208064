# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by scripts/interop.sh
# Helpers shared by scripts/interop.sh and its per-server parts (scripts/interop/*.sh).
# Sourced, never run. Everything here runs as root.

readonly MAIL_OWNER=pop3test            # also dovecot.sh's: owns mail, runs servers that drop root
readonly TLS_NAME=localhost
readonly START_TIMEOUT=20               # seconds for the ports to answer
readonly STOP_TIMEOUT=10
# Packages that conflict with dovecot-pop3d are unpacked here (dpkg -x), never installed.
readonly CACHE=${POP3_INTEROP_CACHE:-/var/cache/pop3-interop}
# What start may remove in STATE: only names this script creates.
readonly STATE_ENTRIES="server env env.sh users pids tls log run etc mail home cyrus courier fill.seq"

die() { echo "interop.sh: $*" >&2; exit 1; }
note() { echo "interop.sh: $*" >&2; }

# used_ports, pick_ports (into PICKED), greeting_ok: shared with scripts/dovecot.sh.
# shellcheck source=scripts/lib/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ports.sh"

check_state_path() {
    [[ $1 =~ ^/[A-Za-z0-9._/+-]*$ && $1 != / ]] ||
        die "state dir path must be plain (A-Z a-z 0-9 . _ / + -) and not /: $1"
}
check_user() {
    [[ $1 =~ ^[a-z][a-z0-9_-]{0,15}$ ]] || die "user name must match [a-z][a-z0-9_-]{0,15}: $1"
}
check_password() {
    [[ $1 =~ ^[A-Za-z0-9._@+-]+$ ]] || die "password must match [A-Za-z0-9._@+-]+: $1"
}

# Serialises installs and user creation: tests may start servers in parallel.
with_setup_lock() {
    local dir=/run/lock
    [[ -d $dir ]] || dir=/tmp
    exec 9>"$dir/pop3-interop-setup.lock"
    flock -w 900 9 || die "timed out waiting for another interop.sh setup"
}
end_setup_lock() { exec 9>&-; }

apt_install() {
    "$SCRIPTS/apt-install.sh" "$@"
}

ensure_mail_owner() {
    getent passwd "$MAIL_OWNER" >/dev/null ||
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$MAIL_OWNER"
    OWNER_UID=$(id -u "$MAIL_OWNER")
    OWNER_GID=$(id -g "$MAIL_OWNER")
}

# The candidate version of PACKAGE, refreshing the package lists once if apt knows none.
candidate_version() {
    local v
    v=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    if [[ -z $v || $v == "(none)" ]]; then
        apt-get -q -o DPkg::Lock::Timeout=300 update >&2 || true
        v=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    fi
    [[ -n $v && $v != "(none)" ]] || die "apt knows no package $1"
    echo "$v"
}

# Unpack PACKAGE... (conflicting with dovecot-pop3d, so never installed) into one tree,
# $CACHE/NAME-VERSION, where VERSION is the first package's. Prints the tree's path. Kept
# between runs; a complete tree has a .complete file.
unpacked_tree() {
    local name=$1 first=$2 version root tmp p deb
    shift
    version=$(candidate_version "$first")
    root=$CACHE/$name-${version//[^A-Za-z0-9.+-]/_}
    if [[ ! -f $root/.complete ]]; then
        mkdir -p "$CACHE"
        tmp=$(mktemp -d "$CACHE/.unpack.XXXXXX")
        # _apt downloads into a folder it can write; root-only temp dirs get a warning only.
        chmod 755 "$tmp"
        mkdir "$tmp/debs" "$tmp/root"
        chmod 777 "$tmp/debs"
        (cd "$tmp/debs" && apt-get -q download "$@" >&2) || {
            apt-get -q -o DPkg::Lock::Timeout=300 update >&2 || true
            (cd "$tmp/debs" && apt-get -q download "$@" >&2)
        } || { rm -rf "$tmp"; die "apt-get download $* failed"; }
        for deb in "$tmp"/debs/*.deb; do
            dpkg -x "$deb" "$tmp/root" || { rm -rf "$tmp"; die "dpkg -x $deb failed"; }
        done
        for p in "$@"; do dpkg-deb -f "$tmp"/debs/"${p}"_*.deb Package Version; done \
            >"$tmp/root/.packages"
        chmod 755 "$tmp/root"
        touch "$tmp/root/.complete"
        rm -rf "$root"
        mv "$tmp/root" "$root"
        rm -rf "$tmp"
    fi
    echo "$root"
}

port_listening() {
    local hex
    printf -v hex '0100007F:%04X' "$1"
    grep -qs " $hex 00000000:0000 0A " /proc/net/tcp
}

# A test CA, a wrong CA, and a leaf for localhost/127.0.0.1/::1 signed by the CA. The key is
# readable by group $MAIL_OWNER (servers that drop root read it as that user).
make_certs() {
    rm -rf "$TLS"
    mkdir -p "$TLS"
    chmod 755 "$TLS"
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
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$TLS_NAME, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    for name in ca wrong-ca; do
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$TLS/$name.key" -out "$TLS/$name.pem" -days 3650 -sha256 \
            -subj "/CN=pop3 interop $name $(date +%s%N)" -config "$cnf" -extensions ca \
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
    # Key and leaf in one file, for servers that want them together (Courier).
    cat "$TLS/server.key" "$TLS/server.pem" >"$TLS/server-combined.pem"
    chown "root:$MAIL_OWNER" "$TLS/server.key" "$TLS/server-combined.pem"
    chmod 640 "$TLS/server.key" "$TLS/server-combined.pem"
    chmod 600 "$TLS/ca.key" "$TLS/wrong-ca.key"
    chmod 644 "$TLS/ca.pem" "$TLS/wrong-ca.pem" "$TLS/server.pem"
}

# --- processes -------------------------------------------------------------------------

# Field 22 of /proc/PID/stat: start time in clock ticks since boot. PID plus start time
# names one process for good, so a reused PID is never taken for ours.
proc_start() {
    local stat rest fields
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    [[ ${fields[0]:-} != Z ]] || return 1       # a zombie holds nothing
    echo "${fields[19]}"
}

proc_argv0() {
    local args=()
    mapfile -d '' args <"/proc/$1/cmdline" 2>/dev/null || return 1
    echo "${args[0]:-}"
}

# Record PID (its program's base name must be NAME) in STATE/pids.
# A launcher (setsid, env, unshare, sh) may not have exec'd it yet: wait a little.
record_pid() {
    local pid=$1 name=$2 start argv0 i
    for ((i = 0; i < 100; i++)); do
        start=$(proc_start "$pid") || return 1
        argv0=$(proc_argv0 "$pid") || return 1
        if [[ ${argv0##*/} == "$name" ]]; then
            echo "$pid $start $name" >>"$STATE/pids"
            return 0
        fi
        sleep 0.02
    done
    return 1
}

# Is the recorded process (PID START NAME) still that one?
is_ours() {
    local start argv0
    start=$(proc_start "$1") || return 1
    [[ $start == "$2" ]] || return 1
    argv0=$(proc_argv0 "$1") || return 1
    [[ ${argv0##*/} == "$3" ]]
}

# "PID START" of every descendant of PID.
descendants_of() {
    local -A parent=() start=()
    local f stat rest fields pid queue=("$1") p c
    for f in /proc/[0-9]*/stat; do
        { read -r stat <"$f"; } 2>/dev/null || continue
        rest=${stat##*) }
        read -r -a fields <<<"$rest"
        pid=${f//[^0-9]/}
        parent[$pid]=${fields[1]}
        start[$pid]=${fields[19]}
    done
    while ((${#queue[@]})); do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        for c in "${!parent[@]}"; do
            if [[ ${parent[$c]} == "$p" ]]; then
                echo "$c ${start[$c]}"
                queue+=("$c")
            fi
        done
    done
}

# TERM every recorded process that is still ours, wait, KILL what is left, then do the same
# for their descendants (sessions that outlive their listener). Never by name.
stop_recorded() {
    local pids=$STATE/pids pid start name kids='' deadline left
    [[ -s $pids ]] || return 0
    local tops=()
    while read -r pid start name; do
        [[ -n ${pid:-} ]] || continue
        is_ours "$pid" "$start" "$name" || continue
        tops+=("$pid $start $name")
        kids+=$(descendants_of "$pid")$'\n'
    done <"$pids"
    for t in "${tops[@]}"; do
        read -r pid start name <<<"$t"
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    while :; do
        left=0
        for t in "${tops[@]}"; do
            read -r pid start name <<<"$t"
            if is_ours "$pid" "$start" "$name"; then left=1; fi
        done
        ((left && SECONDS < deadline)) || break
        sleep 0.05
    done
    for t in "${tops[@]}"; do
        read -r pid start name <<<"$t"
        if is_ours "$pid" "$start" "$name"; then
            note "$name ($pid) ignored TERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    # Descendants: TERM those still there (same PID and start time), then KILL.
    local live=()
    while read -r pid start; do
        [[ -n ${pid:-} ]] || continue
        [[ $(proc_start "$pid" 2>/dev/null) == "$start" ]] || continue
        live+=("$pid $start")
        kill -TERM "$pid" 2>/dev/null || true
    done <<<"$kids"
    deadline=$((SECONDS + 3))
    for t in "${live[@]}"; do
        read -r pid start <<<"$t"
        while [[ $(proc_start "$pid" 2>/dev/null) == "$start" ]] && ((SECONDS < deadline)); do
            sleep 0.05
        done
        if [[ $(proc_start "$pid" 2>/dev/null) == "$start" ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    rm -f "$pids"
    STOPPED=${#tops[@]}
}

# --- mail formats ----------------------------------------------------------------------

# The files of PATH... (a folder's files in name order, whatever the locale), in FILES.
collect_files() {
    local arg f
    FILES=()
    for arg in "$@"; do
        if [[ -d $arg ]]; then
            while IFS= read -r -d '' f; do FILES+=("$f"); done < <(
                find "$arg" -maxdepth 1 -type f -print0 | LC_ALL=C sort -z)
        elif [[ -f $arg ]]; then
            FILES+=("$arg")
        else
            die "no such file or folder: $arg"
        fi
    done
}

# A message as a Unix MDA stores it: each CRLF becomes LF (a lone CR stays), and a last
# line without a newline gets one.
to_unix_lines() {
    # shellcheck disable=SC1003  # '$a\' is sed's "add a final newline if missing"
    LC_ALL=C sed -e 's/\r$//' -e '$a\' -- "$1"
}

# Append FILE to mbox MBOX as a local delivery agent does: a "From " separator line, the
# message in Unix lines with "From " lines (and ">From " ones) quoted by one more ">"
# (mboxrd), and an empty line after it.
mbox_append() {
    local file=$1 mbox=$2
    {
        printf 'From MAILER-DAEMON %s\n' "$(LC_ALL=C date -u '+%a %b %e %H:%M:%S %Y')"
        to_unix_lines "$file" | LC_ALL=C sed -E 's/^(>*From )/>\1/'
        printf '\n'
    } >>"$mbox"
}

# Wait until every PORT listens on 127.0.0.1; fail early (1) when process PID is gone (most
# likely a port someone took meanwhile: start then picks others).
wait_listen() {
    local pid=$1 p deadline=$((SECONDS + START_TIMEOUT)) all
    shift
    while :; do
        all=1
        for p in "$@"; do
            [[ -z $p ]] || port_listening "$p" || all=0
        done
        ((all)) && return 0
        [[ -e /proc/$pid ]] && [[ $(proc_start "$pid" 2>/dev/null) ]] || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}
