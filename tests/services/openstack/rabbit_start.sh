#!/usr/bin/env bash
# Debian rabbitmq-server (3.10.8) on 127.0.0.1 only: AMQP $RABBIT_PORT, epmd $RABBIT_EPMD_PORT, dist $RABBIT_DIST_PORT (all free ports of this bed); user guest/guest.
# Runs /usr/lib/rabbitmq/bin/rabbitmq-server directly as the current user (the /usr/sbin wrapper su's to rabbitmq);
# HOME is pointed into our dir so the .erlang.cookie is not written to ~.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
D=$OSBED/rabbit
command -v epmd >/dev/null && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || \
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends rabbitmq-server >/dev/null
mkdir -p "$D"/{mnesia,log,home}
echo '[].' > "$D/enabled_plugins"
cat > "$D/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$RABBIT_PORT
loopback_users.guest = true
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 50MB
CONF
export HOME=$D/home ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$RABBIT_EPMD_PORT
export RABBITMQ_NODENAME=osbed@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$RABBIT_PORT \
  RABBITMQ_DIST_PORT=$RABBIT_DIST_PORT RABBITMQ_MNESIA_BASE=$D/mnesia RABBITMQ_LOG_BASE=$D/log \
  RABBITMQ_CONFIG_FILE=$D/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$D/enabled_plugins \
  RABBITMQ_PID_FILE=$D/beam.pidfile RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
t0=$(date +%s.%N)
nohup epmd -address 127.0.0.1 -port $RABBIT_EPMD_PORT >"$D/log/epmd.log" 2>&1 &
echo $! > "$D/epmd.pid"
nohup /usr/lib/rabbitmq/bin/rabbitmq-server >"$D/log/server.out" 2>&1 &
echo $! > "$D/rabbit.pid"
for i in $(seq 1 300); do
  (exec 3<>/dev/tcp/127.0.0.1/$RABBIT_PORT) 2>/dev/null && break
  kill -0 "$(cat "$D/rabbit.pid")" 2>/dev/null || { tail -20 "$D/log/server.out"; exit 1; }
  sleep 0.2
done
(exec 3<>/dev/tcp/127.0.0.1/$RABBIT_PORT) 2>/dev/null || { echo "rabbit not up"; exit 1; }
cp "$D/beam.pidfile" "$D/beam.pid" 2>/dev/null || true
echo "rabbitmq amqp://guest:guest@127.0.0.1:$RABBIT_PORT/ up after $(echo "$(date +%s.%N) - $t0" | bc) s (pid $(cat "$D/rabbit.pid"))"
