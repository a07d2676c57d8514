#!/usr/bin/env python3
"""Times a command the way the benchmarks report it: wall-clock latency (p50, mean, min, max)
and the CPU time (user + system) of the command and every process it started, per run.
Prints one Markdown table row. Exits non-zero when a run fails.

    timeit.py --runs 50 --warmup 3 --name "status --json" -- signin-assistant status --json
"""
import argparse
import resource
import statistics
import subprocess
import sys
import time


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--name", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    for _ in range(args.warmup):
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    walls = []
    cpu_before = cpu_seconds()
    for _ in range(args.runs):
        start = time.perf_counter()
        result = subprocess.run(command, stdout=subprocess.DEVNULL)
        walls.append((time.perf_counter() - start) * 1000)
        if result.returncode != 0:
            sys.exit(f"{args.name}: exit status {result.returncode}")
    cpu_ms = (cpu_seconds() - cpu_before) * 1000 / args.runs
    print(
        f"| {args.name} | {statistics.median(walls):.1f} | {statistics.mean(walls):.1f} "
        f"| {min(walls):.1f} | {max(walls):.1f} | {cpu_ms:.1f} |"
    )


if __name__ == "__main__":
    main()
