#!/usr/bin/env bash
# Start-up cost of the NativeAOT `capsnet predict` (issue 35): CPU (user + sys), wall time and peak RSS of predicting one
# PNG in a fresh process, and the first inference after start against the steady p50 (`capsnet bench`).
#
#   bench/startup.sh [-n RUNS] [-i IMAGE] [-m MODEL] [PUBLISH_DIR ...]
#
# With no PUBLISH_DIR it NativeAOT-publishes src/CapsEmbedded.Cli (linux-x64, Release) to /tmp/capsnet-startup and times
# that. Several dirs (e.g. a build before and after a change) are timed in one run, alternating, so that the machine's load
# falls on both alike: compare them only within one run. Prints one table row per dir with the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=21
image=tests/CapsEmbedded.Tests/Fixtures/mnist/digit0-gray.png
model=mnist
while getopts "n:i:m:" option; do
  case $option in
    n) runs=$OPTARG ;;
    i) image=$OPTARG ;;
    m) model=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] [-i IMAGE] [-m MODEL] [PUBLISH_DIR ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
  dotnet publish src/CapsEmbedded.Cli -r linux-x64 -c Release -o /tmp/capsnet-startup >/dev/null
  set -- /tmp/capsnet-startup
fi
[ "$model" = multimnist ] && [ "$image" = tests/CapsEmbedded.Tests/Fixtures/mnist/digit0-gray.png ] && {
  echo "--model multimnist needs a 36x36 image: pass one with -i" >&2; exit 2; }

python3 - "$runs" "$image" "$model" "$@" <<'PY'
import json, os, statistics, subprocess, sys, time

runs, image, model, dirs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]

def timed(argv):
    """user+sys CPU seconds, wall seconds and peak RSS (MiB) of one child, from wait4's rusage (microseconds)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({child.returncode}): {child.stderr.read().decode()}")
    return usage.ru_utime + usage.ru_stime, usage.ru_utime, usage.ru_stime, wall, usage.ru_maxrss / 1024

def bench_p50(binary, warmup, count):
    out = subprocess.run([binary, "bench", "--model", model, "--warmup", str(warmup), "--runs", str(count), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["p50_ms"]

samples = {d: [] for d in dirs}
firsts = {d: [] for d in dirs}
for _ in range(runs):
    for d in dirs:  # alternate the builds, so load falls on each alike
        binary = os.path.join(d, "capsnet")
        samples[d].append(timed([binary, "predict", "--model", model, image]))
        firsts[d].append(bench_p50(binary, 0, 1))  # a fresh process's first Predict
steady = {d: statistics.median(bench_p50(os.path.join(d, "capsnet"), 100, 300) for _ in range(3)) for d in dirs}

median = lambda values: statistics.median(values)
print(f"capsnet predict --model {model} {image}: medians of {runs} fresh processes; steady p50 = median of 3 x "
      "`capsnet bench --warmup 100 --runs 300`; first = `capsnet bench --warmup 0 --runs 1`")
print("| build | CPU user+sys | user | sys | wall | peak RSS | first inference | steady p50 | first/p50 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for d in dirs:
    cpu, user, sys_, wall, rss = (median([s[i] for s in samples[d]]) for i in range(5))
    first = median(firsts[d])
    print(f"| {d} | {cpu * 1000:.0f} ms | {user * 1000:.0f} ms | {sys_ * 1000:.0f} ms | {wall * 1000:.0f} ms | {rss:.1f} MiB "
          f"| {first:.2f} ms | {steady[d]:.2f} ms | {first / steady[d]:.2f} |")
PY
