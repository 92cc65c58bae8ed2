using CapsEmbedded.Kernels;
using CapsEmbedded.Kernels.Int8;

namespace CapsEmbedded.Runtime;

/// <summary>
/// Where each packed tensor of a CapsNet lies in one <see cref="AlignedBuffer"/>: GEMM weights in
/// <see cref="PackedGemm"/>'s panel layout (primary_caps.weight first permuted to the channels-last column order
/// [ky][kx][c] of <see cref="Im2Col.RunChannelsLast"/>), W_ij in <see cref="CapsuleTransform"/>'s layout, biases as they are;
/// every region starts on a 64-byte boundary. The int8 model (<see cref="Quantization.QuantizedCapsNet"/>) uses the same
/// layout with its primary conv's weight packed apart for <see cref="QuantizedGemm"/>.
/// </summary>
public sealed class PackedCapsNetLayout
{
    /// <summary>Floats per 64-byte alignment step.</summary>
    private const int AlignFloats = AlignedBuffer.Alignment / sizeof(float);

    public PackedCapsNetLayout(CapsNetArchitecture a) : this(a, int8Primary: false)
    {
    }

    /// <param name="a">The architecture.</param>
    /// <param name="int8Primary">
    /// The primary conv's weight is int8, packed outside this float buffer: <see cref="PrimaryWeight"/> is empty and
    /// <see cref="PrimaryMultiplier"/> holds s_a·s_w[n] in its stead; W of û is int8 too, held apart (<see cref="DigitWeight"/> is empty).
    /// </param>
    internal PackedCapsNetLayout(CapsNetArchitecture a, bool int8Primary)
    {
        ArgumentNullException.ThrowIfNull(a);
        Architecture = a;
        int offset = 0;
        Region Next(int length)
        {
            var region = new Region(offset, length);
            offset += (length + AlignFloats - 1) / AlignFloats * AlignFloats;
            return region;
        }
        Conv1Weight = Next(PackedGemm.PackedLength(a.Conv1Channels, Conv1K));
        Conv1Bias = Next(a.Conv1Channels);
        PrimaryWeight = Next(int8Primary ? 0 : PackedGemm.PackedLength(a.PrimaryChannels, PrimaryK));
        PrimaryMultiplier = Next(int8Primary ? a.PrimaryChannels : 0);
        PrimaryBias = Next(a.PrimaryChannels);
        DigitWeight = Next(int8Primary ? 0 : CapsuleTransformPackedLength(a));
        Fc1Weight = Next(PackedGemm.PackedLength(a.DecoderHidden1, a.DecoderInput));
        Fc1Bias = Next(a.DecoderHidden1);
        Fc2Weight = Next(PackedGemm.PackedLength(a.DecoderHidden2, a.DecoderHidden1));
        Fc2Bias = Next(a.DecoderHidden2);
        Fc3Weight = Next(PackedGemm.PackedLength(a.DecoderOutput, a.DecoderHidden2));
        Fc3Bias = Next(a.DecoderOutput);
        TotalLength = offset;
    }

    /// <summary>A packed tensor's place: offset and length in floats.</summary>
    public readonly record struct Region(int Offset, int Length);

    public CapsNetArchitecture Architecture { get; }

    /// <summary>conv1's GEMM k: C_in · k1².</summary>
    public int Conv1K => Architecture.Conv1PatchLength;

    /// <summary>The primary conv's GEMM k: C1 · k2².</summary>
    public int PrimaryK => Architecture.PrimaryPatchLength;

    public Region Conv1Weight { get; }
    public Region Conv1Bias { get; }
    public Region PrimaryWeight { get; }
    /// <summary>The int8 layout's s_a·s_w[n] per primary channel (an int32 sum times it is the float conv output); empty in the float layout.</summary>
    public Region PrimaryMultiplier { get; }
    public Region PrimaryBias { get; }
    public Region DigitWeight { get; }
    public Region Fc1Weight { get; }
    public Region Fc1Bias { get; }
    public Region Fc2Weight { get; }
    public Region Fc2Bias { get; }
    public Region Fc3Weight { get; }
    public Region Fc3Bias { get; }

    /// <summary>Floats of the whole packed buffer.</summary>
    public int TotalLength { get; }

    private static int CapsuleTransformPackedLength(CapsNetArchitecture a)
        => CapsuleTransform.WeightsLength(a.PrimaryCapsules, a.Classes, a.ClassDims, a.PrimaryDims);
}
