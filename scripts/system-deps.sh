#!/usr/bin/env bash
# Install the system tools Freezer needs when they are missing (Debian/Ubuntu).
set -euo pipefail
need=()
command -v tar >/dev/null || need+=(tar)
command -v openssl >/dev/null || need+=(openssl)
command -v zstd >/dev/null || need+=(zstd)
command -v gzip >/dev/null || need+=(gzip)
command -v bzip2 >/dev/null || need+=(bzip2)
command -v xz >/dev/null || need+=(xz-utils)
command -v mkfs.btrfs >/dev/null || need+=(btrfs-progs)
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/bin/time ] || need+=(time)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing system packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
