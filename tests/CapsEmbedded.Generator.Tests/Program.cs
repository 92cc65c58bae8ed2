namespace CapsEmbedded.Generator.Tests;

/// <summary>
/// Entry point of the test assembly when run as a program: <c>dotnet CapsEmbedded.Generator.Tests.dll probe</c> is the
/// child process of the SIMD-tier tests (see <see cref="Generated.TierProbe"/>). Under the test runner it is unused.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
        => args.Length > 0 && args[0] == "probe" ? Generated.TierProbe.Run(args.AsSpan(1)) : 0;
}
