#!/usr/bin/env bash
# Measures what BENCHMARKS.md reports: command latency against the loopback emulator, the idle
# agent's CPU time and memory, and the binary's size. Runs everything in a private D-Bus session
# with its own gnome-keyring, in a temporary HOME. Needs: hyperfine, dbus, gnome-keyring.
#   benches/footprint.sh [IDLE_SECONDS]     (default 120)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${SIGNIN_BENCH_INSIDE:-}" ]; then
  cargo build --release --quiet --bins --examples
  SIGNIN_BENCH_INSIDE=1 exec dbus-run-session -- "$0" "$@"
fi

idle=${1:-120}
bin=$PWD/target/release/signin-assistant
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_DATA_HOME=$T/home/.local/share
export XDG_STATE_HOME=$T/home/.local/state XDG_RUNTIME_DIR=$T/run SIGNIN_ASSISTANT_SYSTEM_CONFIG=$T/none
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
echo -n bench-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null
for _ in $(seq 100); do busctl --user status org.freedesktop.secrets >/dev/null 2>&1 && break; sleep 0.05; done

target/release/examples/emulator 10 > "$T/emulator.out" &
for _ in $(seq 100); do [ -s "$T/emulator.out" ] && [ "$(wc -l < "$T/emulator.out")" -ge 5 ] && break; sleep 0.05; done
base=$(sed -n 1p "$T/emulator.out")
value() { sed -n "s/^$1=//p" "$T/emulator.out"; }
cat > "$T/config.toml" <<CONF
[account]
username = "$(value username)"
[entra]
tenant = "$(value tenant)"
client_id = "$(value client_id)"
authority = "$base"
graph = "$base"
CONF
value password | "$bin" --config "$T/config.toml" sign-in --password-stdin >/dev/null

echo "## Command latency (hyperfine, loopback emulator, real gnome-keyring)"
hyperfine -N --warmup 3 --runs 50 --style basic --export-markdown "$T/latency.md" \
  --command-name "status --json (no network)" "$bin --config $T/config.toml status --json" \
  --command-name "check --json --no-notify (refresh grant + Graph)" \
  "$bin --config $T/config.toml check --json --no-notify" >/dev/null
cat "$T/latency.md"

# Idle cost of one running agent, read from /proc after its first check.
measure_idle() {
  local label=$1; shift
  echo
  echo "## Idle agent: $label, over ${idle} s after its first check"
  "$bin" --config "$T/config.toml" "$@" 2>"$T/agent.log" &
  local agent=$!
  sleep 5
  ticks() { awk '{print $14 + $15}' "/proc/$agent/stat"; }
  switches() { cat /proc/$agent/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
  local hz before after ctx_before ctx_after
  hz=$(getconf CLK_TCK)
  before=$(ticks); ctx_before=$(switches)
  sleep "$idle"
  after=$(ticks); ctx_after=$(switches)
  echo "| measure | value |"
  echo "|---|---|"
  echo "| CPU time while idle | $(( (after - before) * 1000 / hz )) ms in ${idle} s |"
  echo "| context switches while idle (all threads) | $(( ctx_after - ctx_before )) in ${idle} s |"
  echo "| resident memory (VmRSS) | $(( $(awk '/VmRSS/ {print $2}' /proc/$agent/status) / 1024 )) MiB |"
  echo "| peak resident memory (VmHWM) | $(( $(awk '/VmHWM/ {print $2}' /proc/$agent/status) / 1024 )) MiB |"
  echo "| threads | $(ls /proc/$agent/task | wc -l) |"
  kill -TERM $agent; wait $agent || true
}

measure_idle "run --no-tray" run --no-tray
if command -v status-notifier-watcher >/dev/null; then
  status-notifier-watcher >/dev/null 2>&1 &
  for _ in $(seq 100); do busctl --user status org.kde.StatusNotifierWatcher >/dev/null 2>&1 && break; sleep 0.05; done
  measure_idle "run (tray item registered with a StatusNotifierWatcher)" run
fi

echo
echo "## Binary"
echo "| measure | value |"
echo "|---|---|"
echo "| release binary size (stripped, thin LTO) | $(( $(stat -c %s "$bin") / 1024 / 1024 )) MiB |"
