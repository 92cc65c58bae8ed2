#!/usr/bin/env bash
# Issue 34: the NativeAOT binaries need glibc at run time and nothing else, OpenSSL least of all (.NET aborts with
# SIGABRT where libssl is missing, so a path that reaches it cannot even report an error).
#
#   .ci/nossl.sh elf FILE...          each file's NEEDED entries (readelf -d) are glibc's own libraries, its GLIBC_x.y
#                                     symbol versions (readelf -V) at most what docs/RUNTIME.md states, and it does not
#                                     hold the name libssl/libcrypto (the runtime's OpenSSL shim dlopens them by soname:
#                                     the name is in the file exactly when the shim is linked in)
#   .ci/nossl.sh x64 CAPSNET TRAIN    runs the x64 `capsnet` and `capsnet-train` in a chroot that holds only them, the
#                                     glibc files `ldd` lists, the weights and MNIST: dlopen by soname searches the
#                                     chroot only, so no libssl can be found (LD_LIBRARY_PATH could not hide the system's).
#                                     Needs root (chroot(2); CAP_SYS_CHROOT, which a default Docker container has).
#   .ci/nossl.sh arm64 CAPSNET TRAIN  runs the linux-arm64 binaries under qemu-aarch64-static -L /usr/aarch64-linux-gnu
#                                     (the cross sysroot: glibc and gcc's libraries; refused if an aarch64 libssl is on
#                                     the machine, as qemu falls back to host paths for what -L lacks)
#
# x64 and arm64 run the same commands: every one that writes or hashes a file, each must exit 0 and write its file.
# CPU time: x64 ≈ 10 s; arm64 under qemu ≈ 16 min, nearly all of it the 200-image `capsnet train` (≈ 14 min).
set -euo pipefail
cd "$(dirname "$0")/.."

# What docs/RUNTIME.md promises: the newest glibc symbol version a binary may need, per architecture.
declare -A glibc_max=([x86_64]=2.34 [aarch64]=2.34)

fail() { echo "nossl: $*" >&2; exit 1; }
command -v readelf >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends binutils; }

elf() {
  local file machine needed version
  for file in "$@"; do
    [[ -f "$file" ]] || fail "$file: no such file"
    machine=$(readelf -h "$file" | sed -n 's/^ *Machine: *//p')
    case "$machine" in
      *X86-64*) machine=x86_64 ;;
      *AArch64*) machine=aarch64 ;;
      *) fail "$file: unexpected machine '$machine'" ;;
    esac
    needed=$(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    for library in $needed; do
      case "$library" in
        libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | ld-linux-x86-64.so.2 | ld-linux-aarch64.so.1) ;;
        *) fail "$file needs $library, which is not part of glibc" ;;
      esac
    done
    version=$(readelf -V -W "$file" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/Name: GLIBC_//' | sort -uV | tail -n 1)
    [[ -n "$version" ]] || fail "$file: no GLIBC_ symbol versions found"
    [[ $(printf '%s\n' "$version" "${glibc_max[$machine]}" | sort -V | tail -n 1) == "${glibc_max[$machine]}" ]] \
      || fail "$file needs GLIBC_$version, newer than the ${glibc_max[$machine]} that docs/RUNTIME.md states for $machine"
    if grep -q -a -E 'lib(ssl|crypto)\.so' "$file"; then fail "$file holds the name of libssl/libcrypto: OpenSSL is linked in"; fi
    echo "$file ($machine): needs ${needed% }; glibc >= $version (GLIBC_$version is its newest symbol version); no OpenSSL"
  done
}

# A folder the commands run in: the binaries, weights/mnist.safetensors, data/mnist (hard links where possible) and out/.
stage() {
  local root=$1 capsnet=$2 train=$3
  [[ -f data/mnist/train-images-idx3-ubyte ]] || fail "data/mnist is missing: run capsnet data fetch mnist first"
  mkdir -p "$root/weights" "$root/data/mnist" "$root/out"
  cp "$capsnet" "$root/capsnet" && cp "$train" "$root/capsnet-train"
  cp -l weights/mnist.safetensors "$root/weights/" 2>/dev/null || cp weights/mnist.safetensors "$root/weights/"
  cp -l data/mnist/*-ubyte "$root/data/mnist/" 2>/dev/null || cp data/mnist/*-ubyte "$root/data/mnist/"
}

# Every command that writes or hashes a file, run by "$@" (the launcher, then the program) in $root, paths relative to it.
writers() {
  local root=$1; shift
  local -a launch=("$@")
  local n=0
  # step FILE PROGRAM ARGS...: exit 0 and FILE (relative to $root) written and not empty; stdout goes to out/N.txt.
  step() {
    local file=$1; shift
    n=$((n + 1))
    echo "-- $*"
    (cd "$root" && "${launch[@]}" "$@" > "out/$n.txt") || fail "'$*' exited with $? ($root/out/$n.txt)"
    [[ -s "$root/$file" ]] || fail "'$*' did not write $file"
  }
  step out/1.txt ./capsnet info weights/mnist.safetensors
  grep -q "^sha256 *f590cfd1" "$root/out/1.txt" || fail "capsnet info printed no (or another) SHA-256 for weights/mnist.safetensors"
  step out/2.txt ./capsnet data fetch mnist --data-dir data # already there: hashes the four files, downloads nothing
  grep -q "mnist: up to date" "$root/out/2.txt" || fail "data fetch did not find MNIST up to date by its hashes"
  step out/tiny1.safetensors ./capsnet init --arch tiny --seed 1 --out out/tiny1.safetensors
  step out/tiny2.safetensors ./capsnet init --arch tiny --seed 2 --out out/tiny2.safetensors
  step out/mean.safetensors ./capsnet average --out out/mean.safetensors out/tiny1.safetensors out/tiny2.safetensors
  step out/lengths.txt ./capsnet eval --data mnist --data-dir data --limit 20 --dump-lengths out/lengths.txt
  [[ $(wc -l < "$root/out/lengths.txt") -eq 20 ]] || fail "eval --dump-lengths wrote $(wc -l < "$root/out/lengths.txt") lines, not 20"
  step out/reconstruct.png ./capsnet reconstruct --data-dir data --count 4 --out out/reconstruct.png
  step out/t.safetensors ./capsnet train --data mnist --data-dir data --limit 200 --test-limit 20 --epochs 1 --batch 50 \
    --threads 2 --plain --out out/t.safetensors
  for side in ckpt csv svg png; do [[ -s "$root/out/t.$side" ]] || fail "capsnet train wrote no out/t.$side"; done
  step out/f32.safetensors ./capsnet convert --weights weights/mnist.safetensors --dtype f32 --out out/f32.safetensors
  step out/q.int8.safetensors ./capsnet quantize --weights weights/mnist.safetensors --calibrate mnist --data-dir data \
    --images 100 --out out/q.int8.safetensors
  step out/m.onnx ./capsnet export --onnx out/m.onnx
  # capsnet-train's hashing path too: --init-from records the SHA-256 of the file it starts from. One step of 50 images
  # (under qemu a 200-image epoch costs ≈ 5 CPU-minutes; capsnet train above ran that already).
  step out/ct.safetensors ./capsnet-train train --data mnist --data-dir data --limit 50 --test-limit 10 --epochs 1 \
    --batch 50 --threads 2 --init-from weights/mnist.safetensors --out out/ct.safetensors
  for side in ckpt csv svg; do [[ -s "$root/out/ct.$side" ]] || fail "capsnet-train wrote no out/ct.$side"; done
  echo "all $n commands exited 0 and wrote their files"
}

case "${1:-}" in
  elf)
    shift
    elf "$@"
    ;;
  x64)
    capsnet=$2 train=$3
    elf "$capsnet" "$train"
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    stage "$root" "$capsnet" "$train"
    # glibc as the binaries' loader resolves it (ld-linux, libc, libm), at the same paths: nothing else is in the chroot.
    for library in $(ldd "$capsnet" "$train" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | sort -u); do
      mkdir -p "$root$(dirname "$library")" && cp -L "$library" "$root$library"
    done
    if find "$root" -name 'libssl*' -o -name 'libcrypto*' | grep -q .; then fail "the chroot holds a libssl/libcrypto"; fi
    echo "chroot $root: $(find "$root" -name '*.so*' -printf '%P ' | sort)"
    writers "$root" chroot "$root"
    ;;
  arm64)
    capsnet=$2 train=$3
    elf "$capsnet" "$train"
    # qemu-user looks for the guest's files under -L first, then on the host: neither may hold an aarch64 libssl.
    found=$(find /usr/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu \( -name 'libssl*' -o -name 'libcrypto*' \) 2>/dev/null || true)
    [[ -z "$found" ]] || fail "an aarch64 libssl/libcrypto is installed, so this run would not prove anything: $found"
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    stage "$root" "$capsnet" "$train"
    writers "$root" qemu-aarch64-static -L /usr/aarch64-linux-gnu
    ;;
  *)
    fail "usage: .ci/nossl.sh elf FILE... | x64 CAPSNET CAPSNET-TRAIN | arm64 CAPSNET CAPSNET-TRAIN"
    ;;
esac
