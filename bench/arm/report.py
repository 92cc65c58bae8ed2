#!/usr/bin/env python3
"""bench/arm's report (bench/arm/README.md): the estimate's block of bench/RESULTS.md "Edge figures", from estimate.sh's files.

  report.py WORK_DIR WEIGHTS.safetensors [RESULTS.md]   prints the estimate's block; with RESULTS.md, replaces the
                                                        block there (between its begin/end comments; the first time,
                                                        at the end of the "## Edge figures" section)
  report.py selftest                                    checks of the arithmetic
"""
import json
import os
import struct
import sys

STAGES = ["conv1", "primary", "transform", "routing", "lengths"]
# One image split over the workers (MnistCapsNet.Predict with a BatchContext): conv1 by pixel rows, the primary conv by
# panels, squash + û by capsules; routing and the lengths run on the calling thread.
PARALLEL = {"conv1", "primary", "transform"}

# name, cycles file's target, clock GHz, sustained DRAM GB/s, last-level cache one image may keep (bytes).
# Clocks: Pi 5 2.4 GHz, Pi 4 B 1.8 GHz (1.5 GHz on early boards), Pi 3 B+ 1.4 GHz, Zero 2 W 1.0 GHz as DigiKey's
# comparison lists them (forum.digikey.com/t/raspberry-pi-5-vs-other-models-cpu-test/53450); Pi 3 B 1.2 GHz.
# DRAM: Pi 4 STREAM copy 5.5 GB/s measured (sci-pi.org.uk/bench/stream.html) = 43 % of LPDDR4-3200 × 32 bit
# (12.8 GB/s); Pi 5 (LPDDR4X-4267 × 32 bit = 17.1 GB/s) and Pi 3 (LPDDR2-900 × 32 bit = 3.6 GB/s) are assumed to reach
# the same 43 %. Caches: Pi 5 512 KiB L2 per core + 2 MiB L3, Pi 4 1 MiB L2, Pi 3 512 KiB L2.
BOARDS = [
    ("Raspberry Pi 5 (Cortex-A76)", "pi5", 2.4, 7.3, 512 * 1024 + 2 * 1024 * 1024),
    ("Raspberry Pi 4 B (Cortex-A72)", "pi4", 1.8, 5.5, 1024 * 1024),
    ("Raspberry Pi 3 B+ (Cortex-A53)", "pi3", 1.4, 1.55, 512 * 1024),
    ("Raspberry Pi 3 B (Cortex-A53)", "pi3", 1.2, 1.55, 512 * 1024),
    ("Raspberry Pi Zero 2 W (Cortex-A53)", "pi3", 1.0, 1.55, 512 * 1024),
]


# The Pi 5 one-core float32 figures of earlier runs, for the improvement stated (bench/RESULTS.md history): before issue
# 33's tuning (LDR + DUP + FMLA tile; float32 weights packed at load), and the last published block (commit 1b2bc3e).
EARLIER_PI5_FLOAT32 = [("before issue 33's tuning", 6.5), ("commit 1b2bc3e, the last block published", 5.7)]


def tensor_shapes(path):
    """Shapes of a safetensors file's tensors (its JSON header)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return {name: entry["shape"] for name, entry in header.items() if name != "__metadata__"}


def product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def stage_bytes(shapes, precision, cache):
    """DRAM bytes per image and stage at batch 1: every weight once, as stored (the model is larger than any of these caches, so
    nothing survives from one image to the next), and û (written once, read by 3 weighted sums and 2 agreements)
    where it does not fit in the cache."""
    conv1 = product(shapes["conv1.weight"]) * 4
    # The float32 model reads the primary conv's panels and W in F16 where they lie (EmbeddedWeights.InPlace); the int8
    # model has int8 panels and W in int8 with one float32 scale per W_ij (QuantizedTransform); "float32-resident" is the
    # float32 model on weights widened once at load, "float32-widenedprimary" on the primary conv's panels widened at load
    # and W in F16 in place.
    primary = product(shapes["primary_caps.weight"]) * {"int8": 1, "float32": 2}.get(precision, 4)
    digit = product(shapes["digit_caps.weight"])
    transform = digit * {"int8": 1, "float32": 2, "float32-widenedprimary": 2}.get(precision, 4)
    if precision == "int8":
        transform += digit // product(shapes["digit_caps.weight"][-2:]) * 4  # s_ij
    predictions = digit // product(shapes["digit_caps.weight"][-1:]) * 4  # û: one float per row of W
    spill = predictions > cache
    return {
        "conv1": conv1,
        "primary": primary,
        "transform": transform + (predictions if spill else 0),
        "routing": 5 * predictions if spill else 0,
        "lengths": 0,
    }


def board_times(cycles, ghz, gbps, bytes_per_stage, cores, parallel=PARALLEL):
    """ms per image: per stage the larger of the compute estimate (split over `cores` for the `parallel` stages) and
    the bandwidth bound (the board's DRAM is shared, so the bound does not shrink with cores)."""
    compute = bound = total = 0.0
    for stage in STAGES:
        c = cycles.get(stage, {"cycles": 0})["cycles"] / (ghz * 1e6)
        if stage in parallel:
            c /= cores
        b = bytes_per_stage[stage] / (gbps * 1e6)
        compute += c
        bound += b
        total += max(c, b)
    return compute, bound, total


def validation(work):
    """x64: estimated ms (llvm-mca cycles at the measured clock) against measured best ms, per stage and in total."""
    with open(f"{work}/cycles-x64-float32.json") as f:
        cycles = json.load(f)
    with open(f"{work}/times-x64.json") as f:
        times = json.load(f)
    with open(f"{work}/clock-x64.txt") as f:
        ghz = float(f.read())
    rows = []
    for stage in ["conv1", "primary", "transform", "routing"]:
        estimated = cycles[stage]["cycles"] / (ghz * 1e6)
        rows.append((stage, estimated, times[stage]["best_ms"], times[stage]["median_ms"]))
    estimated = sum(cycles[s]["cycles"] for s in STAGES if s in cycles) / (ghz * 1e6)
    rows.append(("whole Predict", estimated, times["predict"]["best_ms"], times["predict"]["median_ms"]))
    return ghz, times, rows


def markdown(work, weights):
    with open(f"{work}/meta.json") as f:
        meta = json.load(f)
    shapes = tensor_shapes(weights)
    ghz, times, rows = validation(work)
    ratios = [measured / estimated for _, estimated, measured, _ in rows]
    total_ratio = ratios[-1]
    low, high = min(ratios), max(ratios)
    out = []
    w = out.append
    w(BEGIN)
    w("### Estimated from the emitted code (issue 33, bench/arm): not measured")
    w("")
    w("No ARM board is attached; these are **cycle estimates from the machine code the NativeAOT linux-arm64 build really")
    w("runs**, not timings. Method (bench/arm/README.md): qemu counts how often each translation block of the kernels runs")
    w(f"on {meta['images']} MNIST test digits (the first ones; zero columns skipped as on real input), llvm-mca gives each block's")
    w("cycles per iteration on the core's scheduling model, their product summed is the estimate; a bandwidth bound (every")
    w("weight streamed from DRAM once per image) is taken where it is larger. The same pipeline on the x64 build, against")
    w("that build's measured stage times on this VM, gives the error bar.")
    w("")
    w(f"Regenerate: `bash bench/arm/estimate.sh --write-results` ({meta['date']}, commit `{meta['commit']}`, {meta['mca']};")
    w(f"Pi 5 scheduled with `-mcpu={meta['pi5_cpu']}`)." + (f" {meta['note']}" if meta.get("note") else ""))
    w("")
    w(f"**Error bar, from x64.** Same method on the x64 NativeAOT build (Vector256 tier), {meta['x64_cpu']} model, at this VM's")
    w(f"measured clock ({ghz:.2f} GHz: a chain of dependent adds, bench/arm/clock.c) against the measured stage times")
    w(f"(`StageProbe times`, the same {times['images']} digits × {times['rounds']} rounds, per stage and digit the best round; the")
    w("shared 2-core VM was loaded (load average 10–30), so the best round still carries some of it — more rounds keep")
    w("lowering it — and the medians show how much):")
    w("")
    w("| stage | estimated ms | measured ms (best) | measured ms (median) | measured / estimated |")
    w("|---|---:|---:|---:|---:|")
    for (stage, estimated, best, median), ratio in zip(rows, ratios):
        w(f"| {stage} | {estimated:.3f} | {best:.3f} | {median:.3f} | {ratio:.2f} |")
    w("")
    w(f"So on x64 the real time was {total_ratio:.2f}× the estimate for the whole image, {low:.2f}–{high:.2f}× per stage: llvm-mca")
    w(f"is optimistic on the GEMM (it sees no cache miss, and the primary conv reads {stage_bytes(shapes, 'float32', 0)['primary'] / 1e6:.1f} MB of F16 weights per image) and pessimistic on")
    w("routing's short call-heavy blocks. The ARM figures below are the estimate (with their own bandwidth bound); read them")
    w(f"as ×{low:.2f}–{high:.2f} (the x64 spread), which assumes llvm-mca's ARM models err as its Zen 3 model does.")
    w("")
    for precision in precisions(work):
        title = {"float32": "float32 (NEON fp32 2×32 tile; the shipped embedded weights, F16 read in place)",
                 "float32-resident": "float32, embedded weights widened once at load (`--residency widened`, "
                                     "`CompiledModel.Open(null, WeightResidency.Widened)`: 27 MB of float32 resident instead of "
                                     "13.6 MB of F16 widened per image)",
                 "float32-widenedprimary": "float32, the primary conv's panels widened once at load, W in F16 in place "
                                           "(`--residency widenedprimary`, `WeightResidency.WidenedPrimary`: 24 MB per image)",
                 "int8": "int8 (SDOT 1×64 tile on A76 (DotProd), SMULL 2×16 tile on A72/A53 (no DotProd); û with W in int8; conv1, routing in float32)"}
        w(f"### {title[precision]}")
        w("")
        # Both models split one image over the workers (Predict(BatchContext, …): conv1 rows, primary panels or positions,
        # capsules); routing and the lengths stay on the calling thread.
        w("| board, clock | 1 core: estimate | ×x64 spread | bandwidth bound | 1 core: figure | 4 cores, batch 1: figure |")
        w("|---|---:|---:|---:|---:|---:|")
        for name, target, clock, gbps, cache in BOARDS:
            with open(f"{work}/cycles-{target}-{precision}.json") as f:
                cycles = json.load(f)
            per_stage = stage_bytes(shapes, precision, cache)
            compute, bound, one = board_times(cycles, clock, gbps, per_stage, 1)
            _, _, four = board_times(cycles, clock, gbps, per_stage, 4)
            w(f"| {name}, {clock:g} GHz | {compute:.1f} ms | {compute * low:.1f}–{compute * high:.1f} ms | {bound:.1f} ms "
              f"({sum(per_stage.values()) / 1e6:.1f} MB at {gbps:g} GB/s) | **{one:.1f} ms** | **{four:.1f} ms** |")
        w("")
    w(summary(work, shapes))
    w("")
    peer = peer_section(work, shapes)
    if peer:
        w(peer)
        w("")
    w(tile_cycles(work))
    widening = widen_cycles(work)
    if widening:
        w("")
        w(widening)
    w("")
    w(trip_count_check(work))
    w("")
    w("Per stage, cycles per image (where the time goes):")
    w("")
    w("| core | precision | " + " | ".join(STAGES) + " | total |")
    w("|---|---|" + "---:|" * (len(STAGES) + 1))
    for target, core in [("pi5", "A76"), ("pi4", "A72"), ("pi3", "A53"), ("a55", "A55")]:
        for precision in precisions(work):
            with open(f"{work}/cycles-{target}-{precision}.json") as f:
                cycles = json.load(f)
            values = [cycles.get(s, {"cycles": 0})["cycles"] for s in STAGES]
            w(f"| {core} | {precision} | " + " | ".join(f"{v / 1e6:.2f} M" for v in values) + f" | {sum(values) / 1e6:.2f} M |")
    w("")
    w("Figure = per stage the larger of the estimate and the bandwidth bound. 4 cores (float32 and int8 alike): conv1, the primary")
    w("conv and squash + û split over the workers as `Predict(weights, BatchContext, …)` does, routing and lengths on one core,")
    w("fork/join not counted (≈ 7 µs per barrier on x64, 4 per image). The bandwidth bound is never divided (one DRAM). Blind spots: cache")
    w("misses beyond the bandwidth bound, branch mispredictions, the hardware prefetcher (ARM has no software prefetch")
    w("here), thermal throttling (Pi 5 without cooler), straight-line blocks charged as if they overlapped with themselves;")
    w("llvm-mca has no Cortex-A72 model of its own (A72 runs on its Cortex-A57 model), and its `cortex-a76` is the A57 model")
    w("too (LLVM 16 and 19), " + ("hence the Neoverse N1 model (Arm's server core built from the A76) for the Pi 5."
                                   if meta["pi5_cpu"] != "cortex-a76" else "which this run used for the Pi 5 (no N1 model in LLVM 16): its Pi 5 figures are A72-like."))
    w("DRAM figures: Pi 4 STREAM copy 5.5 GB/s measured (sci-pi.org.uk/bench/stream.html), Pi 5 and Pi 3 assumed to reach")
    w("the same 43 % of their LPDDR4X-4267 / LPDDR2-900 peak (17.1 / 3.6 GB/s). Clocks: Pi 5 2.4, Pi 4 B 1.8, Pi 3 B+ 1.4,")
    w("Zero 2 W 1.0 GHz as listed in forum.digikey.com/t/raspberry-pi-5-vs-other-models-cpu-test/53450 (early Pi 4 B: 1.5 GHz);")
    w("Pi 3 B 1.2 GHz.")
    w(END)
    return "\n".join(out)


def one_core_figure(work, target, precision, shapes, board):
    name, _, clock, gbps, cache = board
    with open(f"{work}/cycles-{target}-{precision}.json") as f:
        cycles = json.load(f)
    return board_times(cycles, clock, gbps, stage_bytes(shapes, precision, cache), 1), \
        board_times(cycles, clock, gbps, stage_bytes(shapes, precision, cache), 4)


def summary(work, shapes):
    """The Pi 5 one-core float32 figure against the earlier ones, int8 / float32, and the two weight residencies."""
    pi5 = BOARDS[0]
    runs = {p: one_core_figure(work, "pi5", p, shapes, pi5) for p in precisions(work)}
    f32 = runs["float32"][0][2]
    lines = ["**Pi 5, one core, against earlier figures.** float32 as shipped (F16 weights read in place): "
             f"{f32:.1f} ms (" + ", ".join(f"{what}: {ms:.1f} ms, so {ms / f32:.2f}×" for what, ms in EARLIER_PI5_FLOAT32) + ")."]
    if "float32-resident" in runs:
        res = runs["float32-resident"][0][2]
        lines.append(f"With the weights widened once at load: {res:.1f} ms (" +
                     ", ".join(f"{ms / res:.2f}× {what}" for what, ms in EARLIER_PI5_FLOAT32) + ").")
    if "float32-widenedprimary" in runs:
        primary = runs["float32-widenedprimary"][0][2]
        lines.append(f"With only the primary conv's panels widened at load (W in F16 in place): {primary:.1f} ms (" +
                     ", ".join(f"{ms / primary:.2f}× {what}" for what, ms in EARLIER_PI5_FLOAT32) + ").")
    i8 = runs["int8"][0][2]
    lines.append(f"int8 (SDOT): {i8:.2f} ms, {i8 / f32:.2f}× the shipped float32 ({f32:.2f} ms)" +
                 "".join(f", {i8 / runs[p][0][2]:.2f}× {what} ({runs[p][0][2]:.2f} ms)" for p, what in
                         [("float32-resident", "the resident one"), ("float32-widenedprimary", "the one with the primary conv widened")]
                         if p in runs) + " (figures of this run, same core and clock).")
    fastest = min(runs[p][0][2] for p in runs if p.startswith("float32"))
    lines.append("Issue 33's target, int8 ≤ 0.5× float32 on the same core: "
                 + ("met" if i8 <= 0.5 * f32 else "not met") + " against the shipped float32 (F16 read in place), "
                 + ("met" if i8 <= 0.5 * fastest else "not met") + f" against the fastest float32 residency ({fastest:.2f} ms).")
    if "float32-resident" in runs:
        rows = []
        for board in BOARDS[:3]:
            target = board[1]
            inplace = one_core_figure(work, target, "float32", shapes, board)
            resident = one_core_figure(work, target, "float32-resident", shapes, board)
            mixed = one_core_figure(work, target, "float32-widenedprimary", shapes, board) if "float32-widenedprimary" in runs else None
            rows.append(f"{board[0].split(' (')[0]}: 1 core {inplace[0][2]:.1f} vs {resident[0][2]:.1f}" +
                        (f" vs {mixed[0][2]:.1f}" if mixed else "") + f" ms, 4 cores {inplace[1][2]:.1f} vs {resident[1][2]:.1f}" +
                        (f" vs {mixed[1][2]:.1f}" if mixed else "") + " ms")
        lines.append("\n\n**Weight residency (F16 in place vs widened at load" +
                     (" vs the primary conv widened at load" if "float32-widenedprimary" in runs else "") +
                     "), figures in place vs resident" + (" vs primary widened" if "float32-widenedprimary" in runs else "") +
                     ":** " + "; ".join(rows) +
                     ". Widening at load saves the per-image widening (compute) but doubles the weight bytes each image streams "
                     f"({sum(stage_bytes(shapes, 'float32', 0).values()) / 1e6:.1f} → {sum(stage_bytes(shapes, 'float32-resident', 0).values()) / 1e6:.1f} MB)"
                     ", so it wins on one core and loses where the cores split the compute and the one DRAM bounds the image; it also costs "
                     f"{(stage_bytes(shapes, 'float32-resident', 0)['primary'] + stage_bytes(shapes, 'float32-resident', 0)['transform'] - stage_bytes(shapes, 'float32', 0)['primary'] - stage_bytes(shapes, 'float32', 0)['transform']) / 2**20:.1f} MiB "
                     "more private memory (the F16 stays in the binary's clean, shared file pages).")
    return " ".join(lines[:-1]) + lines[-1] if "float32-resident" in runs else " ".join(lines)


def peer_section(work, shapes):
    """ONNX Runtime's linux-arm64 build on the exported graph, through the same method (cycles-<target>-ort.json)."""
    if not os.path.exists(f"{work}/cycles-pi5-ort.json"):
        return ""
    out = []
    for board in BOARDS[:3]:
        name, target, clock, gbps, cache = board
        with open(f"{work}/cycles-{target}-ort.json") as f:
            ort = json.load(f)
        ours = one_core_figure(work, target, "float32", shapes, board)[0][0]
        theirs = ort["cycles"] / (clock * 1e6)
        out.append(f"{name.split(' (')[0]} ({target_core(target)}): ONNX Runtime {theirs:.1f} ms, generated {ours:.1f} ms, "
                   f"{theirs / ours:.2f}×")
    with open(f"{work}/cycles-pi5-ort.json") as f:
        ort = json.load(f)
    hot = ort["hottest"][0]
    return ("**The peer on the same method (issue 33 item 4).** ONNX Runtime 1.31.1's linux-arm64 `libonnxruntime.so` (NuGet, "
            "stripped: every block of its code counted, no stages) on the graph `capsnet export --onnx` writes, batch 1, one "
            "intra-op thread, all graph optimisations (`bench/arm/ort/ort_run.c`); its executions per image are the difference "
            "of a 3-digit and a 1-digit run (session creation and weight prepacking drop out). One-core compute estimates, "
            "both without the bandwidth bound (ONNX Runtime streams its float32 weights, 27 MB, the generated model 13.6 MB of F16): "
            + "; ".join(out) + " (above 1: the generated model is ahead). ONNX Runtime's calls into libc (memcpy, memset) are "
            f"not counted, nor are the generated model's outside the kernels. Its hottest block on the N1 model: {hot['cycles_per_run']:.1f} "
            f"cycles × {hot['runs']:,.0f} runs (`{hot['code'][:160]}…`).")


def target_core(target):
    return {"pi5": "A76", "pi4": "A72", "pi3": "A53", "a55": "A55"}[target]


def precisions(work):
    """The runs the work folder holds cycles for: float32 (embedded, F16 in place), float32-resident and
    float32-widenedprimary if traced, int8."""
    resident = [p for p in ["float32-resident", "float32-widenedprimary"] if os.path.exists(f"{work}/cycles-pi5-{p}.json")]
    return ["float32"] + resident + ["int8"]


def tile_cycles(work):
    """llvm-mca cycles of one k step (the loop-body block) of the primary conv's register tiles, per core."""
    parts = []
    for target, core in [("pi5", "A76 (N1 model)"), ("pi4", "A72 (A57 model)"), ("pi3", "A53"), ("a55", "A55")]:
        found = []
        for precision, marker, what in [("float32", "Gemm2x8v", "fp32 2×32 k step (16 FMLA)"),
                                        ("int8", "Tile1x64Sdot", "int8 1×64 k group (16 SDOT)"),
                                        ("int8", "Tile2x16Smull", "int8 2×16 k group (16 SMULL + 16 SADALP)")]:
            with open(f"{work}/cycles-{target}-{precision}.json") as f:
                functions = json.load(f)["primary"]["functions"]
            fn = next((fn for fn in functions if marker in fn["name"] and "AllColumns" not in fn["name"]), None)
            if fn:
                found.append(f"{what} {fn['hottest_block_cycles']:.1f}")
        parts.append(f"{core}: " + ", ".join(found))
    return ("Cycles per iteration of the primary conv's listed-column tile loop (llvm-mca on the emitted code): " + "; ".join(parts) +
            ". The fp32 tile multiplies by lane 0 of A (FMLA by element) since issue 33; with LDR + DUP + FMLA per row"
            " it was 10.2 / 18.2 / 92 / 56 cycles per k step on these four models (bench/arm/README.md).")


def widen_cycles(work):
    """Cycles per image the float32 model spends widening its F16 weights (HalfPanels.Widen), per stage, per core."""
    parts = []
    for target, core in [("pi5", "A76"), ("pi4", "A72"), ("pi3", "A53")]:
        with open(f"{work}/cycles-{target}-float32.json") as f:
            cycles = json.load(f)
        found = []
        for stage in ["primary", "transform"]:
            spent = sum(fn["cycles"] for fn in cycles.get(stage, {}).get("functions", []) if "HalfPanels" in fn["name"])
            if spent:
                found.append(f"{stage} {spent / 1e6:.2f} M of {cycles[stage]['cycles'] / 1e6:.2f} M")
        if found:
            parts.append(f"{core}: " + ", ".join(found))
    if not parts:
        return ""
    return ("The float32 weights are embedded in F16 and widened a cache block at a time on every image (HalfPanels.Widen: "
            "half the bytes from DRAM, but the widening is work the float32-resident weights did not need); cycles per image in it: "
            + "; ".join(parts) + ".")


def trip_count_check(work):
    """The traced k steps of the NEON tile's listed-column loop (its loop-body block's executions) against the steps
    PackedGemm's zero-column rule predicts from the digits' conv1 output (StageProbe zeros, 16 output panels)."""
    with open(f"{work}/cycles-pi4-float32.json") as f:
        cycles = json.load(f)
    with open(f"{work}/zeros.json") as f:
        zeros = json.load(f)
    parts = []
    for stage in ["conv1", "primary"]:
        traced = next((fn["hottest_block_runs"] for fn in cycles[stage]["functions"]
                       if "Gemm2x8v" in fn["name"] and "ListedColumns" in fn["name"]), 0)
        predicted = zeros["rows2"][stage]["listed_steps"] * 8  # 16 output panels, two per tile
        share = zeros["rows2"][stage]["nonzero_share"]
        parts.append(f"{stage} {traced:,.0f} traced / {predicted:,.0f} predicted ({share:.0%} of the 2-row tiles' columns non-zero)")
    return ("Trip-count check (listed k steps of the NEON 2×32 tile per image, qemu trace against PackedGemm's zero-column rule "
            "applied to the same digits): " + "; ".join(parts) + ".")


BEGIN = "<!-- generated by bench/arm/estimate.sh: begin -->"
END = "<!-- generated by bench/arm/estimate.sh: end -->"


def replace_section(text, section):
    """`text` with the generated block (BEGIN … END) replaced by `section`; without one, `section` goes at the end of the
    "## Edge figures" section (before the next "## " heading), or into a new such section at the end."""
    section = section.strip("\n")
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        return text[:start] + section + text[end:]
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("## Edge figures")), None)
    if start is None:
        return "\n".join(lines) + "\n\n## Edge figures\n\n" + section + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    body = lines[:end]
    while body and body[-1] == "":
        body.pop()
    rest = lines[end:]
    return "\n".join(body + [""] + section.split("\n") + ([""] + rest if rest else [])) + "\n"


def selftest():
    shapes = {"conv1.weight": [256, 1, 9, 9], "primary_caps.weight": [256, 256, 9, 9], "digit_caps.weight": [1152, 10, 16, 8]}
    b = stage_bytes(shapes, "float32", 4 * 1024 * 1024)
    assert b["primary"] == 20736 * 256 * 2 and b["transform"] == 1152 * 10 * 128 * 2 and b["conv1"] == 81 * 256 * 4, b
    assert b["routing"] == 0, b
    mixed = stage_bytes(shapes, "float32-widenedprimary", 4 * 1024 * 1024)
    assert mixed["primary"] == 20736 * 256 * 4 and mixed["transform"] == b["transform"], mixed
    small = stage_bytes(shapes, "int8", 512 * 1024)
    # int8: W one byte a weight plus one float32 scale per W_ij, and û (737 KB) spilled past a 512 KiB cache.
    assert small["primary"] == 20736 * 256 and small["transform"] == 1152 * 10 * 128 + 1152 * 10 * 4 + 1152 * 160 * 4, small
    assert small["routing"] == 5 * 1152 * 160 * 4, small
    cycles = {"conv1": {"cycles": 2e6}, "primary": {"cycles": 8e6}, "transform": {"cycles": 0}, "routing": {"cycles": 1e6}, "lengths": {"cycles": 0}}
    zero = {s: 0 for s in STAGES}
    assert board_times(cycles, 1.0, 1.0, zero, 1) == (11.0, 0.0, 11.0)
    assert board_times(cycles, 1.0, 1.0, zero, 4)[2] == 2.5 + 1.0
    assert board_times(cycles, 1.0, 1.0, zero, 4, set(STAGES))[2] == 11.0 / 4
    bound = dict(zero, primary=20e6)  # 20 MB at 1 GB/s = 20 ms > 8 ms of compute
    assert board_times(cycles, 1.0, 1.0, bound, 1)[2] == 2 + 20 + 1
    block = f"{BEGIN}\nnew\n{END}"
    text = "# R\n\n## Edge figures\n\nkept\n\n## Next\n\nkeep\n"
    once = replace_section(text, block)
    assert once == f"# R\n\n## Edge figures\n\nkept\n\n{block}\n\n## Next\n\nkeep\n", once
    assert replace_section(once, block.replace("new", "newer")) == once.replace("new\n", "newer\n"), "regenerating replaces the block only"
    assert replace_section("# R\n", block) == f"# R\n\n## Edge figures\n\n{block}\n"
    assert replace_section("# R\n\n## Edge figures\n\nx\n", block) == f"# R\n\n## Edge figures\n\nx\n\n{block}\n"
    print("selftest: pass")


if __name__ == "__main__":
    if sys.argv[1:2] == ["selftest"]:
        selftest()
    elif len(sys.argv) in (3, 4):
        section = markdown(sys.argv[1], sys.argv[2])
        print(section)
        if len(sys.argv) == 4:
            with open(sys.argv[3]) as f:
                text = f.read()
            with open(sys.argv[3], "w") as f:
                f.write(replace_section(text, section))
    else:
        sys.exit(__doc__)
