#!/usr/bin/env bash
# Stop osbed services by their recorded PID files (TERM, then KILL after 10 s). usage: stop.sh [pidfile-or-dir ...]
# default: every *.pid under $OSBED/{nova,cinder,placement,glance,swift,keystone,mariadb,rabbit}
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
O=$OSBED
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=($O/{nova,cinder,placement,glance,swift,keystone,mariadb,rabbit})
files=()
for t in "${targets[@]}"; do
  if [ -d "$t" ]; then while IFS= read -r f; do files+=("$f"); done < <(find "$t" -maxdepth 2 -name '*.pid'); 
  elif [ -f "$t" ]; then files+=("$t"); fi
done
# a recorded service's own children too (cinder-volume's worker outlives its launcher otherwise)
desc() { for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; desc "$c"; done; }
kids=()
for f in "${files[@]}"; do
  p=$(cat "$f" 2>/dev/null) || continue
  [ -n "$p" ] || continue
  kids+=($(desc "$p"))
  kill -TERM "$p" 2>/dev/null && echo "TERM $p ($f)"
done
for f in "${files[@]}"; do
  p=$(cat "$f" 2>/dev/null) || continue
  for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && { kill -KILL "$p"; echo "KILL $p ($f)"; }
  rm -f "$f"
done
for k in "${kids[@]}"; do kill -0 "$k" 2>/dev/null && kill -KILL "$k" && echo "KILL child $k"; done
exit 0
