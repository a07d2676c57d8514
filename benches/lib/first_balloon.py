#!/usr/bin/env python3
"""Latency from starting the agent (`run`) to its first balloon: the time between the spawn and
the Notify call on the session bus, as dbus-monitor stamps it. Before each run, the state
file's record of today's balloon is removed, so a balloon is due again: the agent shows it at
once from the saved finding (a restart). With --first-start the whole state file is removed
instead: the agent checks first, then shows the balloon. Prints one Markdown table row (p50,
mean, min, max over the runs).

    first_balloon.py --runs 20 --state STATE_JSON [--first-start] -- signin-assistant --config C run --no-tray
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

STAMP = re.compile(r"^method call time=([0-9.]+) .*member=Notify$")


def forget_todays_balloon(path):
    try:
        with open(path) as f:
            state = json.load(f)
    except FileNotFoundError:
        return
    state.pop("last_balloon", None)
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--state", required=True)
    parser.add_argument("--name", default="run → first balloon")
    parser.add_argument("--first-start", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    monitor = subprocess.Popen(
        ["stdbuf", "-oL", "dbus-monitor", "--session",
         "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"],
        stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    latencies = []
    for run in range(args.runs):
        if args.first_start:
            if os.path.exists(args.state):
                os.remove(args.state)
        else:
            forget_todays_balloon(args.state)
        start = time.time()
        agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shown = None
        deadline = start + 10
        while shown is None and time.time() < deadline:
            line = monitor.stdout.readline()
            match = STAMP.match(line.strip())
            if match:
                shown = float(match.group(1))
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)
        subprocess.run(["dunstctl", "close-all"], check=False)
        if shown is None:
            sys.exit(f"run {run + 1}: no balloon within 10 s")
        latencies.append((shown - start) * 1000)
    monitor.terminate()
    print(
        f"| {args.name} | {statistics.median(latencies):.1f} | {statistics.mean(latencies):.1f} "
        f"| {min(latencies):.1f} | {max(latencies):.1f} | |"
    )


if __name__ == "__main__":
    main()
