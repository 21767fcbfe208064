# shellcheck shell=bash
# Shared by scripts/dovecot.sh and scripts/interop.sh (sourced): free loopback ports, and
# whether a POP3 server on one is ready.

# Ports in any state count (listening, connected, TIME_WAIT). Not `while read <file`: bash
# reads a /proc file a byte at a time, and the kernel rebuilds the table for each read, which
# takes seconds after a benchmark has left thousands of TIME_WAIT sockets.
used_ports() {
    local h
    cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        awk '$1 != "sl" { split($2, a, ":"); print a[2] }' | sort -u |
        while read -r h; do echo $((16#$h)); done
}

# Two free ports outside the ephemeral range, in PICKED.
pick_ports() {
    local lo hi from to span p
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    if ((lo > 12000)); then from=10000 to=$((lo - 1)); else from=$((hi + 1)) to=65535; fi
    ((to - from > 100)) || { from=10000 to=60999; }
    span=$((to - from + 1))
    local -A used=()
    for p in $(used_ports); do used[$p]=1; done
    PICKED=()
    while ((${#PICKED[@]} < 2)); do
        p=$((from + (RANDOM * 32768 + RANDOM) % span))
        [[ -z ${used[$p]:-} ]] || continue
        used[$p]=1
        PICKED+=("$p")
    done
}

# The plain port greets with +OK once the server is ready.
greeting_ok() {
    local line
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    IFS= read -r -t 5 line <&3 || line=
    # A server still starting may have reset the connection: no SIGPIPE for that.
    (trap '' PIPE; printf 'QUIT\r\n' >&3) 2>/dev/null || true
    exec 3<&- 3>&-
    [[ $line == "+OK"* ]]
}
