#!/usr/bin/env bash
# Issue 33: estimated ms per MNIST image on Raspberry Pi 5 / 4 / 3 cores from the machine code the NativeAOT linux-arm64
# build really runs (no board needed), with an error bar from the same method on this x64 machine. Method and blind
# spots: bench/arm/README.md. Prints the estimate's block of bench/RESULTS.md "Edge figures"; --write-results replaces
# that block there (between its generated-by comments) and nothing else.
#
# Usage: bash bench/arm/estimate.sh [--images N] [--rounds R] [--arm64 DIR] [--x64 DIR] [--work DIR] [--write-results]
#   --images N   MNIST test digits traced and timed on x64 (default 8: the first N)
#   --rounds R   timing rounds on x64 (default 600, ≈ 1.5 min on the loaded VM; per stage and digit the best round is kept)
#   --arm64 DIR  reuse a linux-arm64 `capsnet` publish (capsnet + capsnet.dbg) instead of publishing one
#   --x64 DIR    reuse a linux-x64 publish of bench/arm/StageProbe (StageProbe + StageProbe.dbg)
#   --work DIR   where the traces, counts and cycle files go (default: a new temporary folder, kept)
#   --resident   also trace the float32 model on its embedded weights widened once at load (--residency widened) and on
#                its primary conv's panels widened at load, W in place (--residency widenedprimary), beside it
#   --ort        also the peer: ONNX Runtime's linux-arm64 libonnxruntime.so (the NuGet package's) on the exported graph,
#                every block of the stripped library counted (bench/arm/ort/ort_run.c; needs root for a private mount)
# Needs: dotnet, clang + lld + the aarch64 cross sysroot (as .ci/arm64.sh), qemu-user-static, llvm 19 (llvm-mca-19,
# llvm-objdump-19, llvm-nm-19; llvm-16 works too, but its Cortex-A76 is the A57 model), python3, and the MNIST test
# files under $CAPSNET_DATA/mnist (default ./data/mnist: `capsnet data fetch mnist`).
# Time, measured on the shared 2-core VM at load average 20-30: the four qemu traces (run at once) ≈ 13 min, llvm-mca
# ≈ 1 min, the x64 timing ≈ 1.5 min; each publish adds ≈ 5-10 min (skip them with --arm64 / --x64).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/arm

images=8 rounds=600 arm64="" x64="" work="" write=0 resident=0 ort=0
while (($#)); do
  case "$1" in
    --images) images=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --arm64) arm64=$2; shift 2 ;;
    --x64) x64=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --resident) resident=1; shift ;;
    --ort) ort=1; shift ;;
    --write-results) write=1; shift ;;
    *) echo "estimate.sh: unknown argument '$1' (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done

fail() { echo "estimate.sh: $*" >&2; exit 1; }
# The scripts' own checks first (stage attribution, arithmetic): a failing one stops the run before any trace.
python3 $here/mca_estimate.py selftest >&2 || fail "mca_estimate.py selftest failed"
python3 $here/report.py selftest >&2 || fail "report.py selftest failed"
# llvm 19 first (it has a Neoverse N1 model, the A76's server twin), else 16.
llvm=""
for version in 19 16; do
  if command -v "llvm-mca-$version" >/dev/null && command -v "llvm-objdump-$version" >/dev/null && command -v "llvm-nm-$version" >/dev/null; then
    llvm=$version
    break
  fi
done
[[ -n "$llvm" ]] || fail "llvm-mca-19 (or -16), llvm-objdump and llvm-nm are missing: apt-get install -y llvm-19"
export LLVM_MCA=llvm-mca-$llvm LLVM_OBJDUMP=llvm-objdump-$llvm LLVM_NM=llvm-nm-$llvm
for tool in dotnet clang python3 qemu-aarch64-static qemu-x86_64-static; do
  command -v "$tool" >/dev/null || fail "'$tool' is missing (qemu-*-static: apt-get install -y qemu-user-static; clang: apt-get install -y clang lld)"
done
[[ -d /usr/aarch64-linux-gnu/lib ]] || fail "no aarch64 sysroot in /usr/aarch64-linux-gnu: apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
data=${CAPSNET_DATA:-$PWD/data}
[[ -f "$data/mnist/t10k-images-idx3-ubyte" || -f "$data/mnist/t10k-images-idx3-ubyte.gz" ]] \
  || fail "no MNIST test images under $data/mnist: run 'capsnet data fetch mnist' or set CAPSNET_DATA"
export CAPSNET_DATA=$data
[[ "$images" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] || fail "--images and --rounds take positive integers"

work=${work:-$(mktemp -d /tmp/arm-estimate.XXXXXX)}
mkdir -p "$work"
echo "estimate.sh: work folder $work (llvm $llvm)" >&2

if [[ -z "$arm64" ]]; then
  arm64=$work/arm64
  dotnet publish src/CapsEmbedded.Cli -r linux-arm64 -c Release -o "$arm64" -p:TreatWarningsAsErrors=true >&2
fi
[[ -x "$arm64/capsnet" && -f "$arm64/capsnet.dbg" ]] || fail "$arm64 holds no linux-arm64 capsnet with its capsnet.dbg"
if [[ -z "$x64" ]]; then
  x64=$work/x64
  dotnet publish $here/StageProbe -r linux-x64 -c Release -o "$x64" -p:TreatWarningsAsErrors=true >&2
fi
[[ -x "$x64/StageProbe" && -f "$x64/StageProbe.dbg" ]] || fail "$x64 holds no linux-x64 StageProbe with its StageProbe.dbg"

# Where qemu-user maps a position-independent binary: the start of its first mapping (qemu -d page).
# The command's own exit status does not matter (the probe without arguments prints its usage and exits 2).
load_base() {
  local log
  log=$("$@" 2>&1 >/dev/null || true)
  awk '/^[0-9a-f]+-[0-9a-f]+ / && !found {split($1, r, "-"); print "0x" r[1]; found = 1}' <<< "$log"
}
arm_qemu=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
arm_base=$(load_base "${arm_qemu[@]}" -d page "$arm64/capsnet" --version)
x64_base=$(load_base qemu-x86_64-static -cpu max -d page "$x64/StageProbe")
[[ -n "$arm_base" && -n "$x64_base" ]] || fail "could not read qemu's load address (qemu -d page printed no mapping)"

# One trace: every kernel translation block qemu runs, counted per stage (mca_estimate.py count).
trace() { # trace OUT BINARY BASE IMAGES QEMU... -- COMMAND...
  local out=$1 binary=$2 base=$3 n=$4
  shift 4
  local ranges
  ranges=$(python3 $here/mca_estimate.py ranges "$binary.dbg" "$base")
  local qemu=()
  while [[ "$1" != "--" ]]; do qemu+=("$1"); shift; done
  shift
  echo "estimate.sh: tracing $(basename "$out" .json) ($n digits)" >&2
  "${qemu[@]}" -d exec,nochain -dfilter "$ranges" "$@" 2>&1 >/dev/null \
    | python3 $here/mca_estimate.py count "$binary.dbg" "$base" "$n" > "$out"
}

# int8: the shipped MNIST weights quantised as `capsnet quantize` does by default (1,000 training digits calibrate).
int8_weights=$work/mnist-int8.safetensors
if [[ ! -f "$int8_weights" ]]; then
  "${arm_qemu[@]}" "$arm64/capsnet" quantize --weights weights/mnist.safetensors --calibrate mnist --out "$int8_weights" >&2
fi

# The four (six with --resident) traces at once (each is one qemu process; the VM has 2 cores), then a check that each wrote its counts.
int8_eval=(eval --precision int8 --weights "$int8_weights" --data mnist --limit "$images" --threads 1)
pids=()
# float32: one forward pass per digit on one thread (`eval`, not `bench --data`, whose pool statistics are not per image).
float32_eval=(eval --data mnist --limit "$images" --threads 1)
[[ -s "$work/counts-float32.json" ]] || { trace "$work/counts-float32.json" "$arm64/capsnet" "$arm_base" "$images" "${arm_qemu[@]}" -cpu max -- \
  "$arm64/capsnet" "${float32_eval[@]}" & pids+=($!); }
# The same float32 model on the embedded weights widened once at load (--residency widened) instead of read in place.
((resident == 0)) || [[ -s "$work/counts-float32-resident.json" ]] || { trace "$work/counts-float32-resident.json" "$arm64/capsnet" "$arm_base" "$images" "${arm_qemu[@]}" -cpu max -- \
  "$arm64/capsnet" "${float32_eval[@]}" --residency widened & pids+=($!); }
# And on the primary conv's panels widened once at load, W read in place (--residency widenedprimary).
((resident == 0)) || [[ -s "$work/counts-float32-widenedprimary.json" ]] || { trace "$work/counts-float32-widenedprimary.json" "$arm64/capsnet" "$arm_base" "$images" "${arm_qemu[@]}" -cpu max -- \
  "$arm64/capsnet" "${float32_eval[@]}" --residency widenedprimary & pids+=($!); }
# qemu's max CPU has DotProd (the A76's SDOT tile), its cortex-a72 has not (the SMULL tile of the A72 and A53).
[[ -s "$work/counts-int8-dot.json" ]] || { trace "$work/counts-int8-dot.json" "$arm64/capsnet" "$arm_base" "$images" "${arm_qemu[@]}" -cpu max -- \
  "$arm64/capsnet" "${int8_eval[@]}" & pids+=($!); }
[[ -s "$work/counts-int8-nodot.json" ]] || { trace "$work/counts-int8-nodot.json" "$arm64/capsnet" "$arm_base" "$images" "${arm_qemu[@]}" -cpu cortex-a72 -- \
  "$arm64/capsnet" "${int8_eval[@]}" & pids+=($!); }
[[ -s "$work/counts-x64.json" ]] || { trace "$work/counts-x64.json" "$x64/StageProbe" "$x64_base" "$images" qemu-x86_64-static -cpu max -- \
  "$x64/StageProbe" run "$data" "$images" & pids+=($!); }

# The peer (--ort): ONNX Runtime 1.31.1's linux-arm64 build, batch 1, one intra-op thread (bench/arm/ort/ort_run.c). Its
# library is stripped, so every translation block of its code (.plt + .text) counts; per image = (3-digit run - 1-digit
# run) / 2, so session creation and weight prepacking drop out. ONNX Runtime's cpuinfo crashes on the host's
# /sys/devices/system/cpu under qemu-user: each run gets a private mount there that lists one CPU. qemu's cortex-a76 CPU,
# not max: with max's SVE and SME, MLAS takes its SME GEMM, which no Pi has (and llvm-mca's N1 model cannot read).
if ((ort)); then
  ort_pkg=$(ls -d ~/.nuget/packages/microsoft.ml.onnxruntime/1.31.1 2>/dev/null) || fail "ONNX Runtime 1.31.1 is not in the NuGet cache: dotnet restore bench/CapsEmbedded.Bench"
  mkdir -p "$work/ort"
  cp "$ort_pkg/runtimes/linux-arm64/native/libonnxruntime.so" "$work/ort/"
  ln -sf libonnxruntime.so "$work/ort/libonnxruntime.so.1"
  clang --target=aarch64-linux-gnu -fuse-ld=lld -O2 -I"$ort_pkg/build/native/include" -o "$work/ort/ort_run" $here/ort/ort_run.c \
    -L"$work/ort" -lonnxruntime -Wl,-rpath,'$ORIGIN'
  [[ -f "$work/ort/mnist.onnx" ]] || "${arm_qemu[@]}" "$arm64/capsnet" export --onnx "$work/ort/mnist.onnx" >&2
  ort_qemu() { # ort_qemu QEMU-OPTIONS... -- N: one run of the driver
    local options=() ; while [[ "$1" != "--" ]]; do options+=("$1"); shift; done
    unshare -m sh -c 'mount -t tmpfs none /sys/devices/system/cpu && echo 0 > /sys/devices/system/cpu/possible && echo 0 > /sys/devices/system/cpu/present && exec "$@"' \
      ort "${arm_qemu[@]}" -cpu cortex-a76 "${options[@]}" "$work/ort/ort_run" "$work/ort/mnist.onnx" "$data/mnist/t10k-images-idx3-ubyte" "$2"
  }
  ort_base=$(ort_qemu -- 1 | awk '/^base / {print $2}')
  read -r text_low text_high < <(llvm-readelf-$llvm -S "$work/ort/libonnxruntime.so" | python3 -c '
import re, sys
sections = {m[1]: (int(m[2], 16), int(m[3], 16)) for m in re.finditer(r"\] (\.\w+)\s+\w+\s+([0-9a-f]+) [0-9a-f]+ ([0-9a-f]+)", sys.stdin.read())}
print(sections[".plt"][0], sum(sections[".text"]))')
  [[ -n "$ort_base" && -n "$text_high" ]] || fail "could not find where libonnxruntime.so is loaded or its code"
  ort_ranges=$(printf '0x%x..0x%x' $((ort_base + text_low)) $((ort_base + text_high - 1)))
  for n in 1 3; do
    [[ -s "$work/counts-ort-$n.json" ]] && continue
    echo "estimate.sh: tracing ONNX Runtime ($n digits)" >&2
    ( ort_qemu -d exec,nochain -dfilter "$ort_ranges" -- $n 2>&1 >"$work/ort-stdout-$n.txt" \
        | python3 $here/mca_estimate.py count-flat "$ort_base" "$(printf '0x%x' "$text_low")" "$(printf '0x%x' "$text_high")" > "$work/counts-ort-$n.json"
      grep -q "^base $ort_base" "$work/ort-stdout-$n.txt" || fail "libonnxruntime.so moved between runs" ) & pids+=($!)
  done
fi
for pid in "${pids[@]}"; do wait "$pid" || fail "a trace failed (see the messages above)"; done

# llvm-mca per core. Cortex-A76: LLVM's Neoverse N1 model (N1 is the A76's infrastructure twin; llvm's own cortex-a76
# schedules with the A57 model). Cortex-A72: the A57 model (the A72's parent; llvm has no A72 model).
pi5_cpu=neoverse-n1
[[ "$llvm" == 16 ]] && pi5_cpu=cortex-a76 # llvm 16 has no N1 model either: A57 then, and the report says so
cycles() { # cycles TARGET PRECISION COUNTS TRIPLE CPU BINARY
  python3 $here/mca_estimate.py cycles "$6" "$6.dbg" "$3" "$4" "$5" > "$work/cycles-$1-$2.json"
}
for target in pi5:$pi5_cpu:int8-dot pi4:cortex-a72:int8-nodot pi3:cortex-a53:int8-nodot a55:cortex-a55:int8-dot; do
  IFS=: read -r name cpu int8 <<< "$target"
  cycles "$name" float32 "$work/counts-float32.json" aarch64 "$cpu" "$arm64/capsnet"
  ((resident == 0)) || cycles "$name" float32-resident "$work/counts-float32-resident.json" aarch64 "$cpu" "$arm64/capsnet"
  ((resident == 0)) || cycles "$name" float32-widenedprimary "$work/counts-float32-widenedprimary.json" aarch64 "$cpu" "$arm64/capsnet"
  cycles "$name" int8 "$work/counts-$int8.json" aarch64 "$cpu" "$arm64/capsnet"
done
cycles x64 float32 "$work/counts-x64.json" x86_64 znver3 "$x64/StageProbe"
if ((ort)); then
  for target in pi5:$pi5_cpu pi4:cortex-a72 pi3:cortex-a53; do
    IFS=: read -r name cpu <<< "$target"
    python3 $here/mca_estimate.py cycles-flat "$work/ort/libonnxruntime.so" "$work/counts-ort-3.json" "$work/counts-ort-1.json" 2 \
      aarch64 "$cpu" > "$work/cycles-$name-ort.json"
  done
fi

# The x64 measurement: this core's clock, then the stage times (the machine is shared: best round per digit).
clang -O2 -o "$work/clock" $here/clock.c
"$work/clock" > "$work/clock-x64.txt"
"$x64/StageProbe" times "$data" "$images" "$rounds" > "$work/times-x64.json" # the digits traced
[[ -s "$work/zeros.json" ]] || "$x64/StageProbe" zeros "$data" "$images" weights/mnist.safetensors > "$work/zeros.json"
x64_model=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | xargs)
cat > "$work/meta.json" <<EOF
{"images": $images, "date": "$(date -u +%Y-%m-%d)", "commit": "$(git rev-parse --short HEAD)", "mca": "$($LLVM_MCA --version | grep -m1 -o 'LLVM version [0-9.]*')",
 "pi5_cpu": "$pi5_cpu", "x64_cpu": "znver3 ($x64_model, $(nproc) cores)"}
EOF

if ((write)); then
  python3 $here/report.py "$work" weights/mnist.safetensors bench/RESULTS.md
else
  python3 $here/report.py "$work" weights/mnist.safetensors
fi
