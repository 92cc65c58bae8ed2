#!/usr/bin/env bash
# The three trainers side by side on the paper network, batch 100, 2 threads, random images: capsnet train's C# trainer,
# capsnet-torch (TorchSharp 0.107 / libtorch 2.10) and PyTorch 1.13 (Debian python3-torch), alternated ROUNDS times in
# one run so that a noisy machine hurts each alike; then TorchSharp inference at batch 1 / 1 thread and batch 64 / 2
# threads. Needs: dotnet build src/CapsEmbedded.TorchSharp -c Release; apt-get install python3-torch.
# Usage: bench/training-peers.sh [ROUNDS] [RUNS]   (results: bench/RESULTS-training.md)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} runs=${2:-3}
tool=src/CapsEmbedded.TorchSharp/bin/Release/net10.0/capsnet-torch.dll
for r in $(seq "$rounds"); do
  echo "round $r, load $(cut -d' ' -f1 /proc/loadavg)"
  dotnet "$tool" bench --train --engine csharp --batch 100 --threads 2 --warmup 1 --runs "$runs"
  dotnet "$tool" bench --train --batch 100 --threads 2 --warmup 1 --runs "$runs"
  /usr/bin/python3 bench/pytorch_train_bench.py --batch 100 --threads 2 --warmup 1 --runs "$runs"
done
echo "inference, load $(cut -d' ' -f1 /proc/loadavg)"
dotnet "$tool" bench --batch 1 --threads 1 --warmup 10 --runs 100
dotnet "$tool" bench --batch 64 --threads 2 --warmup 2 --runs 10
/usr/bin/python3 bench/pytorch_train_bench.py --infer --batch 1 --threads 1 --warmup 10 --runs 100
/usr/bin/python3 bench/pytorch_train_bench.py --infer --batch 64 --threads 2 --warmup 2 --runs 10
