#!/usr/bin/env bash
# Keystone for the bed: the recipe in keystone_base.sh with the bed's port and directories.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
ensure_venv "$KS_VENV" "keystone==${KEYSTONE_VERSION:-30.0.0}" gunicorn
ks_load() { cached_file "keystone-${KEYSTONE_VERSION:-30.0.0}.db" "$1"; }
ks_save() { save_file "keystone-${KEYSTONE_VERSION:-30.0.0}.db" "$1"; }
export -f cached_file save_file ks_load ks_save
KS_SCHEMA_LOAD=ks_load KS_SCHEMA_SAVE=ks_save VENV=$KS_VENV KS_PORT=$KS_PORT KS_ADMIN_PASSWORD=$KS_ADMIN_PASSWORD \
  bash "$OSBED_HOME/keystone_base.sh" "$OSBED/keystone"
