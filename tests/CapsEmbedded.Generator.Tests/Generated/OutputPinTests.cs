using System.Runtime.InteropServices;
using System.Security.Cryptography;
using CapsEmbedded.Kernels;
using CapsEmbedded.Models;
using Xunit.Abstractions;

namespace CapsEmbedded.Generator.Tests.Generated;

/// <summary>
/// The generated float models' outputs pinned to the bit: the SHA-256 of the lengths, capsules, reconstructions and
/// classes of fixed inputs, per SIMD tier, as recorded from the generator before the emitters were rewritten.
/// Any change to the emitted arithmetic or its order shows here; so does a new shipped weight file (the MultiMNIST bits
/// are re-recorded each time a MultiMNIST stage replaces the shipped file, generator unchanged). Recorded on an x64
/// AVX2+FMA machine (CI runs the tests on x64): Scalar, Vector128 and Vector256.
/// </summary>
public class OutputPinTests(ITestOutputHelper output)
{
    /// <summary>(model, tier) → the first 16 hex digits of the SHA-256 of its outputs on <see cref="Inputs"/>.</summary>
    private static readonly Dictionary<string, string> s_pinned = new()
    {
        ["mnist/Scalar"] = "F0CE92024A587F61",
        ["mnist/Vector128"] = "98CCCA8F0CB6D30C",
        ["mnist/Vector256"] = "89941C52B5A9E8A3",
        ["multimnist/Scalar"] = "16EF32EC571AA29D",
        ["multimnist/Vector128"] = "26C8FB027FA411E2",
        ["multimnist/Vector256"] = "0E43CBF09913CB8E",
        ["tiny/Scalar"] = "B507D18387AFB4F9",
        ["tiny/Vector128"] = "197B83B4ADD461B1",
        ["tiny/Vector256"] = "C8081246FD27C813",
    };

    /// <summary>The supported tiers with recorded bits (the recording machine had no AVX-512, so Vector512 has none).</summary>
    public static IEnumerable<object[]> Tiers
        => SimdTiers.Supported.Where(t => s_pinned.ContainsKey("mnist/" + t)).Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Mnist_outputs_are_the_recorded_bits(SimdTier tier) => AssertPinned("mnist/" + tier,
        Hash(TestData.Digits.Take(8), MnistCapsNet.Classes, MnistCapsNet.DecoderInput, MnistCapsNet.DecoderOutput,
            ModelCheck.Paper(), tier));

    [Theory]
    [MemberData(nameof(Tiers))]
    public void Tiny_outputs_are_the_recorded_bits(SimdTier tier) => AssertPinned("tiny/" + tier,
        Hash(Enumerable.Range(0, 16).Select(k => TestData.RandomImage(TinyCapsNet.InputLength, (ulong)k + 7)),
            TinyCapsNet.Classes, TinyCapsNet.DecoderInput, TinyCapsNet.DecoderOutput, ModelCheck.Tiny(), tier));

    [Theory]
    [MemberData(nameof(Tiers))]
    public void MultiMnist_outputs_are_the_recorded_bits(SimdTier tier) => AssertPinned("multimnist/" + tier,
        Hash(TestData.Pairs.Take(3), MultiMnistCapsNet.Classes, MultiMnistCapsNet.DecoderInput, MultiMnistCapsNet.DecoderOutput,
            ModelCheck.MultiMnist(), tier));

    private static string Hash(IEnumerable<float[]> images, int classes, int capsuleLength, int reconstructionLength,
        ModelPredict predict, SimdTier tier)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var image in images)
        {
            float[] lengths = new float[classes], capsules = new float[capsuleLength], reconstruction = new float[reconstructionLength];
            int predicted = predict(image, lengths, capsules, reconstruction, tier);
            sha.AppendData(BitConverter.GetBytes(predicted));
            sha.AppendData(MemoryMarshal.AsBytes(lengths.AsSpan()));
            sha.AppendData(MemoryMarshal.AsBytes(capsules.AsSpan()));
            sha.AppendData(MemoryMarshal.AsBytes(reconstruction.AsSpan()));
        }
        return Convert.ToHexString(sha.GetHashAndReset())[..16];
    }

    private void AssertPinned(string key, string actual)
    {
        output.WriteLine($"[\"{key}\"] = \"{actual}\",");
        Assert.True(RuntimeInformation.ProcessArchitecture == Architecture.X64, "the pinned bits are x64's");
        Assert.True(s_pinned.TryGetValue(key, out var expected), $"no recorded bits for {key} (this run: {actual})");
        Assert.Equal(expected, actual);
    }
}
