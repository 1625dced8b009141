#!/usr/bin/env bash
# Start a throwaway OpenSSH server (SFTP) on 127.0.0.1:$SSHD_PORT for the ssh storage tests.
# Key authentication only; host and user keys are made fresh in $SSHD_DIR, and the server's
# key is written to $SSHD_DIR/known_hosts so clients can verify it strictly.
# Env: SSHD_DIR (required: outside the repository), SSHD_PORT (default 2222).
# Writes $SSHD_DIR/env.sh: SSH_TEST_HOST, _PORT, _USER, _KEY (ed25519), _KEY_RSA, _KEY_ECDSA,
# _KNOWN_HOSTS, _ROOT (the SFTP login directory).
set -euo pipefail
: "${SSHD_DIR:?set SSHD_DIR to a scratch directory}"
SSHD_PORT=${SSHD_PORT:-2222}
SSHD_BIN=/usr/sbin/sshd           # sshd must be started by absolute path (it re-execs itself)

if [ ! -x "$SSHD_BIN" ] || ! command -v ssh-keygen >/dev/null; then
  echo "installing openssh-server" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends openssh-server openssh-client >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update >/dev/null &&
         apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends openssh-server openssh-client >/dev/null; }
fi

if [ -f "$SSHD_DIR/sshd.pid" ] && kill -0 "$(cat "$SSHD_DIR/sshd.pid")" 2>/dev/null; then
  echo "sshd already running in $SSHD_DIR (pid $(cat "$SSHD_DIR/sshd.pid"))" >&2; exit 1
fi
rm -rf "$SSHD_DIR"; mkdir -p "$SSHD_DIR/sftp-root"; chmod 700 "$SSHD_DIR"

# Privilege separation needs the empty directory /run/sshd when sshd runs as root
# (systemd usually creates it; we have no systemd).
if [ "$(id -u)" = 0 ]; then
  mkdir -p /run/sshd; chmod 0755 /run/sshd
fi

ssh-keygen -q -t ed25519 -N '' -C freezer-test-host -f "$SSHD_DIR/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C freezer-test-user -f "$SSHD_DIR/id_ed25519"
ssh-keygen -q -t rsa -b 2048 -N '' -C freezer-test-user -f "$SSHD_DIR/id_rsa"
ssh-keygen -q -t ecdsa -b 256 -N '' -C freezer-test-user -f "$SSHD_DIR/id_ecdsa"
cat "$SSHD_DIR"/id_ed25519.pub "$SSHD_DIR"/id_rsa.pub "$SSHD_DIR"/id_ecdsa.pub > "$SSHD_DIR/authorized_keys"
chmod 600 "$SSHD_DIR/authorized_keys"
echo "[127.0.0.1]:$SSHD_PORT $(cat "$SSHD_DIR/ssh_host_ed25519_key.pub")" > "$SSHD_DIR/known_hosts"

USER_NAME=$(id -un)
cat > "$SSHD_DIR/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/ssh_host_ed25519_key
PidFile $SSHD_DIR/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $USER_NAME
UsePAM no
# the keys live under a scratch directory that StrictModes may judge too open
StrictModes no
PrintMotd no
# internal-sftp needs no external binary; -d makes the scratch root the login directory
Subsystem sftp internal-sftp -d $SSHD_DIR/sftp-root
LogLevel VERBOSE
MaxStartups 50:30:100
CFG

"$SSHD_BIN" -t -f "$SSHD_DIR/sshd_config"       # config test: fails loudly
# -D: stay in the foreground (so the recorded pid is the listener); -e: log to stderr
nohup "$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" >"$SSHD_DIR/sshd.log" 2>&1 &
echo $! > "$SSHD_DIR/launcher.pid"

up=0
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null; then up=1; break; fi
  if ! kill -0 "$(cat "$SSHD_DIR/launcher.pid")" 2>/dev/null; then
    echo "sshd died:" >&2; cat "$SSHD_DIR/sshd.log" >&2; exit 1
  fi
  sleep 0.05
done
[ "$up" = 1 ] || { echo "sshd did not listen on 127.0.0.1:$SSHD_PORT" >&2; cat "$SSHD_DIR/sshd.log" >&2; exit 1; }

cat > "$SSHD_DIR/env.sh" <<ENV
export SSH_TEST_HOST=127.0.0.1
export SSH_TEST_PORT=$SSHD_PORT
export SSH_TEST_USER=$USER_NAME
export SSH_TEST_KEY=$SSHD_DIR/id_ed25519
export SSH_TEST_KEY_RSA=$SSHD_DIR/id_rsa
export SSH_TEST_KEY_ECDSA=$SSHD_DIR/id_ecdsa
export SSH_TEST_KNOWN_HOSTS=$SSHD_DIR/known_hosts
export SSH_TEST_ROOT=$SSHD_DIR/sftp-root
ENV
echo "sshd up on 127.0.0.1:$SSHD_PORT pid $(cat "$SSHD_DIR/launcher.pid")"
