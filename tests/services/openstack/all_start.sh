#!/usr/bin/env bash
# Start the OpenStack bed from fresh data in $OSBED (venvs are cached in $OSBED_CACHE, shared by every bed).
# usage: OSBED=/some/dir all_start.sh [service ...]   default: keystone rabbit glance swift cinder nova
# Every port is chosen free now ($OSBED/ports.sh).  Writes $OSBED/env.sh: the OS_* variables of an admin openrc
# for this cloud, OSBED and the ports.  Stop with all_stop.sh (same OSBED).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/env.sh"
"$OSBED_HOME/all_stop.sh" >/dev/null 2>&1 || true
cd "$OSBED"
rm -rf keystone glance swift rabbit cinder placement nova mariadb env.sh ports.sh
. "$here/env.sh"   # fresh free ports
services=("$@"); [ ${#services[@]} -eq 0 ] && services=(keystone rabbit glance swift cinder nova)
T0=$(date +%s.%N); lap() { echo "== $1: $(echo "$(date +%s.%N) - $T0" | bc) s since start"; }
for s in "${services[@]}"; do
  case $s in
    swift) script=swift_ks_start.sh ;;
    *) script=${s}_start.sh ;;
  esac
  "$OSBED_HOME/$script" >"$OSBED/start-$s.log" 2>&1 || { echo "$s failed to start:"; tail -30 "$OSBED/start-$s.log"; exit 1; }
  tail -1 "$OSBED/start-$s.log"; lap "$s"
done
{ env | grep -E '^OS_' | sed 's/^/export /'; echo "export OSBED=$OSBED"; cat "$OSBED/ports.sh"; } > "$OSBED/env.sh"
