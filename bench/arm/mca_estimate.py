#!/usr/bin/env python3
"""bench/arm's estimator (bench/arm/README.md): cycles per image from the machine code a NativeAOT binary really runs.

  mca_estimate.py ranges BINARY.dbg BASE          -> the -dfilter ranges of the kernel functions (for qemu -d exec)
  mca_estimate.py count BINARY.dbg BASE IMAGES    <- qemu's exec trace on stdin; -> JSON: per stage, translation-block
                                                     start → executions per image
  mca_estimate.py cycles BINARY BINARY.dbg COUNTS.json TRIPLE CPU   -> JSON: per stage, cycles per image (llvm-mca)
  mca_estimate.py selftest                        -> checks of the text handling and the arithmetic

A qemu translation block (TB) starts at a traced pc and runs to the first control-flow instruction, so every executed
instruction of the kernels is in exactly one counted TB. Each distinct TB becomes one llvm-mca code region; its steady-state
cycles per iteration times its executions per image, summed over a stage, is the stage's estimate. Loop bodies are
one TB each (the hot GEMM loops, the gathers, routing's weighted sums), so that is their throughput; straight-line
code is charged as if it overlapped with itself, which flatters it. Nothing here models caches or branch mispredictions.
"""
import bisect
import json
import re
import subprocess
import sys
from collections import defaultdict

import os

MCA = os.environ.get("LLVM_MCA", "llvm-mca-16")
OBJDUMP = os.environ.get("LLVM_OBJDUMP", "llvm-objdump-16")
NM = os.environ.get("LLVM_NM", "llvm-nm-16")

# The functions whose executed blocks are counted: the runtime's kernels, the quantised model, the generated MNIST model,
# and CoreLib's span fill / clear / copy helpers they call.
KERNEL_SYMBOL = re.compile(
    r"^(CapsEmbedded_CapsEmbedded_(Kernels|Quantization)_|CapsEmbedded_Models_CapsEmbedded_Models_MnistCapsNet"
    r"|S_P_CoreLib_System_SpanHelpers__(Clear|Fill)|S_P_CoreLib_System_Buffer__Memmove)")

# A traced entry into one of these starts a stage. The float32 model (generated Layers) and the int8 model (QuantizedCapsNet)
# run them in this order once per image; a kernel entry is listed beside its layer method in case the JIT inlines the latter.
STAGES = ["conv1", "primary", "transform", "routing", "lengths"]
STAGE_MARKERS = [
    ("conv1", re.compile(r"_Layers__Conv1(_\d+)?$|_QuantizedCapsNet__Conv1$|_Kernels_Im2Col__Run(_\d+)?$")),
    ("primary", re.compile(r"_Layers__PrimaryConv(_\d+)?$|_QuantizedCapsNet__PrimaryConv$|_Kernels_PackedGemm__Convolve(_\d+)?$"
                           r"|_Kernels_Im2Col__RunChannelsLast<UInt8>$")),
    ("transform", re.compile(r"_Layers__CapsuleTransform(_\d+)?$|_Kernels_CapsuleTransform__Run(_\d+)?$|_QuantizedCapsNet__Transform$"
                             r"|_Kernels_Int8_QuantizedTransform__Run(Pinned)?$")),
    ("routing", re.compile(r"_Kernels_Routing__Run(_\d+)?$")),
    ("lengths", re.compile(r"_Kernels_CapsuleLengths__Run(_\d+)?$")),
]

# The functions each stage may run (its kernels, the model's glue between layers, CoreLib's span helpers). A function
# outside its stage's list means the markers no longer match the code (a new entry point, a renamed kernel, per-run work
# such as pool statistics counted as per-image): the count stops and names it, so a stale estimate cannot pass silently.
SHARED = r"S_P_CoreLib_|___cctor$|___c____cctor_b__|__Dispose$|_MnistCapsNet(_Session|_Weights)?__|_QuantizedCapsNet(_Workspace)?__(get_|Predict|Forward|Region|CheckWorkspace)|_QuantizedSession__|_Kernels_KernelArguments__|_Kernels_SimdTiers__|_Kernels_Int8_Int8Tiers__"
STAGE_FUNCTIONS = {
    "conv1": re.compile(rf"{SHARED}|_Layers__Conv1|_QuantizedCapsNet__Conv1$|_Kernels_Im2Col__|_Kernels_PackedGemm(_\w+)?__|_Kernels_Int8_QuantizeU7__"),
    "primary": re.compile(rf"{SHARED}|_Layers__(PrimaryConv|Capsules|RegroupAndSquash)|_QuantizedCapsNet__(PrimaryConv|Capsules|Transform)$|_Kernels_Im2Col__"
                          r"|_Kernels_PackedGemm(_\w+)?__|_Kernels_HalfWidening__|_Kernels_HalfPanels|_Kernels_Int8_(QuantizedGemm|Dequantise)"
                          r"|_Kernels_(SquashVectors|Squash|VectorMath)__"),
    "transform": re.compile(rf"{SHARED}|_Layers__(Capsules|CapsuleTransform)|_QuantizedCapsNet__(Capsules|Transform)$|_Kernels_CapsuleTransform__"
                            r"|_Kernels_HalfWidening__|_Kernels_HalfPanels|_Kernels_VectorMath__|_Kernels_Int8_QuantizedTransform__"),
    "routing": re.compile(rf"{SHARED}|_Kernels_Routing__|_Kernels_VectorMath__|_Kernels_(SquashVectors|Squash)__"),
    "lengths": re.compile(rf"{SHARED}|_Kernels_CapsuleLengths__"),
}

ARM_ENDS = re.compile(r"^(b|b\..*|bl|blr|br|ret|cbz|cbnz|tbz|tbnz|brk|svc|udf)$")
X86_ENDS = re.compile(r"^(j.*|call.*|ret.*|ud2|int3|hlt|syscall)$")


def symbols(dbg):
    """(address, size, name) of the defined text symbols, sorted."""
    out = subprocess.run([NM, "-S", "--defined-only", dbg], check=True, capture_output=True, text=True).stdout
    result = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in ("t", "T"):
            result.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    return sorted(result)


# Load-time work, not per image: left out of the trace (packing the weights is most of a short run's blocks).
LOAD_TIME = re.compile(r"__(Pack|PackWeights|PermuteWeightsToChannelsLast|PackedLength|PackedIndex)(_\d+)?$")


def kernel_functions(dbg):
    return [s for s in symbols(dbg) if KERNEL_SYMBOL.match(s[2]) and not LOAD_TIME.search(s[2]) and s[1] > 0]


def ranges(dbg, base):
    """Merged [start, end) ranges of the kernel functions, as qemu's -dfilter wants them (start..end, inclusive)."""
    spans = sorted((base + a, base + a + size) for a, size, _ in kernel_functions(dbg))
    merged = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 64:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return ",".join(f"0x{s:x}..0x{e - 1:x}" for s, e in merged)


def count(dbg, base, images, stream):
    """Executions per image of each TB start, per stage (from `Trace N: host [cs_base/pc/flags/cflags]` lines)."""
    return count_functions(kernel_functions(dbg), base, images, stream)


def count_functions(functions, base, images, stream):
    """count() on a symbol list [(address, size, name)]. Blocks before the first image's first marker are load time and
    left out. Fails (SystemExit, naming what is wrong) unless the stages ran in order, exactly `images` times
    (check_functions tests which functions each stage ran)."""
    markers = {}
    for address, _, name in functions:
        for stage, pattern in STAGE_MARKERS:
            if pattern.search(name):
                markers[address] = stage
    found = set(markers.values())
    missing = [s for s in STAGES if s not in found]
    if missing:
        sys.exit(f"mca_estimate.py count: no function in the binary marks the start of stage(s) {', '.join(missing)} "
                 "(STAGE_MARKERS is stale: which function starts that stage now?)")
    starts = [address for address, _, _ in functions]
    counts = defaultdict(lambda: defaultdict(int))
    stage = None  # load time, before the first image
    entered = []  # the stages in the order they were entered
    for line in stream:
        pc = traced_pc(line, base)
        if pc is None:
            continue
        marked = markers.get(pc)
        if marked is not None and marked != stage:
            expected = STAGES[(STAGES.index(stage) + 1) % len(STAGES)] if stage else STAGES[0]
            if marked != expected:
                sys.exit(f"mca_estimate.py count: image {entered.count(STAGES[0])}: stage {marked} entered after "
                         f"{stage or 'load'}, expected {expected} (at {name_at(functions, starts, pc)})")
            stage = marked
            entered.append(stage)
        if stage is not None:
            counts[stage][pc] += 1
    runs = entered.count(STAGES[0])
    if runs != images or (entered and entered[-1] != STAGES[-1]):
        sys.exit(f"mca_estimate.py count: the trace ran {runs} images' stages (ending in {entered[-1] if entered else 'none'}), "
                 f"expected {images} whole ones: the traced command must run one forward pass per image and nothing else per image")
    return {s: {f"{pc:x}": n / images for pc, n in sorted(c.items())} for s, c in counts.items()}


def check_functions(functions, counts):
    """Fails (SystemExit) if a stage of `counts` (count()'s JSON) ran a function outside its STAGE_FUNCTIONS. Kept apart
    from count() so that a long trace's counts survive a stale list: `cycles` runs this check before it uses them."""
    starts = [address for address, _, _ in functions]
    for stage, blocks in counts.items():
        names = {name_at(functions, starts, int(pc, 16)) for pc in blocks}
        strays = sorted(n or "(no function)" for n in names if n is None or not STAGE_FUNCTIONS[stage].search(n))
        if strays:
            sys.exit(f"mca_estimate.py: stage {stage} ran function(s) outside its STAGE_FUNCTIONS: {', '.join(strays)} "
                     "(a new kernel, a moved stage boundary, or work that is not per image)")


def name_at(functions, starts, pc):
    """The name of the function holding `pc`, or None."""
    i = bisect.bisect_right(starts, pc) - 1
    if i >= 0 and pc < functions[i][0] + functions[i][1]:
        return functions[i][2]
    return None


def traced_pc(line, base):
    """The guest pc (minus the load base) of a `Trace N: host [cs_base/pc/flags/cflags] ...` line of qemu -d exec, or None."""
    if not line.startswith("Trace "):
        return None
    return int(line.split("[", 1)[1].split("/")[1], 16) - base


def disassemble(binary, start, stop):
    """[(address, mnemonic, operands)] of [start, stop) in `binary`, objdump's comments removed."""
    out = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", f"--start-address=0x{start:x}", f"--stop-address=0x{stop:x}", binary],
                         check=True, capture_output=True, text=True).stdout
    return parse_objdump(out)


LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")


def parse_objdump(text):
    result = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        operands = re.split(r"\s+(//|#|;)\s", " " + m.group(3) + " ")[0].strip()
        result.append((int(m.group(1), 16), m.group(2), operands))
    return result


def block(instructions, start, ends):
    """The instructions of the TB that starts at `start`: up to and including the first control-flow instruction."""
    body = []
    for address, mnemonic, operands in instructions:
        if address < start:
            continue
        body.append((mnemonic, operands))
        if ends.match(mnemonic) or len(body) >= 512:
            break
    return body


TARGET = re.compile(r"(?<![\w(])(0x[0-9a-f]+|[0-9a-f]{3,})( <[^>]*>)?(?![\w(])")


def assemble(mnemonic, operands, label, ends):
    """One line of assembly llvm-mca accepts: branch and pc-relative targets (objdump prints addresses) become `label`."""
    pc_relative = ends.match(mnemonic) or mnemonic in ("adr", "adrp") or (mnemonic.startswith("ld") and re.fullmatch(r"\S+, *(0x)?[0-9a-f]+( <.*>)?", operands))
    if pc_relative and mnemonic not in ("ret", "br", "blr") and not mnemonic.startswith("ret"):
        if mnemonic.startswith("call") or mnemonic.startswith("j"):
            operands = operands if operands.startswith("*") else TARGET.sub(label, operands)
        else:
            operands = TARGET.sub(label, operands, count=1) if mnemonic in ("adr", "adrp") or mnemonic.startswith("ld") else re.sub(r"(0x)?[0-9a-f]+( <[^>]*>)?$", label, operands)
    operands = re.sub(r" <[^>]*>", "", operands)
    if mnemonic in ("bl", "blr") or mnemonic.startswith("call"):
        # llvm-mca gives a call 100 cycles of latency, which the next block's save of the link register would wait
        # for; the callee's blocks are counted on their own, so the call is charged as the branch it also is.
        return f"b {label}" if mnemonic.startswith("b") else f"jmp {label}"
    return f"{mnemonic} {operands}".strip()


def cycles(binary, dbg, counts, triple, cpu):
    """Per stage: estimated cycles per image = sum over its TBs of executions × llvm-mca cycles per iteration."""
    aarch64 = triple.startswith("aarch64")
    ends = ARM_ENDS if aarch64 else X86_ENDS
    functions = kernel_functions(dbg)
    check_functions(functions, counts)
    starts = sorted({int(pc, 16) for stage in counts.values() for pc in stage})
    code = {}
    for address, size, name in functions:
        inside = [pc for pc in starts if address <= pc < address + size]
        if inside:
            instructions = disassemble(binary, address, address + size)
            for pc in inside:
                code[pc] = block(instructions, pc, ends)
    lines = [".text"] if aarch64 else [".text", ".att_syntax"]
    for pc in starts:
        label = f".Lb{pc:x}"
        lines.append(f"# LLVM-MCA-BEGIN b{pc:x}")
        lines.append(f"{label}:")
        lines.extend(assemble(m, o, label, ends) for m, o in code[pc])
        lines.append(f"# LLVM-MCA-END b{pc:x}")
    source = "\n".join(lines) + "\n"
    per_block = run_mca(source, triple, cpu)
    owner = {}
    for address, size, name in functions:
        for pc in starts:
            if address <= pc < address + size:
                owner[pc] = name
    result = {}
    for stage, blocks in counts.items():
        total = sum(n * per_block[f"b{int(pc, 16):x}"] for pc, n in blocks.items())
        instructions = sum(n * len(code[int(pc, 16)]) for pc, n in blocks.items())
        by_function = defaultdict(float)
        hottest = {}
        for pc, n in blocks.items():
            name = owner[int(pc, 16)]
            by_function[name] += n * per_block[f"b{int(pc, 16):x}"]
            if n > hottest.get(name, (0, 0))[0]:
                hottest[name] = (n, per_block[f"b{int(pc, 16):x}"])
        top = sorted(by_function.items(), key=lambda item: -item[1])[:6]
        result[stage] = {"cycles": total, "instructions": instructions,
                         "functions": [{"name": name, "cycles": c, "hottest_block_runs": hottest[name][0],
                                        "hottest_block_cycles": hottest[name][1]} for name, c in top]}
    return result


def count_flat(base, low, high, stream):
    """Executions of each TB start in [low, high) (addresses of the binary, the load base taken off), for a peer binary
    without symbols: every block of its code counts, no stages."""
    counts = defaultdict(int)
    for line in stream:
        pc = traced_pc(line, base)
        if pc is not None and low <= pc < high:
            counts[pc] += 1
    if not counts:
        sys.exit("mca_estimate.py count-flat: the qemu trace holds no 'Trace' line inside the range")
    return {f"{pc:x}": n for pc, n in sorted(counts.items())}


def per_image(long_run, short_run, extra_images):
    """Executions per image: the run of N images minus the run of fewer, over the images between (set-up drops out)."""
    result = {}
    for pc, n in long_run.items():
        d = (n - short_run.get(pc, 0)) / extra_images
        if d > 0:
            result[pc] = d
    return result


def cycles_flat(binary, counts, triple, cpu, top=8):
    """cycles() for a binary without symbols (a stripped peer library): each counted TB disassembled from its start to its
    first control-flow instruction, llvm-mca per block; the total per image and the hottest blocks."""
    ends = ARM_ENDS if triple.startswith("aarch64") else X86_ENDS
    starts = sorted(int(pc, 16) for pc in counts)
    windows = []  # merged [start, stop) ranges to disassemble, each block's start + 2 KiB
    for pc in starts:
        if windows and pc <= windows[-1][1] + 65536:
            windows[-1][1] = max(windows[-1][1], pc + 2048)
        else:
            windows.append([pc, pc + 2048])
    code = {}
    for start, stop in windows:
        instructions = disassemble(binary, start, stop)
        for pc in starts:
            if start <= pc < stop:
                code[pc] = block(instructions, pc, ends)
    lines = [".text"] if triple.startswith("aarch64") else [".text", ".att_syntax"]
    for pc in starts:
        lines += [f"# LLVM-MCA-BEGIN b{pc:x}", f".Lb{pc:x}:"] + [assemble(m, o, f".Lb{pc:x}", ends) for m, o in code[pc]]
        lines.append(f"# LLVM-MCA-END b{pc:x}")
    per_block = run_mca("\n".join(lines) + "\n", triple, cpu, skip_unscheduled=True)
    blocks = [(counts[f"{pc:x}"] * per_block[f"b{pc:x}"], pc) for pc in starts]
    hottest = sorted(blocks, reverse=True)[:top]
    return {"cycles": sum(c for c, _ in blocks), "instructions": sum(counts[f"{pc:x}"] * len(code[pc]) for pc in starts),
            "hottest": [{"pc": f"{pc:x}", "runs": counts[f"{pc:x}"], "cycles_per_run": per_block[f"b{pc:x}"], "cycles": c,
                         "code": "; ".join(f"{m} {o}" for m, o in code[pc][:24])} for c, pc in hottest]}


def run_mca(source, triple, cpu, skip_unscheduled=False):
    """Cycles per iteration of every code region of `source` (llvm-mca's JSON summary, 100 iterations each). A peer's
    library may hold instructions the core's model has no scheduling data for: `skip_unscheduled` drops them (counted as free)."""
    done = subprocess.run([MCA, f"-mtriple={triple}", f"-mcpu={cpu}", "-json", "-iterations=100"]
                          + (["-skip-unsupported-instructions=lack-sched"] if skip_unscheduled else []),
                          input=source, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"llvm-mca failed for {triple} {cpu}:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    result = {}
    for region in report["CodeRegions"]:
        summary = region["SummaryView"]
        result[region["Name"]] = summary["TotalCycles"] / summary["Iterations"]
    return result


def selftest():
    sample = """
   a39e0:      \tstp\tx29, x30, [sp, #-0x10]!
   a39e4:      \tcmp\tw3, #0x4        // =4
   a39e8:      \tb.lt\t0xa3a20 <CapsEmbedded_X+0x40>
   a39ec:      \tldr\tq16, [x1, x2]
   a39f0:      \tfmla\tv16.4s, v0.4s, v1.s[0]
   a39f4:      \tret
"""
    instructions = parse_objdump(sample)
    assert [i[0] for i in instructions] == [0xa39e0, 0xa39e4, 0xa39e8, 0xa39ec, 0xa39f0, 0xa39f4], instructions
    assert instructions[1] == (0xa39e4, "cmp", "w3, #0x4"), instructions[1]
    tb = block(instructions, 0xa39e0, ARM_ENDS)
    assert [m for m, _ in tb] == ["stp", "cmp", "b.lt"], tb
    assert block(instructions, 0xa39ec, ARM_ENDS)[-1][0] == "ret"
    assert assemble("b.lt", "0xa3a20 <CapsEmbedded_X+0x40>", ".L1", ARM_ENDS) == "b.lt .L1"
    assert assemble("cbnz", "x3, 0xa3a20 <f+0x4>", ".L1", ARM_ENDS) == "cbnz x3, .L1"
    assert assemble("tbz", "w0, #0x1f, 0xa3a20 <f>", ".L1", ARM_ENDS) == "tbz w0, #0x1f, .L1"
    assert assemble("adrp", "x0, 0x3a8e000 <f>", ".L1", ARM_ENDS) == "adrp x0, .L1"
    assert assemble("ldr", "q16, [x1, x2]", ".L1", ARM_ENDS) == "ldr q16, [x1, x2]"
    assert assemble("jne", "0x370865 <f+0x10>", ".L1", X86_ENDS) == "jne .L1"
    assert assemble("callq", "0x370865 <f>", ".L1", X86_ENDS) == "jmp .L1"
    assert assemble("callq", "*0x10(%rax)", ".L1", X86_ENDS) == "jmp .L1"
    assert assemble("blr", "x3", ".L1", ARM_ENDS) == "b .L1"
    assert assemble("vmovups", "0x20(%rdi,%rax,4), %ymm0", ".L1", X86_ENDS) == "vmovups 0x20(%rdi,%rax,4), %ymm0"
    assert traced_pc("Trace 0: 0x7fef05b77b40 [0000000000000000/00000055000a39e4/1040c0b3/00080200] \n", 0x5500000000) == 0xa39e4
    assert traced_pc("capsnet: some output\n", 0x5500000000) is None
    # Stage attribution: two images through synthetic functions, then the failures the count must not let pass.
    fns = [(0x100, 0x10, "M_MnistCapsNet__Predict_0"), (0x110, 0x10, "M_MnistCapsNet_Layers__Conv1"),
           (0x120, 0x10, "K_Kernels_PackedGemm__Drive<X>"), (0x130, 0x10, "M_MnistCapsNet_Layers__PrimaryConv"),
           (0x140, 0x10, "K_Kernels_CapsuleTransform__Run_0"), (0x150, 0x10, "K_Kernels_Routing__Run_0"),
           (0x160, 0x10, "K_Kernels_CapsuleLengths__Run_0"), (0x170, 0x10, "K_Kernels_HalfWidening__Run<H>")]
    line = lambda pc: f"Trace 0: 0x1 [0000000000000000/{0x5500000000 + pc:016x}/0/0] \n"
    image = [0x100, 0x110, 0x120, 0x124, 0x124, 0x130, 0x120, 0x170, 0x140, 0x170, 0x150, 0x160]
    got = count_functions(fns, 0x5500000000, 2, [line(0x170)] + [line(pc) for pc in image * 2])
    assert got["primary"] == {"120": 1.0, "130": 1.0, "170": 1.0}, got  # the load-time 0x170 is left out
    assert got["conv1"] == {"110": 1.0, "120": 1.0, "124": 2.0} and got["lengths"] == {"100": 0.5, "160": 1.0}, got

    def fails(functions, images, trace, words):
        try:
            count_functions(functions, 0x5500000000, images, [line(pc) for pc in trace])
        except SystemExit as e:
            assert all(w in str(e) for w in words), e
            return
        raise AssertionError(f"count passed, expected a failure naming {words}")
    fails(fns, 3, image * 2, ["2 images"])                                                   # fewer images than said
    try:  # per-run work after the images (pool statistics) lands in the last stage, which may not run a GEMM
        check_functions(fns, count_functions(fns, 0x5500000000, 2, [line(pc) for pc in image * 2 + [0x120]]))
        raise AssertionError("check_functions passed a GEMM block in the lengths stage")
    except SystemExit as e:
        assert "lengths" in str(e) and "PackedGemm__Drive" in str(e), e
    check_functions(fns, got)
    fails(fns, 2, image + [0x110, 0x140], ["transform entered after conv1"])                 # a stage skipped
    fails([f for f in fns if "PrimaryConv" not in f[2]], 2, image * 2, ["stage(s) primary"])  # a marker gone from the binary
    assert per_image({"10": 7, "20": 3, "30": 2}, {"10": 1, "20": 3}, 2) == {"10": 3.0, "30": 1.0}
    print("selftest: pass")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "ranges":
        print(ranges(sys.argv[2], int(sys.argv[3], 16)))
    elif command == "count":
        print(json.dumps(count(sys.argv[2], int(sys.argv[3], 16), int(sys.argv[4]), sys.stdin), indent=1))
    elif command == "cycles":
        with open(sys.argv[4]) as f:
            print(json.dumps(cycles(sys.argv[2], sys.argv[3], json.load(f), sys.argv[5], sys.argv[6]), indent=1))
    elif command == "count-flat":  # count-flat BASE LOW HIGH < trace
        print(json.dumps(count_flat(int(sys.argv[2], 16), int(sys.argv[3], 16), int(sys.argv[4], 16), sys.stdin)))
    elif command == "cycles-flat":  # cycles-flat BINARY COUNTS_LONG COUNTS_SHORT EXTRA_IMAGES TRIPLE CPU
        with open(sys.argv[3]) as f, open(sys.argv[4]) as g:
            counts = per_image(json.load(f), json.load(g), int(sys.argv[5]))
        print(json.dumps(cycles_flat(sys.argv[2], counts, sys.argv[6], sys.argv[7]), indent=1))
    elif command == "selftest":
        selftest()
    else:
        sys.exit(__doc__)
