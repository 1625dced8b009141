#!/usr/bin/env bash
# RSS (MiB) of every service of the bed in $OSBED: the recorded PIDs plus all their descendants, each process
# counted once (some services have two pid files, e.g. mariadbd's own and ours).
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
O=$OSBED; tot=0; declare -A seen
desc() { echo "$1"; for c in $(ps -o pid= --ppid "$1"); do desc "$c"; done; }
for f in $(find $O/keystone $O/glance $O/swift $O/rabbit $O/cinder $O/placement $O/nova $O/mariadb -maxdepth 2 -name '*.pid' 2>/dev/null | sort); do
  p=$(cat "$f"); kill -0 "$p" 2>/dev/null || continue
  r=0
  for q in $(desc "$p"); do
    [ -n "${seen[$q]:-}" ] && continue; seen[$q]=1
    r=$((r + $(ps -o rss= -p "$q" 2>/dev/null || echo 0)))
  done
  r=$((r / 1024)); tot=$((tot + r)); [ "$r" -gt 0 ] && printf "%-40s %6s MiB\n" "${f#$O/}" "$r"
done
echo "TOTAL $tot MiB"
