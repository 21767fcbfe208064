#!/usr/bin/env bash
# What a user of crates.io and docs.rs gets, checked (part of the test command):
#   1. each crate's package lists its README.md, LICENSE-MIT and LICENSE-APACHE;
#   2. every crate is packaged and its tarball unpacked and built (cargo package verifies);
#   3. cargo deny check licenses bans sources (deny.toml): licences, duplicate versions,
#      crates.io as the only source. Advisories are NOT checked: that needs the RustSec
#      advisory database, which this machine cannot reach (only the package registries);
#   4. each crate's declared rust-version builds it: with rustup's toolchain of that version
#      when there is one, else with Debian's rustc-web of that version, unpacked from its
#      .deb packages into /var/cache/pop3-msrv (kept between runs; the system's rustc-web,
#      which scripts/nostd-check.sh uses, is left as it is). No toolchain of the declared
#      version here is a failure: declare one that this check can build with.
# Installs cargo-deny from crates.io if missing. Prints what it checked; exits non-zero on
# any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

say() { printf 'package-check: %s\n' "$*"; }
die() { printf 'package-check: FAILED: %s\n' "$*" >&2; exit 1; }

# The crates to publish: every workspace member not marked `publish = false`, with its
# declared rust-version; and the target directory (CARGO_TARGET_DIR may move it).
declare -A rust_version
crates=()
metadata=$(cargo metadata --no-deps --format-version 1 --locked)
target=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])' <<<"$metadata")
while IFS=' ' read -r name version; do
    crates+=("$name")
    rust_version[$name]=$version
done < <(python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["publish"] != []:
        print(p["name"], p["rust_version"] or "")' <<<"$metadata")
((${#crates[@]})) || die "no publishable crate in the workspace"
checked=()

# --- 1. the files each package ships ---------------------------------------------------------
# The licence texts live at the root; each crate has symlinks to them, which cargo package
# archives as regular files. --allow-dirty: the contents are checked here, not the VCS state.
say "cargo package --list: README.md and both licence texts in each crate"
for crate in "${crates[@]}"; do
    list=$(cargo package --list --locked --allow-dirty --quiet -p "$crate")
    for file in README.md LICENSE-MIT LICENSE-APACHE; do
        grep -qx "$file" <<<"$list" || die "$crate's package does not contain $file"
    done
done
checked+=("package contents: README.md, LICENSE-MIT, LICENSE-APACHE in ${crates[*]}")

# --- 2. package and build every crate from its tarball -----------------------------------------
# None of the crates is on crates.io, so `cargo package -p pop3-blocking` alone cannot verify
# (pop3-proto 0.1.0 is not in the crates.io index). Packaging them in one command does
# (cargo 1.90 or later): cargo packages the named crates in dependency order and verifies
# each tarball (unpacked under $target/package/, built with the lock file it ships) against a
# temporary local registry ($target/package/tmp-registry) holding the ones packaged before it,
# overlaid on crates.io.
packages=()
for crate in "${crates[@]}"; do packages+=(-p "$crate"); done
say "cargo package ${packages[*]} (each tarball unpacked and built)"
rm -f "$target"/package/*.crate
# Cargo extracts each tarball it verifies from the temporary registry into its own registry
# cache, and on a later run reuses an extraction of the same name and version even when the
# code has changed since (a crate then builds against its sibling's old source). None of
# these crates comes from a real registry, so any copy there is left from an earlier run.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for crate in "${crates[@]}"; do
    rm -rf "$cargo_home"/registry/src/*/"$crate"-[0-9]* "$cargo_home"/registry/cache/*/"$crate"-[0-9]*.crate
done
cargo package "${packages[@]}" --locked --allow-dirty --quiet
for crate in "${crates[@]}"; do
    compgen -G "$target/package/$crate-*.crate" >/dev/null || die "no $target/package/$crate-*.crate"
done
checked+=("cargo package: ${crates[*]} packaged, and each tarball unpacked and built")

# --- 3. licences, duplicate versions, sources ---------------------------------------------------
if ! cargo deny --version 2>/dev/null | grep -q '^cargo-deny 0\.20\.'; then
    say "installing cargo-deny 0.20 from crates.io (Debian does not package it; ~3 min on 2 cores)"
    cargo install --locked --version '^0.20' cargo-deny
fi
say "cargo deny check licenses bans sources (advisories: not checked, no advisory database here)"
cargo deny check --deny warnings licenses bans sources
checked+=("cargo deny: licences, duplicate versions (bans) and sources per deny.toml; advisories not checked (no network to the advisory database)")

# --- 4. each declared rust-version builds its crate ------------------------------------------
# The oldest toolchains here: Debian's rustc-web (bookworm keeps 1.85 beside the security
# update's newer one) and rustup's pinned toolchains. Only the library and binary targets
# are built: the dev-dependencies need newer compilers and are not what users build.
# Prints the bin directory of a Debian rustc-web of version $1 (1.85 or 1.85.0), unpacking
# its packages (and installing the LLVM library it links) when needed.
debian_toolchain() {
    local want=$1 version cache libstd llvm
    if [[ -x /usr/bin/rustc ]] && /usr/bin/rustc --version | grep -q "^rustc ${want}[. ]"; then
        echo /usr/bin
        return
    fi
    version=$(apt-cache madison rustc-web 2>/dev/null | awk -v w="$want" '
        { v = $3; sub(/\+.*/, "", v) } v == w || index(v, w ".") == 1 { print $3; exit }')
    if [[ -z $version ]]; then
        apt-get -q -o DPkg::Lock::Timeout=300 update >&2
        version=$(apt-cache madison rustc-web 2>/dev/null | awk -v w="$want" '
            { v = $3; sub(/\+.*/, "", v) } v == w || index(v, w ".") == 1 { print $3; exit }')
    fi
    [[ -n $version ]] || return 1
    cache=/var/cache/pop3-msrv/$version
    libstd=libstd-rust-web-$(cut -d. -f1,2 <<<"$want") # libstd-rust-web-1.85
    llvm=$(apt-cache show "$libstd=$version" | sed -n 's/^Depends: //p' | head -1 |
        tr ',' '\n' | sed -n 's/^ *\(libllvm[0-9]*\).*/\1/p')
    [[ -n $llvm ]] && "$root/scripts/apt-install.sh" "$llvm"
    if [[ ! -x $cache/root/usr/bin/cargo ]]; then
        say "unpacking Debian's rustc-web $version into $cache" >&2
        rm -rf "$cache"
        mkdir -p "$cache/debs"
        (cd "$cache/debs" && apt-get download -q \
            "rustc-web=$version" "cargo-web=$version" "$libstd=$version" \
            "libstd-rust-web-dev=$version" >&2 2>/dev/null)
        for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$cache/root"; done
        rm -rf "$cache/debs"
    fi
    echo "$cache/root/usr/bin"
}

# Builds crates $2... with Rust $1.
build_with() {
    local want=$1 toolchain bin
    shift
    local packages=() crate
    for crate in "$@"; do packages+=(-p "$crate"); done
    toolchain=$(rustup toolchain list 2>/dev/null | awk -v w="$want" '
        { t = $1; sub(/-.*/, "", t) } t == w || t == w ".0" { print $1; exit }')
    if [[ -n $toolchain ]]; then
        say "building $* with rustup's $toolchain ($(rustc "+$toolchain" --version))"
        cargo "+$toolchain" build --locked --quiet "${packages[@]}" --all-features
        checked+=("rust-version $want: $* built with rustup's $toolchain")
    elif bin=$(debian_toolchain "$want"); then
        local lib=${bin%/bin}/lib/x86_64-linux-gnu
        local env=(env PATH="$bin:$PATH" RUSTC="$bin/rustc" RUSTDOC="$bin/rustdoc"
            LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            CARGO_TARGET_DIR="$target/msrv-$want")
        say "building $* with Debian's $("${env[@]}" rustc --version)"
        "${env[@]}" "$bin/cargo" build --locked --quiet "${packages[@]}" --all-features
        # pop3-proto's other feature sets: no_std (no default features) and std alone.
        if [[ " $* " == *" pop3-proto "* ]]; then
            "${env[@]}" "$bin/cargo" build --locked --quiet -p pop3-proto --no-default-features
            "${env[@]}" "$bin/cargo" build --locked --quiet -p pop3-proto
        fi
        checked+=("rust-version $want: $* built with Debian's rustc-web $("${env[@]}" rustc --version | cut -d' ' -f2)")
    else
        die "no Rust $want toolchain here (rustup: $(rustup toolchain list | tr '\n' ' '); Debian's rustc-web: $(apt-cache madison rustc-web | awk '{print $3}' | tr '\n' ' ')): declare a rust-version this check can build with"
    fi
}

declare -A by_version
for crate in "${crates[@]}"; do
    version=${rust_version[$crate]:-}
    [[ -n $version ]] || die "$crate declares no rust-version"
    by_version[$version]+="$crate "
done
for version in "${!by_version[@]}"; do
    # shellcheck disable=SC2086 # the list is split on purpose
    build_with "$version" ${by_version[$version]}
done

say "all checks passed:"
for line in "${checked[@]}"; do
    printf '  - %s\n' "$line"
done
