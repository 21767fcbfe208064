# shellcheck shell=bash
# Shared by the benchmark scripts (sourced). Needs ROOT (the checkout) and die().

# Builds one example (or with KIND=--bin, a binary) and copies it to DEST, so that a script
# runs exactly the binary it built, whatever else target/release/examples/ holds.
build_example() {
    local package=$1 example=$2 dest=$3 kind=${4:---example} exe
    exe=$(cd "$ROOT" && cargo build --release --quiet -p "$package" "$kind" "$example" \
        --message-format=json-render-diagnostics |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' | tail -n 1)
    [[ -x $exe ]] || die "no executable for $package example $example"
    cp "$exe" "$dest"
}
