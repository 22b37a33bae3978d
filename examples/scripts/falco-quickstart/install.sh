#!/usr/bin/env bash
# Install Falco from the falcosecurity package repository and drop in a
# starter configuration. Use at your own risk: this is a contrib script.
set -euo pipefail

case "${1:-}" in
  -h|--help)
    echo "usage: sudo $0    install Falco (apt-based hosts) and a starter config"
    exit 0 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (it installs a package)" >&2
  exit 1
fi
if command -v apt-get >/dev/null; then
  curl -fsSL https://falco.org/repo/falcosecurity-packages.asc | gpg --dearmor -o /usr/share/keyrings/falco-archive-keyring.gpg
  echo "deb [signed-by=/usr/share/keyrings/falco-archive-keyring.gpg] https://download.falco.org/packages/deb stable main" > /etc/apt/sources.list.d/falcosecurity.list
  apt-get update -qq && apt-get install -y falco
else
  echo "only apt-based systems are handled; see https://falco.org/docs/install-operate/installation/" >&2
  exit 1
fi
install -m 0644 "$here/falco-local.yaml" /etc/falco/config.d/falco-local.yaml
echo "Falco installed; starter config in /etc/falco/config.d/falco-local.yaml"
