#!/usr/bin/env bash
# Issue 16: pack the CapsEmbedded package (runtime + generator + targets) and use it as a stranger would: tests/Consumer
# (outside the solution, no path into src/ or generator/) is copied out of the repository, restored from a local feed
# of the fresh .nupkg, built, run, NativeAOT-published for linux-x64 and linux-arm64 (run under qemu), and built again
# with a missing and a malformed weight file, which must fail with the generator's CAPS diagnostics.
# Run time: 4 min 47 s measured on the shared 2-core machine under heavy load (one run, NuGet caches warm; a fresh
# machine also downloads the linux-arm64 NativeAOT packages first). The two NativeAOT publishes are most of it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Cross toolchain for the linux-arm64 NativeAOT publish, qemu to run it, unzip to list the package; only where missing.
missing=()
for p in clang lld gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static unzip; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
consumer=$work/Consumer
mkdir -p "$consumer"
cp "$repo"/tests/Consumer/{Consumer.csproj,Program.cs,my.safetensors,NuGet.config,Directory.Build.props} "$consumer"/
# The consumer's own copy of an Efficient-CapsNet file (issue 32): a second generated model, of the other family.
cp "$repo"/weights/mnist-efficient.safetensors "$consumer"/my-efficient.safetensors

# A version no earlier run used: NuGet caches packages by id + version, and a rebuilt 0.1.0 would not be picked up.
# Earlier runs' copies of this one id are removed from the global packages folder so they do not pile up.
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
rm -rf "$packages"/capsembedded/*-consumer.*
stamp=$(date -u +%Y%m%d%H%M%S)
dotnet pack src/CapsEmbedded -c Release -o "$consumer/feed" -p:VersionSuffix="consumer.$stamp" \
  -p:ContinuousIntegrationBuild=true
nupkg=$(ls "$consumer"/feed/CapsEmbedded.*.nupkg)
version=${nupkg##*/CapsEmbedded.}; version=${version%.nupkg}
contents=$(unzip -Z1 "$nupkg")
echo "packed CapsEmbedded $version:"; sed 's/^/  /' <<<"$contents"
for f in lib/net10.0/CapsEmbedded.dll analyzers/dotnet/cs/CapsEmbedded.Generator.dll buildTransitive/CapsEmbedded.targets README.md; do
  grep -qx "$f" <<<"$contents" || { echo "the package lacks $f" >&2; exit 1; }
done
test -f "${nupkg%.nupkg}.snupkg" || { echo "no symbol package next to $nupkg" >&2; exit 1; }
# Nothing of the repository but the package: no ProjectReference, Import or item path that leaves the folder.
if grep -n -E '\.\.[/\\]|ProjectReference|<Import' "$repo"/tests/Consumer/{Consumer.csproj,Directory.Build.props}; then
  echo "tests/Consumer reaches outside its folder (lines above)" >&2; exit 1
fi

props=(-c Release -p:CapsEmbeddedVersion="$version")
dotnet build "$consumer" "${props[@]}"
"$consumer/bin/Release/net10.0/Consumer"

dotnet publish "$consumer" "${props[@]}" -r linux-x64 -o "$work/x64"
"$work/x64/Consumer" | tee "$work/x64.txt"
# x86-64-v3 in the csproj: on a CPU with AVX2 the AOT binary must run the 256-bit tier (or wider).
if grep -qw avx2 /proc/cpuinfo && ! grep -qE '^prediction \(Vector(256|512)\)' "$work/x64.txt"; then
  echo "the linux-x64 NativeAOT consumer did not use the AVX2 tier" >&2; exit 1
fi

dotnet publish "$consumer" "${props[@]}" -r linux-arm64 -o "$work/arm64"
# The cross glibc's own libc beside its ld.so: where libc6:arm64 is also installed (multiarch, e.g. pulled in by
# libssl3:arm64), ld.so.cache points at that build's libc, the two don't match and the binary spins at start-up.
timeout 300 qemu-aarch64-static -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib \
  "$work/arm64/Consumer" | tee "$work/arm64.txt"
grep -q '^prediction (Vector128)' "$work/arm64.txt" || { echo "the linux-arm64 consumer did not run the NEON tier" >&2; exit 1; }

# Broken weight files must stop the build with the generator's diagnostic, not compile an empty or wrong model.
expect_diagnostic() { # name, diagnostic id, command that breaks the copy's weight file
  local dir=$work/$1; cp -r "$consumer" "$dir"; rm -rf "$dir/bin" "$dir/obj"
  (cd "$dir" && eval "$3")
  if dotnet build "$dir" "${props[@]}" > "$work/$1.log" 2>&1; then
    echo "the consumer built with a $1 weight file; expected $2" >&2; exit 1
  fi
  grep -q "error $2" "$work/$1.log" || { echo "expected $2 for a $1 weight file; the build said:" >&2; grep -E 'error|warning' "$work/$1.log" >&2; exit 1; }
  echo "a $1 weight file fails the build with: $(grep -m1 -o "error $2.*" "$work/$1.log")"
}
expect_diagnostic missing CAPS0002 'rm my.safetensors'
expect_diagnostic malformed CAPS0003 'printf "this is not a safetensors file" > my.safetensors'
echo "consumer of CapsEmbedded $version: built, ran, AOT-published (linux-x64, linux-arm64 under qemu), diagnostics shown"
