// This file is also compiled into the source generator (netstandard2.0), which emits its offsets as constants: keep it
// free of APIs newer than netstandard2.0 (no Span, no ThrowIf helpers).
using System;
using System.Collections.Generic;

namespace CapsEmbedded.Runtime;

/// <summary>
/// The one definition of a forward pass's scratch: its regions in the order the pass uses them, each starting on a
/// 64-byte boundary (16 floats), for the float model (<see cref="Float"/>) and the int8 model (<see cref="Int8"/>, whose
/// byte and int32 regions are floats reinterpreted). The generator emits these offsets as a model's Scratch*Offset
/// constants; <c>QuantizedCapsNet</c> reads them at run time, so both int8 models lay out their scratch alike.
/// </summary>
public sealed class ScratchLayout
{
    /// <summary>Floats per 64-byte alignment step.</summary>
    public const int AlignFloats = 16;

    /// <summary>
    /// One region: its name (the generated constant is Scratch{Name}Offset), where it starts and how many floats it holds,
    /// and what it holds (the constant's comment).
    /// </summary>
    public sealed record Region(string Name, int Offset, int Floats, string Doc);

    private readonly List<Region> _regions = new List<Region>();

    private ScratchLayout(CapsNetArchitecture a, bool int8, bool halfWeightsInPlace = false)
    {
        if (a is null) throw new ArgumentNullException(nameof(a));
        Architecture = a;
        IsInt8 = int8;
        int pixels = a.Conv1Pixels, positions = a.PrimaryPositions;
        int n = a.PrimaryCapsules, j = a.Classes, d = a.ClassDims;
        Patches = Add("Patches", pixels * a.Conv1PatchLength, "conv1's im2col patches");
        if (int8)
        {
            int codes = pixels * a.Conv1Channels, codePatches = positions * a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
            Conv1 = Add("Conv1", codes, "conv1 output after ReLU, [y][x][channel]");
            Codes = Add("Codes", (codes + 3) / 4, $"conv1's u7 codes [y][x][channel], {Plain(codes)} bytes");
            CodePatches = Add("CodePatches", (codePatches + 3) / 4,
                $"the primary conv's byte im2col [position][ky][kx][c], {Plain(codePatches)} bytes");
            Accumulators = Add("Accumulators", positions * a.PrimaryChannels, "the primary conv's exact int32 sums [position][channel]");
            PrimaryConv = Add("PrimaryConv", positions * a.PrimaryChannels,
                "primary conv output [position][type·dims + d], dequantised, bias added");
        }
        else
        {
            Conv1 = Add("Conv1", pixels * a.Conv1Channels, "conv1 output [y][x][channel], read in place by the primary conv");
            if (halfWeightsInPlace)
            {
                // PackedGemm.WidenedLength(PrimaryChannels, PrimaryK): one k block (256) of every 16-channel panel.
                long k = (long)a.Conv1Channels * a.PrimaryKernel * a.PrimaryKernel;
                PrimaryWidened = Add("PrimaryWidened", (a.PrimaryChannels + 15) / 16 * Math.Min(k, 256) * 16,
                    "one k block of the primary conv's F16 panels, widened (each part of the parallel Predict its own panels)");
            }
            PrimaryConv = Add("PrimaryConv", positions * a.PrimaryChannels, "primary conv output [position][type·dims + d]");
        }
        Primary = Add("Primary", n * a.PrimaryDims, "primary capsules u_i [i][d], i = type·grid² + position, squashed (eq. 1)");
        UHat = Add("UHat", n * j * d, "predictions û_{j|i} = W_ij u_i [i][j][d] (eq. 2)");
        Logits = Add("Logits", n * j, "routing logits b_ij (Procedure 1)");
        Coupling = Add("Coupling", n * j, "coupling coefficients c_ij = softmax_j(b_ij) (eq. 3)");
        DigitCaps = Add("DigitCaps", j * d, "digit capsules v_j [j][d]");
        Masked = Add("Masked", j * d, "decoder input: v with every capsule but the predicted one zeroed");
        Hidden1 = Add("Hidden1", a.DecoderHidden1, "decoder fc1 output (ReLU)");
        Hidden2 = Add("Hidden2", a.DecoderHidden2, "decoder fc2 output (ReLU)");
    }

    /// <summary>The float model's scratch: conv1's patches and output, the primary conv's output, then the capsules and decoder.</summary>
    /// <param name="a">The model's architecture.</param>
    /// <param name="halfWeightsInPlace">Whether the model reads its primary-conv panels in F16 where they lie (weights packed at
    /// build time): then a region for one widened k block of them follows conv1's output.</param>
    public static ScratchLayout Float(CapsNetArchitecture a, bool halfWeightsInPlace = false)
        => new ScratchLayout(a, int8: false, halfWeightsInPlace);

    /// <summary>The int8 model's: as the float model's, with the u7 codes, byte patches and int32 sums of the primary conv.</summary>
    public static ScratchLayout Int8(CapsNetArchitecture a) => new ScratchLayout(a, int8: true);

    public CapsNetArchitecture Architecture { get; }

    public bool IsInt8 { get; }

    /// <summary>Every region in order.</summary>
    public IReadOnlyList<Region> Regions => _regions;

    /// <summary>Floats of scratch one forward pass needs: the end of the last region, rounded up to 64 bytes.</summary>
    public int Length { get; private set; }

    public Region Patches { get; }
    public Region Conv1 { get; }

    /// <summary>int8 only (null in the float layout): conv1's output as u7 bytes.</summary>
    public Region? Codes { get; }

    /// <summary>int8 only: the primary conv's byte im2col.</summary>
    public Region? CodePatches { get; }

    /// <summary>int8 only: the primary conv's int32 sums.</summary>
    public Region? Accumulators { get; }

    /// <summary>Float layout of a model whose weights are read in place only: one widened k block of the F16 panels.</summary>
    public Region? PrimaryWidened { get; }

    public Region PrimaryConv { get; }
    public Region Primary { get; }
    public Region UHat { get; }
    public Region Logits { get; }
    public Region Coupling { get; }
    public Region DigitCaps { get; }
    public Region Masked { get; }
    public Region Hidden1 { get; }
    public Region Hidden2 { get; }

    private Region Add(string name, long floats, string doc)
    {
        if (Length + floats > int.MaxValue - AlignFloats)
            throw new ArgumentException($"{Architecture} needs more than {int.MaxValue} floats of scratch", "a");
        var region = new Region(name, Length, (int)floats, doc);
        _regions.Add(region);
        Length += (int)((floats + AlignFloats - 1) / AlignFloats * AlignFloats);
        return region;
    }

    private static string Plain(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
