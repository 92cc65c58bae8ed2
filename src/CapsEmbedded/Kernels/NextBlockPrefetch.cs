using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace CapsEmbedded.Kernels;

/// <summary>
/// Brings the next k block of a packed B towards L2 while the row tiles sweep the current one, a slice of its cache lines
/// before each micro-kernel call (<see cref="PackedGemm"/>, <see cref="Int8.QuantizedGemm"/>). Without it the first row
/// tile of every block waits on memory: its sweep needs B faster than one core draws it from DRAM, and a sweep that
/// skips zero columns or groups touches the block's lines out of order, which the hardware prefetcher does not follow.
/// x86 only (.NET has no ARM64 prefetch intrinsic); elsewhere the hardware prefetcher is all there is. A hint: it
/// changes no value.
/// </summary>
internal ref struct NextBlockPrefetch
{
    private const int LineBytes = 64;
    private ref byte _line;
    private nint _linesLeft;
    private readonly nint _linesPerCall;

    /// <summary>No next block: <see cref="Next"/> prefetches nothing.</summary>
    public static NextBlockPrefetch None => default;

    /// <param name="block">The next block's first byte; its <paramref name="bytes"/> are contiguous.</param>
    /// <param name="bytes">The next block's length (0: there is none).</param>
    /// <param name="calls">The micro-kernel calls of the current block, over which the lines are spread.</param>
    public NextBlockPrefetch(ref byte block, nint bytes, int calls)
    {
        if (!Sse.IsSupported || bytes <= 0 || calls <= 0)
        {
            _line = ref Unsafe.NullRef<byte>();
            return;
        }

        _line = ref block;
        _linesLeft = (bytes + LineBytes - 1) / LineBytes;
        _linesPerCall = (_linesLeft + calls - 1) / calls;
    }

    /// <summary>Prefetches the next slice of lines (before one micro-kernel call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Next()
    {
        if (!Sse.IsSupported) return;
        nint lines = Math.Min(_linesPerCall, _linesLeft);
        for (nint i = 0; i < lines; i++)
        {
            Sse.Prefetch1(Unsafe.AsPointer(ref _line));
            _line = ref Unsafe.Add(ref _line, LineBytes);
        }

        _linesLeft -= lines;
    }
}
