#!/usr/bin/env bash
# Collect what a Falco bug report needs into falco-debug-<host>-<date>.tar.gz.
set -euo pipefail

out="falco-debug-$(hostname)-$(date +%Y%m%d%H%M%S)"
mkdir -p "$out"
cp -r /etc/falco "$out/etc-falco" 2>/dev/null || echo "no /etc/falco" > "$out/etc-falco.missing"
{ falco --version || true; } > "$out/version.txt" 2>&1
{ journalctl -u 'falco*' --since '-1h' --no-pager || true; } > "$out/journal.txt" 2>&1
{ lsmod | grep -i falco || true; } > "$out/driver.txt"
uname -a > "$out/uname.txt"
tar -czf "$out.tar.gz" "$out" && rm -rf "$out"
echo "wrote $out.tar.gz"
