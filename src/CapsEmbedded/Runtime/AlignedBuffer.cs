using System.Runtime.InteropServices;

namespace CapsEmbedded.Runtime;

/// <summary>
/// Floats in one 64-byte-aligned native allocation (a cache line; every SIMD width's alignment), freed by
/// <see cref="Dispose"/> or the finalizer. Packed weights and per-call scratch live in these, outside the GC heap.
/// </summary>
public sealed unsafe class AlignedBuffer : IDisposable
{
    /// <summary>Alignment of the allocation in bytes.</summary>
    public const int Alignment = 64;

    private float* _data;
    private void* _allocation; // what calloc returned; _data is its first 64-byte boundary

    /// <summary>
    /// Allocates <paramref name="length"/> floats, zero-filled by calloc: a large buffer comes as fresh zero pages from the
    /// OS, so pages never written (scratch a small call does not reach) cost neither a memset nor resident memory.
    /// </summary>
    public AlignedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        _allocation = NativeMemory.AllocZeroed((nuint)AllocatedBytes + Alignment - 1);
        _data = (float*)(((nuint)_allocation + Alignment - 1) & ~(nuint)(Alignment - 1));
        GC.AddMemoryPressure(AllocatedBytes);
    }

    /// <summary>Floats in the buffer.</summary>
    public int Length { get; }

    // At least one float, so that an empty buffer (a BatchContext without scratch) is a real allocation too.
    private long AllocatedBytes => Math.Max(Length, 1) * (long)sizeof(float);

    /// <summary>The memory; throws <see cref="ObjectDisposedException"/> after <see cref="Dispose"/>.</summary>
    public Span<float> Span
    {
        get
        {
            float* data = _data;
            ObjectDisposedException.ThrowIf(data is null, this);
            return new Span<float>(data, Length);
        }
    }

    /// <summary>Whether the memory was freed.</summary>
    public bool IsDisposed => _data is null;

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~AlignedBuffer() => Free();

    private void Free()
    {
        void* allocation = _allocation;
        if (allocation is null) return;
        _data = null;
        _allocation = null;
        NativeMemory.Free(allocation);
        GC.RemoveMemoryPressure(AllocatedBytes);
    }
}
