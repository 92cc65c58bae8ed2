#!/usr/bin/env bash
# The paper CapsNet against Efficient-CapsNet in one run (issue 32's table): both generated models and ONNX Runtime
# 1.31.1 on each exported graph at batch 1 / 1 thread, batch 1 / 2 threads and batch 64 / 2 threads (bench/CapsEmbedded.Bench
# `peers --network both`, the peers interleaved), then the NativeAOT `capsnet` binary and both C libraries' sizes, and the
# CPU time and peak RSS of one `capsnet predict` per network in fresh processes (bench/startup.sh, alternating networks).
# Parameters and multiply-adds come from `capsnet info`; test errors are measured when MNIST is at hand (DATA_DIR, a
# folder holding the four MNIST IDX files), else left out of the table.
#
#   bench/families.sh                 ROUNDS=3 RUNS=100 STARTS=11 by default; DATA_DIR=... adds the test errors
#
# Takes ≈ 10-20 minutes on the 2-core build VM (two NativeAOT publishes). Only ratios within one run are comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
runs=${RUNS:-100}
starts=${STARTS:-11}
publish=${PUBLISH_DIR:-/tmp/capsnet-families}
image=tests/CapsEmbedded.Tests/Fixtures/mnist/digit0-gray.png

echo "building bench and NativeAOT-publishing capsnet and the two C libraries (linux-x64) ..." >&2
dotnet build bench/CapsEmbedded.Bench -c Release -v quiet -nologo >&2
dotnet publish src/CapsEmbedded.Cli -r linux-x64 -c Release -o "$publish" -v quiet -nologo >&2
dotnet publish src/CapsEmbedded.Native -r linux-x64 -c Release -o "$publish/native" -v quiet -nologo >&2
dotnet publish src/CapsEmbedded.Native.Efficient -r linux-x64 -c Release -o "$publish/native-efficient" -v quiet -nologo >&2
capsnet="$publish/capsnet"

echo "## Paper CapsNet against Efficient-CapsNet, one run ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;" \
  "load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
echo

echo "### Time per call, generated model and ONNX Runtime (peers --network both, $rounds rounds x $runs calls, p50 wall)"
echo
dotnet bench/CapsEmbedded.Bench/bin/Release/net10.0/CapsEmbedded.Bench.dll peers --network both --rounds "$rounds" \
  --runs "$runs" --markdown
echo

echo "### Size of work, accuracy, binaries and one \`capsnet predict\` in a fresh process"
echo
# From one `capsnet info`: "parameters|multiply-adds" (its tensor table's total and its layer table's per-image row).
work_of() { "$capsnet" info --model "$1" | awk '$1 == "total" && p == "" { p = $2 } $1 == "per" && $2 == "image" && m == "" { m = $3 } END { print p " | " m }'; }
test_error() {
  [ -n "${DATA_DIR:-}" ] || { echo "–"; return; }
  "$capsnet" eval --model "$1" --data mnist --data-dir "$DATA_DIR" | awk '$1 == "error" { print $2; exit }'
}
echo "| | parameters | multiply-adds per image | MNIST test error | C library | predict: CPU | predict: peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for model in mnist mnist-efficient; do
  library="$publish/native/libcapsnet_mnist.so"
  [ "$model" = mnist-efficient ] && library="$publish/native-efficient/libcapsnet_mnist_efficient.so"
  # startup.sh's row: | build | CPU user+sys | user | sys | wall | peak RSS | first | steady | first/p50 |
  row=$(bench/startup.sh -n "$starts" -m "$model" -i "$image" "$publish" | tail -1)
  cpu=$(echo "$row" | cut -d'|' -f3 | xargs)
  rss=$(echo "$row" | cut -d'|' -f7 | xargs)
  printf '| %s | %s | %s | %s B | %s | %s |\n' "$model" "$(work_of "$model")" "$(test_error "$model")" "$(stat -c %s "$library")" \
    "$cpu" "$rss"
done
echo
echo "\`capsnet\` (both networks and the CLI, NativeAOT linux-x64): $(stat -c %s "$capsnet") B."
