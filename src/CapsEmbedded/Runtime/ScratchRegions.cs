using System.Runtime.InteropServices;

namespace CapsEmbedded.Runtime;

/// <summary>A <see cref="ScratchLayout"/> region as a span of a scratch buffer: floats, or (the int8 regions) bytes and int32 sums.</summary>
public static class ScratchRegions
{
    /// <summary>The region's floats.</summary>
    public static Span<float> In(this ScratchLayout.Region region, Span<float> scratch) => scratch.Slice(region.Offset, region.Floats);

    /// <summary>The region's first <paramref name="count"/> bytes (a byte region is floats reinterpreted, rounded up).</summary>
    public static Span<byte> Bytes(this ScratchLayout.Region region, Span<float> scratch, int count)
        => MemoryMarshal.AsBytes(region.In(scratch)).Slice(0, count);

    /// <summary>The region as int32 values (as many as it has floats).</summary>
    public static Span<int> Ints(this ScratchLayout.Region region, Span<float> scratch) => MemoryMarshal.Cast<float, int>(region.In(scratch));
}
