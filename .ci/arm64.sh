#!/usr/bin/env bash
# ARM64 in CI (issue 8): cross-publish `capsnet` and the kernel tier probe for linux-arm64 (NativeAOT, warnings as
# errors), run them under qemu-user (correctness only: qemu emulates, its timings mean nothing) and check the arm64
# binary against the x64 one on the first $CAPSNET_ARM64_EVAL_LIMIT (default 1000) MNIST test digits; then (issue 34)
# every command that writes or hashes a file, `capsnet-train` too, with no libssl in the sysroot (.ci/nossl.sh arm64).
# Run time on an idle 2-core CI machine, estimated ≈ 25 min: three arm64 publishes (capsnet, capsnet-train, probe)
# ≈ 2 min each, the probe runs ≈ 15 CPU-s, eval under qemu 1.1 CPU-s per digit (273 s for 250 measured) = ≈ 9 min for
# 1,000 on 2 threads; nossl.sh ≈ 16 CPU-min ≈ 8 min on 2 threads, nearly all of it the 200-image `capsnet train` (≈ 14
# CPU-min under qemu; measured: 19.2 CPU-min for nossl.sh with a 200-image capsnet-train run, 80 CPU-s for the 50-image
# one it now does). Measured on the shared VM at load 35-48 with 50 digits, before nossl.sh: 20.5 min wall. Lower
# CAPSNET_ARM64_EVAL_LIMIT to shorten it.
# Usage: .ci/arm64.sh [X64_PUBLISH_DIR]   (a folder holding an x64 NativeAOT `capsnet` is reused, else one is published)
set -euo pipefail
cd "$(dirname "$0")/.."

limit=${CAPSNET_ARM64_EVAL_LIMIT:-1000}
work=$(mktemp -d)
qemu=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)

# Cross toolchain (clang + lld link, the gcc cross package brings the aarch64 binutils and crt files) and qemu.
missing=()
for package in clang lld gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
command -v python3 >/dev/null || missing+=(python3-minimal) # runs compare_lengths.py
if ((${#missing[@]})); then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

x64=${1:-}
if [[ -z "$x64" || ! -x "$x64/capsnet" ]]; then
  x64="$work/x64"
  dotnet publish src/CapsEmbedded.Cli -r linux-x64 -c Release -o "$x64" -p:TreatWarningsAsErrors=true
fi
arm64="$work/arm64"
dotnet publish src/CapsEmbedded.Cli -r linux-arm64 -c Release -o "$arm64" -p:TreatWarningsAsErrors=true
aarch64-linux-gnu-readelf -h "$arm64/capsnet" | grep -q "Machine: *AArch64" || { echo "the linux-arm64 publish is not an aarch64 binary" >&2; exit 1; }
dotnet publish src/CapsEmbedded.TrainHost -r linux-arm64 -c Release -o "$work/train" -p:TreatWarningsAsErrors=true

# The kernels' AdvSimd code (and their scalar code) and the trainer's against the double-precision oracles (tests/CapsEmbedded.TierProbe), on the best tier.
probe="$work/probe"
dotnet publish tests/CapsEmbedded.TierProbe -r linux-arm64 -c Release -o "$probe" -p:TreatWarningsAsErrors=true
"${qemu[@]}" "$probe/CapsEmbedded.TierProbe" | tee "$work/probe.txt"
# float-lanes=4 and training-checks: the trainer's Vector<T> code (NEON's 4 floats) against its oracles (TrainingSelfCheck).
for line in best=Vector128 ran=Vector128 isa=NEON/AdvSimd float-lanes=4 training-checks=67 int8supported=Scalar,AdvSimd,AdvSimdDp int8=pass result=pass; do
  grep -qx "$line" "$work/probe.txt" || { echo "arm64 tier probe: expected '$line'" >&2; exit 1; }
done
"${qemu[@]}" "$probe/CapsEmbedded.TierProbe" Scalar | tee "$work/probe-scalar.txt" # ARM64 code of the plain loops too
grep -qx "result=pass" "$work/probe-scalar.txt" || { echo "arm64 tier probe failed on the Scalar tier" >&2; exit 1; }

# info: the same file read the same way on both architectures.
"$x64/capsnet" info weights/mnist.safetensors > "$work/info-x64.txt"
"${qemu[@]}" "$arm64/capsnet" info weights/mnist.safetensors > "$work/info-arm64.txt"
head -n 4 "$work/info-arm64.txt"
diff "$work/info-x64.txt" "$work/info-arm64.txt" || { echo "capsnet info differs between x64 and arm64" >&2; exit 1; }

# bench: a few calls only (qemu's timings mean nothing); it must run the 128-bit tier on NEON.
"${qemu[@]}" "$arm64/capsnet" bench --warmup 1 --runs 3 | tee "$work/bench.txt"
grep -q "SIMD tier Vector128 (NEON/AdvSimd)" "$work/bench.txt" || { echo "arm64 bench did not run the NEON tier" >&2; exit 1; }

# eval: every class equal to the x64 build's, every capsule length within 1e-5 relative.
"$x64/capsnet" data fetch mnist
"$x64/capsnet" eval --data mnist --limit "$limit" --dump-lengths "$work/lengths-x64.txt" > "$work/eval-x64.txt"
"${qemu[@]}" "$arm64/capsnet" eval --data mnist --limit "$limit" --dump-lengths "$work/lengths-arm64.txt" > "$work/eval-arm64.txt"
head -n 4 "$work/eval-x64.txt" "$work/eval-arm64.txt"
python3 .ci/compare_lengths.py "$work/lengths-x64.txt" "$work/lengths-arm64.txt" 1e-5

# Issue 34: no libssl in the sysroot (nossl.sh refuses to run if an aarch64 one is installed): every command that writes
# or hashes a file (info, data fetch, init, average, eval --dump-lengths, reconstruct, train, convert, quantize, export,
# capsnet-train) exits 0 and writes it; both binaries need only glibc (readelf -d) and hold no OpenSSL.
bash .ci/nossl.sh arm64 "$arm64/capsnet" "$work/train/capsnet-train"
rm -rf "$work"
