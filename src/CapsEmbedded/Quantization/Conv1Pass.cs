using CapsEmbedded.Kernels;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Quantization;

/// <summary>
/// conv1 + ReLU in float32 with the runtime kernels (im2col, packed GEMM), one calibration image at a time into one
/// reused buffer: what <see cref="Quantizer.CalibrateConv1"/> and <see cref="Conv1ChannelGrouping.Collect"/> read.
/// </summary>
internal sealed class Conv1Pass
{
    private readonly CapsNetWeights _weights;
    private readonly float[] _packed;
    private readonly float[] _patches;
    private readonly float[] _output;
    private readonly int _patchLength;

    /// <summary>Checks that <paramref name="images"/> holds <paramref name="count"/> images of the architecture's input.</summary>
    public Conv1Pass(CapsNetWeights weights, ReadOnlySpan<float> images, int count)
    {
        var a = weights.Architecture;
        if (images.Length < (long)count * a.InputLength) throw new ArgumentException($"{images.Length} pixels hold fewer than {count} images", nameof(images));
        _weights = weights;
        _patchLength = a.InputChannels * a.Conv1Kernel * a.Conv1Kernel;
        _packed = new float[PackedGemm.PackedLength(a.Conv1Channels, _patchLength)];
        PackedGemm.Pack(weights.Conv1Weight, a.Conv1Channels, _patchLength, _packed);
        _patches = new float[a.Conv1Pixels * _patchLength];
        _output = new float[a.Conv1Pixels * a.Conv1Channels];
    }

    /// <summary>conv1's ReLU output for image <paramref name="n"/> of <paramref name="images"/>, [pixel][channel]; valid until the next call.</summary>
    public ReadOnlySpan<float> Run(ReadOnlySpan<float> images, int n)
    {
        var a = _weights.Architecture;
        Im2Col.Run(images.Slice(n * a.InputLength, a.InputLength), a.InputChannels, a.InputSize, a.InputSize, a.Conv1Kernel, a.Conv1Stride, _patches);
        PackedGemm.Multiply(_patches, a.Conv1Pixels, _patchLength, _packed, a.Conv1Channels, _weights.Conv1Bias, Activation.Relu, _output);
        return _output;
    }
}
