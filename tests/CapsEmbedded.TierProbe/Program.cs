using CapsEmbedded.Kernels;
using CapsEmbedded.TierProbe;

// Usage: CapsEmbedded.TierProbe [tier]   (default: SimdTiers.Best)
// Prints "best=<tier>", "ran=<tier>", "isa=<instructions>" and "float-lanes=<Vector<float>.Count>" first, so that the parent test can
// assert that the switches it set really moved the process to the tier (and the trainer to the vector width) it expects, then runs
// every kernel self-check on that tier and the trainer's self-check at that width. Exit code 0 = all passed.
// "hold-atomic-write PATH": starts an AtomicFile write, says "writing" and waits to be signalled (AtomicFileTests).
if (args is ["hold-atomic-write", var target])
{
    CapsEmbedded.IO.AtomicFile.Write(target, stream =>
    {
        stream.Write(new byte[1 << 20]);
        Console.WriteLine("writing");
        Thread.Sleep(Timeout.Infinite);
    });
    return 2;
}

SimdTier tier = args.Length > 0 ? Enum.Parse<SimdTier>(args[0]) : SimdTiers.Best;
Console.WriteLine($"best={SimdTiers.Best}");
Console.WriteLine($"supported={string.Join(",", SimdTiers.Supported)}");
Console.WriteLine($"ran={tier}");
Console.WriteLine($"isa={SimdTiers.InstructionSet(tier)}");
Console.WriteLine($"float-lanes={TrainingSelfCheck.FloatLanes}");
try
{
    int checks = KernelSelfCheck.RunAll(tier);
    Int8SelfCheck.RunAll(Console.Out); // every supported int8 tier, bit-exact; throws (result=fail) on a mismatch
    Console.WriteLine($"checks={checks}");
    Console.WriteLine($"training-checks={TrainingSelfCheck.RunAll()}"); // the trainer's Vector<T> code at this process's width
    Console.WriteLine("result=pass");
    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"result=fail: {e}");
    return 1;
}
