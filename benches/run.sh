#!/usr/bin/env bash
# Builds and measures everything BENCHMARKS.md reports, and prints it as Markdown tables:
# - the fleet: 10,000 simulated agents over three days (benches/fleet), chart in benches/fleet.svg,
#   and 100,000 over three time zones with its CPU time;
# - latency and CPU time per command against the loopback Entra emulator with a real
#   gnome-keyring and dunst: `status`, `check`, `run` to its first balloon, and the peer (the
#   cron script admins run instead: curl + jq + notify-send, benches/lib/peer-entra.sh); and
#   `check` against a throwaway slapd with password policy next to the LDAP peer (ldapsearch +
#   notify-send, benches/lib/peer-ldap.sh);
# - the idle agent's CPU time, context switches, memory and threads, read from /proc;
# - the binary's size.
# Everything runs in a private D-Bus session with its own Xvfb, keyring and dunst, in a
# temporary HOME.
#   benches/run.sh [IDLE_SECONDS]   full run, release build (default 120 idle seconds)
#   benches/run.sh --smoke          a few seconds of each on the debug build (scripts/test runs it;
#                                   its timings mean nothing)
# SIGNIN_BENCH_BEFORE=/path/to/an/older/signin-assistant adds its latency rows, measured in the
# same session, for a before/after.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--smoke" ]; then
  smoke=1 idle=2 runs=3 warmup=1 balloon_runs=2 profile=debug
  fleet_args=(--agents 300 --days 2)
  big_fleet_args=(--agents 300 --days 2 --zones=-5,0,1)
else
  smoke=0 idle=${1:-120} runs=50 warmup=3 balloon_runs=20 profile=release
  fleet_args=(--svg benches/fleet.svg)
  big_fleet_args=(--agents 100000 --zones=-5,0,1)
fi

if [ -z "${SIGNIN_BENCH_INSIDE:-}" ]; then
  for need in dbus-run-session:dbus-bin gnome-keyring-daemon:gnome-keyring Xvfb:xvfb dunst:dunst \
    dunstctl:dunst dbus-monitor:dbus-bin secret-tool:libsecret-tools curl:curl jq:jq \
    notify-send:libnotify-bin python3:python3 busctl:systemd slapd:slapd ldapsearch:ldap-utils; do
    command -v "${need%%:*}" >/dev/null || {
      echo "benches/run.sh needs ${need%%:*}: apt-get install ${need#*:}" >&2
      exit 1
    }
  done
  if [ "$smoke" = 1 ]; then
    cargo build --locked --quiet --bins --examples
  else
    # Two builds: examples turn on the dev-dependencies' features (the emulator's fault
    # injection, the fuzzing entry points), which the measured binary must not have.
    cargo build --locked --quiet --release --bin signin-assistant
    cargo build --locked --quiet --release --example emulator --example fleet
  fi
  echo "## The fleet (benches/fleet)"
  echo
  "target/$profile/examples/fleet" "${fleet_args[@]}"
  echo
  TIMEFORMAT='CPU: %U s user + %S s system (%R s wall)'
  time "target/$profile/examples/fleet" "${big_fleet_args[@]}"
  echo
  SIGNIN_BENCH_INSIDE=1 exec dbus-run-session -- "$0" "$@"
fi

bin=$PWD/target/$profile/signin-assistant
lib=$PWD/benches/lib
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$T/slapd/slapd.pid" ] && kill "$(cat "$T/slapd/slapd.pid")"; rm -rf "$T"' EXIT
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_DATA_HOME=$T/home/.local/share
export XDG_STATE_HOME=$T/home/.local/state XDG_RUNTIME_DIR=$T/run SIGNIN_ASSISTANT_SYSTEM_CONFIG=$T/none
export NO_AT_BRIDGE=1 BROWSER=true
unset XDG_CURRENT_DESKTOP
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
wait_for() { for _ in $(seq 400); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "gave up waiting for: $*" >&2; exit 1; }

exec 3> >(cat > "$T/display")
Xvfb -displayfd 3 -nolisten tcp -screen 0 800x600x24 >/dev/null 2>&1 &
wait_for test -s "$T/display"
export DISPLAY=":$(head -1 "$T/display")"
echo -n bench-keyring | gnome-keyring-daemon --unlock --components=secrets >/dev/null
wait_for busctl --user status org.freedesktop.secrets
printf '[global]\n    idle_threshold = 0\n    history_length = 50\n' > "$T/dunstrc"
dunst -config "$T/dunstrc" >/dev/null 2>&1 &
wait_for busctl --user status org.freedesktop.Notifications

# An account whose password expires in 10 days: a balloon is due.
"target/$profile/examples/emulator" 10 > "$T/emulator.out" &
emulator_ready() { [ "$(wc -l < "$T/emulator.out")" -ge 5 ]; }
wait_for emulator_ready
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
value password | tr -d '\n' | secret-tool store --label=peer service peer-check user "$(value username)"
export PEER_BASE=$base PEER_TENANT=$(value tenant) PEER_CLIENT=$(value client_id) PEER_USER=$(value username)
state=$XDG_STATE_HOME/signin-assistant/state.json
sa=("$bin" --config "$T/config.toml")

echo "## Latency and CPU time per command (loopback emulator, real gnome-keyring and dunst)"
echo
echo "| command | p50 [ms] | mean [ms] | min [ms] | max [ms] | CPU [ms per run] |"
echo "|:---|---:|---:|---:|---:|---:|"
timeit() { python3 "$lib/timeit.py" --runs "$runs" --warmup "$warmup" --name "$@"; }
latency() {
  local label=$1; shift
  local cmd=("$@" --config "$T/config.toml")
  timeit "\`status --json\`$label (config + state file)" -- "${cmd[@]}" status --json
  timeit "\`check --json --no-notify\`$label (keyring, refresh grant, Graph, keyring, state)" -- "${cmd[@]}" check --json --no-notify
  python3 "$lib/first_balloon.py" --runs "$balloon_runs" --state "$state" --first-start \
    --name "\`run --no-tray\`$label first start → check → first balloon (Notify on the bus)" -- "${cmd[@]}" run --no-tray
  python3 "$lib/first_balloon.py" --runs "$balloon_runs" --state "$state" \
    --name "\`run --no-tray\`$label restart → first balloon from the saved finding" -- "${cmd[@]}" run --no-tray
  dunstctl close-all
}
latency "" "$bin"
if [ -n "${SIGNIN_BENCH_BEFORE:-}" ]; then
  latency " (before: $(basename "$SIGNIN_BENCH_BEFORE"))" "$SIGNIN_BENCH_BEFORE"
fi
timeit 'peer: cron script, check only (secret-tool, password grant, Graph; curl, jq)' -- env PEER_NOTIFY=0 "$lib/peer-entra.sh"
timeit 'peer: cron script with `notify-send`' -- "$lib/peer-entra.sh"
dunstctl close-all

# The same for a directory: slapd with password policy, 10 days left. Its own state directory,
# so the Entra account's saved state stays as it is for the idle measure.
ldap_dn=uid=bench,ou=people,dc=example,dc=com ldap_password=Bench-ldap-pw-1
ldap_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ldap_url=$(echo "$ldap_password" | "$lib/slapd.sh" "$T/slapd" "$ldap_port")
cat > "$T/ldap.toml" <<CONF
[account]
username = "bench"
[provider]
kind = "ldap"
[ldap]
url = "$ldap_url"
bind = "uid={username},ou=people,dc=example,dc=com"
base = "dc=example,dc=com"
CONF
(
  export XDG_STATE_HOME=$T/ldap-state
  echo "$ldap_password" | "$bin" --config "$T/ldap.toml" sign-in --password-stdin >/dev/null
  timeit '`check --json --no-notify`, LDAP (keyring, bind with the password-policy control, search, state)' -- \
    "$bin" --config "$T/ldap.toml" check --json --no-notify
)
printf %s "$ldap_password" | secret-tool store --label=peer service peer-check user "$ldap_dn"
export PEER_LDAP_URL=$ldap_url PEER_LDAP_DN=$ldap_dn
timeit 'peer: LDAP cron script, check only (secret-tool, ldapsearch with the password-policy control)' -- env PEER_NOTIFY=0 "$lib/peer-ldap.sh"
timeit 'peer: LDAP cron script with `notify-send`' -- "$lib/peer-ldap.sh"
dunstctl close-all

# Idle cost of one running agent, read from /proc after its start (it goes on from the check
# the commands above saved; today's balloon was shown, so none comes).
measure_idle() {
  local label=$1; shift
  echo
  echo "## Idle agent: $label, over ${idle} s after its start"
  echo
  "${sa[@]}" "$@" 2>"$T/agent.log" &
  local agent=$!
  # After the start-up, and after tokio's idle blocking threads have ended (10 s), so that no
  # thread that exits during the measure takes its count with it.
  sleep $(( smoke ? 2 : 15 ))
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
  dunstctl close-all
}

measure_idle "run --no-tray" run --no-tray
if command -v status-notifier-watcher >/dev/null; then
  status-notifier-watcher >/dev/null 2>&1 &
  wait_for busctl --user status org.kde.StatusNotifierWatcher
  measure_idle "run (tray item registered with a StatusNotifierWatcher)" run
fi

echo
echo "## Binary"
echo
echo "| measure | value |"
echo "|---|---|"
size=$(stat -c %s "$bin")
echo "| $profile binary size (as built by the profile) | $size bytes ($(( size * 10 / 1048576 / 10 )).$(( size * 10 / 1048576 % 10 )) MiB) |"
