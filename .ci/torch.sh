#!/usr/bin/env bash
# capsnet-torch (issue 10): the TorchSharp companion trainer. Builds the tool (the restore downloads libtorch-cpu-linux-x64,
# a 123 MB package, 600 MB unpacked, copied into each output folder; the build's loader fix prints its line), runs the
# loader-fix and autograd-judge tests with their per-tensor figures, trains the paper network for 3 epochs on the 200-image
# MNIST fixture and fails unless the loss falls, then evaluates those weights with capsnet eval and capsnet-torch eval.
# Run time: 5 min 55 s measured on this 2-core machine at load average ~40 (55 s of CPU; packages already restored);
# expect 2-4 min on 2 quiet cores plus the 123 MB libtorch download when the NuGet cache is empty.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
dotnet build src/CapsEmbedded.TorchSharp -c Release > "$log" 2>&1 || { cat "$log"; exit 1; }
grep -E "fix-shim" "$log" || true
grep -q "capsnet-torch fix-shim:" "$log" || { echo "the build did not run the loader fix" >&2; exit 1; }
tool=src/CapsEmbedded.TorchSharp/bin/Release/net10.0
shim=$tool/runtimes/linux-x64/native/libLibTorchSharp.so
# What the dynamic loader will ask libstdc++ for (readelf from binutils, where installed).
if command -v readelf >/dev/null; then readelf -V "$shim" | grep -oE "GLIBCXX_3\.4\.3[0-9]" | sort | uniq -c; fi

# Built into a folder of the user's choosing (-o), the tool's loader fix runs from that folder and the tool runs there.
elsewhere=$(mktemp -d)
dotnet build src/CapsEmbedded.TorchSharp -c Release -o "$elsewhere" > "$log" 2>&1 || { cat "$log"; exit 1; }
grep -q "capsnet-torch fix-shim:" "$log" || { echo "the -o build did not run the loader fix" >&2; exit 1; }
dotnet "$elsewhere/capsnet-torch.dll" --help | head -n 2
rm -rf "$elsewhere"

dotnet build tests/CapsEmbedded.TorchSharp.Tests -c Release > "$log" 2>&1 || { cat "$log"; exit 1; }
grep -E "fix-shim" "$log" || true
dotnet test tests/CapsEmbedded.TorchSharp.Tests -c Release --no-build \
  --filter "FullyQualifiedName~ShimLoadTests|FullyQualifiedName~AutogradJudgeTests" --logger "console;verbosity=detailed"

# A short training run on the MNIST fixture (200 test images, used as training and test set here).
work=$(mktemp -d)
fixture=tests/CapsEmbedded.Tests/Fixtures/mnist
mkdir -p "$work/data"
for split in train t10k; do
  cp "$fixture/t10k-200-images-idx3-ubyte" "$work/data/$split-images-idx3-ubyte"
  cp "$fixture/t10k-200-labels-idx1-ubyte" "$work/data/$split-labels-idx1-ubyte"
done
dotnet "$tool/capsnet-torch.dll" train --data "$work/data" --epochs 3 --batch 50 --threads 2 --out "$work/torch.safetensors"
cat "$work/torch.csv"
awk -F, 'NR == 2 { first = $2 } END { if (!(NR == 4 && $2 < first)) { print "capsnet-torch train: the loss did not fall" > "/dev/stderr"; exit 1 } }' "$work/torch.csv"

# The weights load in capsnet (the runtime) and give the same error as libtorch.
dotnet build src/CapsEmbedded.Cli -c Release > "$log" 2>&1 || { cat "$log"; exit 1; }
dotnet src/CapsEmbedded.Cli/bin/Release/net10.0/capsnet.dll eval -w "$work/torch.safetensors" --data "$work/data" | tee "$work/eval.txt"
dotnet "$tool/capsnet-torch.dll" eval -w "$work/torch.safetensors" --data "$work/data" --threads 2 | tee "$work/torch-eval.txt"
a=$(awk '/^error/ { print $2 }' "$work/eval.txt"); b=$(awk '/^error/ { print $2 }' "$work/torch-eval.txt")
[ "$a" = "$b" ] || { echo "capsnet eval says $a, capsnet-torch eval says $b" >&2; exit 1; }
rm -rf "$work" "$log"
echo "capsnet-torch: build, loader fix, autograd judge, training and eval passed"
