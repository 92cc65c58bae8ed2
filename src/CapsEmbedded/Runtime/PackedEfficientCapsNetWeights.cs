using CapsEmbedded.Kernels;
using CapsEmbedded.Reference;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Runtime;

/// <summary>
/// An Efficient-CapsNet's weights packed for the kernels, with batch norm folded in at pack time
/// (<see cref="EfficientReferenceModel.FoldBatchNorm"/>, the reference's own folding): stem conv 0 packed for
/// <see cref="PackedGemm"/> on <see cref="Im2Col.Run"/>'s channels-first patches, stem convs 1.. transformed for
/// <see cref="WinogradConvolution"/> where <see cref="EfficientCapsNetArchitecture.StemIsWinograd"/> says so, else permuted
/// to channels-last for <see cref="PackedGemm.ConvolveChannelsLast"/>, the depthwise primary conv as [K][K][C]
/// (<see cref="DepthwiseConvolution.PackWeights"/>), W and b as in the file, the decoder's three layers packed for
/// <see cref="PackedGemm"/>. One 64-byte-aligned native allocation, each region 16-float aligned; immutable once built.
/// </summary>
public sealed class PackedEfficientCapsNetWeights : IDisposable
{
    private readonly AlignedBuffer _buffer;
    private readonly (int Offset, int Length)[] _regions;
    private const int StemRegions = 2; // weight, bias per stem layer

    private PackedEfficientCapsNetWeights(EfficientCapsNetArchitecture architecture, AlignedBuffer buffer, (int, int)[] regions)
    {
        Architecture = architecture;
        _buffer = buffer;
        _regions = regions;
    }

    /// <summary>The architecture the regions are sized for.</summary>
    public EfficientCapsNetArchitecture Architecture { get; }

    /// <summary>Stem conv <paramref name="layer"/>'s packed (BN-folded) weight.</summary>
    public ReadOnlySpan<float> StemWeight(int layer) => Region(layer * StemRegions);

    /// <summary>Stem conv <paramref name="layer"/>'s (BN-folded) bias.</summary>
    public ReadOnlySpan<float> StemBias(int layer) => Region(layer * StemRegions + 1);

    /// <summary>The depthwise primary conv's weight [K][K][C], the last batch norm folded in.</summary>
    public ReadOnlySpan<float> PrimaryWeight => Region(Stems + 0);

    /// <summary>The depthwise primary conv's bias [C], the last batch norm folded in.</summary>
    public ReadOnlySpan<float> PrimaryBias => Region(Stems + 1);

    /// <summary>W [J][N][D_in][D_out].</summary>
    public ReadOnlySpan<float> DigitWeight => Region(Stems + 2);

    /// <summary>b [J][N].</summary>
    public ReadOnlySpan<float> DigitBias => Region(Stems + 3);

    /// <summary>The decoder's packed weights and biases.</summary>
    public DecoderWeights Decoder => new(Region(Stems + 4), Region(Stems + 5), Region(Stems + 6), Region(Stems + 7),
        Region(Stems + 8), Region(Stems + 9));

    private int Stems => Architecture.Stem.Count * StemRegions;

    private ReadOnlySpan<float> Region(int index)
    {
        var (offset, length) = _regions[index];
        return _buffer.Span.Slice(offset, length);
    }

    /// <summary>Folds and packs <paramref name="weights"/> (validated by their reader).</summary>
    public static PackedEfficientCapsNetWeights Pack(EfficientCapsNetWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var a = weights.Architecture;
        var folded = EfficientReferenceModel.FoldBatchNorm(weights);

        var values = new List<(float[] Values, Action<float[], Span<float>>? Pack, int Length)>();
        for (int layer = 0; layer < a.Stem.Count; layer++)
        {
            var (weight, bias) = folded.StemConv(layer);
            int outputs = a.Stem[layer].Channels, channels = a.StemInputChannels(layer), kernel = a.Stem[layer].Kernel;
            int depth = channels * kernel * kernel;
            bool channelsLast = layer > 0;
            if (a.StemIsWinograd(layer))
            {
                values.Add((weight, (source, target) => WinogradConvolution.PackWeights(source, outputs, channels, target),
                    WinogradConvolution.PackedLength(outputs, channels)));
                values.Add((bias, null, bias.Length));
                continue;
            }

            values.Add((weight, (source, target) =>
            {
                var ordered = source;
                if (channelsLast)
                {
                    ordered = new float[source.Length];
                    Im2Col.PermuteWeightsToChannelsLast(source, outputs, channels, kernel, ordered);
                }

                PackedGemm.Pack(ordered, outputs, depth, target);
            }, PackedGemm.PackedLength(outputs, depth)));
            values.Add((bias, null, bias.Length));
        }

        var (primaryWeight, primaryBias) = folded.Primary;
        values.Add((primaryWeight, (source, target) => DepthwiseConvolution.PackWeights(source, a.PrimaryChannels, a.PrimaryKernel, target),
            primaryWeight.Length));
        values.Add((primaryBias, null, primaryBias.Length));
        var (digitWeight, digitBias) = weights.Digit;
        values.Add((digitWeight, null, digitWeight.Length));
        values.Add((digitBias, null, digitBias.Length));
        AddLinear(values, weights[CapsNetArchitecture.Fc1Weight], weights[CapsNetArchitecture.Fc1Bias], a.DecoderHidden1, a.DecoderInput);
        AddLinear(values, weights[CapsNetArchitecture.Fc2Weight], weights[CapsNetArchitecture.Fc2Bias], a.DecoderHidden2, a.DecoderHidden1);
        AddLinear(values, weights[CapsNetArchitecture.Fc3Weight], weights[CapsNetArchitecture.Fc3Bias], a.DecoderOutput, a.DecoderHidden2);

        var regions = new (int Offset, int Length)[values.Count];
        int total = 0;
        for (int k = 0; k < values.Count; k++)
        {
            regions[k] = (total, values[k].Length);
            total += (values[k].Length + 15) / 16 * 16;
        }

        var buffer = new AlignedBuffer(total);
        var all = buffer.Span;
        for (int k = 0; k < values.Count; k++)
        {
            var target = all.Slice(regions[k].Offset, regions[k].Length);
            if (values[k].Pack is { } pack) pack(values[k].Values, target);
            else values[k].Values.CopyTo(target);
        }

        return new PackedEfficientCapsNetWeights(a, buffer, regions);
    }

    private static void AddLinear(List<(float[], Action<float[], Span<float>>?, int)> values, float[] weight, float[] bias, int outputs,
        int inputs)
    {
        values.Add((weight, (source, target) => PackedGemm.Pack(source, outputs, inputs, target), PackedGemm.PackedLength(outputs, inputs)));
        values.Add((bias, null, bias.Length));
    }

    /// <summary>Frees the native memory; the spans must not be used afterwards.</summary>
    public void Dispose() => _buffer.Dispose();
}
