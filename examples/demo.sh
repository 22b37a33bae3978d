#!/usr/bin/env bash
# A tour of tierpack against the embedded local store and an OCI layout: no
# server needed. Usage: examples/demo.sh [path/to/tierpack]   (make demo)
set -euo pipefail
tp=${1:-tierpack}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TIERPACK_HOME="$work/home" COSIGN_PASSWORD=demo
run() { printf '\n$ tierpack %s\n' "$*"; "$tp" "$@"; }

run validate "$here/scripts/falco-quickstart"
run push "$here/scripts/falco-quickstart" falco-quickstart
# The repository tier is signed: by the project's CI key, here a fresh one.
run key generate "$work/ci"
run push "$here/scripts/falco-debug-bundle" "oci:$work/layout" --key "$work/ci.key"
run inspect falco-quickstart:0.1.0
run pull falco-quickstart:0.1.0 --tier contrib -o "$work/quickstart"
printf '\n$ tierpack pull falco-quickstart:0.1.0 --tier repository   # refused: it is contrib\n'
"$tp" pull falco-quickstart:0.1.0 --tier repository -o "$work/refused" || echo "(exit $?)"
run key generate "$work/core"
run promote "oci:$work/layout:1.2.0" --to official --key "$work/core.key" --reason "demo review"
run pull "oci:$work/layout:1.2.0" --tier official --key "$work/core.pub" -o "$work/debug-bundle"
run inspect "oci:$work/layout:1.2.0" --key "$work/core.pub"
printf '\n$ tierpack copy oci:%s/layout:1.2.0 oci:%s/mirror   # with its signatures and tier records\n' "$work" "$work"
"$tp" copy "oci:$work/layout:1.2.0" "oci:$work/mirror"
run pull "oci:$work/mirror:1.2.0" --tier official --key "$work/core.pub" -o "$work/mirrored"
