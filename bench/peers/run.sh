#!/usr/bin/env bash
# Regenerates the peers table of bench/RESULTS.md (issue 9): the generated MnistCapsNet and ONNX Runtime 1.31.1 timed
# interleaved in one .NET process (bench/CapsEmbedded.Bench `peers`), PyTorch 1.13 (Debian python3-torch) by
# pytorch_peer.py and TorchSharp 0.107 / libtorch by `capsnet-torch bench --json`, the three processes alternated
# ROUNDS times; medians over all rounds, ratios to the generated model.
# Same weights (weights/mnist.safetensors), same MNIST test digits. Takes ≈ 3-6 minutes on the 2-core build VM.
# Usage: bench/peers/run.sh            (ROUNDS=3 RUNS=100 by default; the raw JSON lines go to bench/peers/results.jsonl;
#        REPORT_ONLY=1 rewrites the table from that file without measuring)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-3}
runs=${RUNS:-100}
python=/usr/bin/python3 # Debian's interpreter: python3-torch installs there, not into a pyenv or venv one

# PyTorch is a benchmark peer only, never a dependency of the product. OpenBLAS: Debian's torch calls the system BLAS,
# and the reference BLAS it falls back to would make PyTorch a strawman (≈ 10× slower).
if ! "$python" -c "import torch, numpy" 2>/dev/null || ! ls /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh needs python3-torch, python3-numpy and libopenblas0-pthread (apt-get install them as root)" >&2; exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy libopenblas0-pthread
fi

dotnet build bench/CapsEmbedded.Bench -c Release -v quiet -nologo
dotnet build src/CapsEmbedded.TorchSharp -c Release -v quiet -nologo
bench=(dotnet bench/CapsEmbedded.Bench/bin/Release/net10.0/CapsEmbedded.Bench.dll)
torch=(dotnet src/CapsEmbedded.TorchSharp/bin/Release/net10.0/capsnet-torch.dll bench --json --weights weights/mnist.safetensors)

# TorchSharp: the three configurations, two timings each (as the other peers' --rounds 2), the same call counts.
torchsharp_peer() {
  for config in "1 1" "1 2" "64 2"; do
    set -- $config
    calls=$(( runs / ($1 / 8 > 1 ? $1 / 8 : 1) )); calls=$(( calls > 5 ? calls : 5 ))
    for _ in 1 2; do "${torch[@]}" --batch "$1" --threads "$2" --warmup $(( calls / 10 > 3 ? calls / 10 : 3 )) --runs "$calls"; done
  done
}
results=bench/peers/results.jsonl
if [ "${REPORT_ONLY:-0}" = 1 ]; then rounds=0; else : > "$results"; fi
for round in $(seq "$rounds"); do
  echo "round $round of $rounds" >&2
  # Alternate which process goes first, so neither always runs on a machine the other just warmed or heated.
  if [ $((round % 2)) -eq 1 ]; then
    "${bench[@]}" peers --runs "$runs" --rounds 2 --json >> "$results"
    "$python" bench/peers/pytorch_peer.py --runs "$runs" --rounds 2 >> "$results"
    torchsharp_peer >> "$results"
  else
    torchsharp_peer >> "$results"
    "$python" bench/peers/pytorch_peer.py --runs "$runs" --rounds 2 >> "$results"
    "${bench[@]}" peers --runs "$runs" --rounds 2 --json >> "$results"
  fi
done
if [ "$rounds" -gt 0 ]; then
  echo "# Run: \`bench/peers/run.sh\` (ROUNDS=$rounds, RUNS=$runs; $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))." >> "$results"
fi

table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
  echo "<!-- peers:begin (written by bench/peers/run.sh; edit the script, not this table) -->"
  grep '^# ' "$results" | cut -c3-
  "${bench[@]}" peers-report "$results"
  echo "<!-- peers:end -->"
} > "$table"
"$python" - "$table" <<'PY'
import re, sys
table = open(sys.argv[1]).read()
path = "bench/RESULTS.md"
text = open(path).read()
pattern = re.compile(r"<!-- peers:begin.*?<!-- peers:end -->\n", re.S)
text = pattern.sub(lambda _: table, text) if pattern.search(text) else text.rstrip("\n") + "\n\n## Peers\n\n" + table
open(path, "w").write(text)
PY
cat "$table"
