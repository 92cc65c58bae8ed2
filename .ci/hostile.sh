#!/usr/bin/env bash
# Issue 14: the in-process fuzzers at 100,000 mutated inputs per reader (safetensors weights, training checkpoints,
# IDX images, labels, MultiMNIST pair labels and int32 pair recipes, plain and gzip, PNG, PGM), each input under an
# allocation cap and the whole loop under a wall-clock bound, then 20 mutants per reader through the capsnet process
# (exit 1, one line, no stack trace), then capsnet-serve over raw sockets (issue 34: malformed, oversized, slow and
# reset bodies, routing errors, weights that overflow: one-line JSON errors, one log line, no stack trace). A failing
# input is kept in fuzz-crashes/. Run time: about 3 minutes on the 2-core dev machine while shared (see
# bench/RESULTS.md, Robustness).
set -euo pipefail
cd "$(dirname "$0")/.."
export CAPSNET_FUZZ_ITERATIONS=100000 CAPSNET_CLI_FUZZ_PER_READER=20 CAPSNET_FUZZ_CRASH_DIR="$PWD/fuzz-crashes"
dotnet test tests/CapsEmbedded.Tests -c Release \
  --filter "FullyQualifiedName~FuzzTests|FullyQualifiedName~RobustnessTests|FullyQualifiedName~HostileCliTests.Mutated|FullyQualifiedName~HostileServeTests"
