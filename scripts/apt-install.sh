#!/usr/bin/env bash
# Installs the named Debian packages that are not installed yet, without starting any system
# service they ship (a policy-rc.d refuses starts for the duration), without recommends, and
# refreshing the package lists only when an install fails on stale ones.
# Usage: scripts/apt-install.sh PACKAGE...
set -euo pipefail

missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo)
made_policy=''
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
    trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300
    --no-install-recommends)
echo "apt-install.sh: installing ${missing[*]}" >&2
if ! "${apt[@]}" install "${missing[@]}" >&2; then
    "${sudo[@]}" apt-get -q -o DPkg::Lock::Timeout=300 update >&2
    "${apt[@]}" install "${missing[@]}" >&2
fi
