using System.Buffers.Binary;
using CapsEmbedded.Kernels;
using CapsEmbedded.Runtime;
using CapsEmbedded.TierProbe;
using CapsEmbedded.Weights;
using static CapsEmbedded.Tests.Weights.HandMadeFile;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// F16 and BF16 weight files: conversions on known bit patterns (subnormals, ties, ±0, overflow), round trips through
/// the writer and reader, the packers' widening, and files the reader must refuse.
/// </summary>
public class HalfPrecisionTests
{
    private static ushort F16Bits(float x)
    {
        var bytes = new byte[2];
        WeightPrecision.Narrow(new[] { x }, SafeTensorsDType.F16, bytes, "t", "x");
        return BinaryPrimitives.ReadUInt16LittleEndian(bytes);
    }

    private static float FromF16(ushort bits) => Widen(bits, SafeTensorsDType.F16);

    private static float FromBF16(ushort bits) => Widen(bits, SafeTensorsDType.BF16);

    private static float Widen(ushort bits, string dtype)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, bits);
        var value = new float[1];
        WeightPrecision.Widen(bytes, dtype, value);
        return value[0];
    }

    private static float Bits(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    [Theory]
    [InlineData(0x00000000u, (ushort)0x0000)] // +0
    [InlineData(0x80000000u, (ushort)0x8000)] // −0 keeps its sign
    [InlineData(0x3F800000u, (ushort)0x3C00)] // 1
    [InlineData(0xC0000000u, (ushort)0xC000)] // −2
    [InlineData(0x477FE000u, (ushort)0x7BFF)] // 65504, the largest F16
    [InlineData(0x33800000u, (ushort)0x0001)] // 2^-24, the smallest subnormal
    [InlineData(0x33000000u, (ushort)0x0000)] // 2^-25: a tie between 0 and 2^-24, to even (0)
    [InlineData(0x33400000u, (ushort)0x0001)] // 1.5·2^-25: above the tie, up
    [InlineData(0x33C00000u, (ushort)0x0002)] // 1.5·2^-24: a tie between 1 and 2 ulps, to even (2)
    [InlineData(0x34200000u, (ushort)0x0002)] // 2.5·2^-24: a tie between 2 and 3 ulps, to even (2)
    [InlineData(0x38800000u, (ushort)0x0400)] // 2^-14, the smallest normal
    [InlineData(0x387FC000u, (ushort)0x03FF)] // the largest subnormal, 1023·2^-24
    [InlineData(0x3F801000u, (ushort)0x3C00)] // 1 + 2^-11: a tie between 1 and 1+2^-10, to even (1)
    [InlineData(0x3F803000u, (ushort)0x3C02)] // 1 + 3·2^-11: a tie between 1+2^-10 and 1+2^-9, to even
    [InlineData(0x3F801001u, (ushort)0x3C01)] // just above the tie: up
    [InlineData(0x7F800000u, (ushort)0x7C00)] // +Inf stays Inf (the reader refuses it before narrowing)
    public void F32_to_F16_rounds_to_nearest_even(uint f32, ushort f16)
    {
        Assert.Equal(f16, F16Bits(Bits(f32)));
    }

    [Theory]
    [InlineData((ushort)0x0001, 0x33800000u)]
    [InlineData((ushort)0x03FF, 0x387FC000u)]
    [InlineData((ushort)0x8000, 0x80000000u)]
    [InlineData((ushort)0x7BFF, 0x477FE000u)]
    [InlineData((ushort)0xFC00, 0xFF800000u)]
    [InlineData((ushort)0x3555, 0x3EAAA000u)] // 0.333251953125
    public void F16_widens_exactly(ushort f16, uint f32)
    {
        Assert.Equal(f32, BitConverter.SingleToUInt32Bits(FromF16(f16)));
    }

    [Fact]
    public void Every_F16_value_round_trips_through_float32()
    {
        for (int bits = 0; bits <= 0xFFFF; bits++)
        {
            float wide = FromF16((ushort)bits);
            if (float.IsNaN(wide)) continue; // NaN payloads: the reader refuses NaN anyway
            Assert.Equal((ushort)bits, F16Bits(wide));
        }
    }

    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)] // 1
    [InlineData(0x80000000u, (ushort)0x8000)] // −0
    [InlineData(0x3F808000u, (ushort)0x3F80)] // 1 + 2^-8: tie between 0x3F80 and 0x3F81, to even (0x3F80)
    [InlineData(0x3F818000u, (ushort)0x3F82)] // tie between 0x3F81 and 0x3F82, to even (0x3F82)
    [InlineData(0x3F808001u, (ushort)0x3F81)] // just above the tie: up
    [InlineData(0x3F807FFFu, (ushort)0x3F80)] // just below: down
    [InlineData(0x00010000u, (ushort)0x0001)] // the smallest BF16 subnormal
    [InlineData(0x00008000u, (ushort)0x0000)] // a tie between 0 and it: to even (0)
    [InlineData(0x00018000u, (ushort)0x0002)] // a tie between 1 and 2 ulps: to even (2)
    [InlineData(0x7F7F0000u, (ushort)0x7F7F)] // the largest BF16
    [InlineData(0xFF800000u, (ushort)0xFF80)] // −Inf stays −Inf
    public void F32_to_BF16_rounds_to_nearest_even(uint f32, ushort bf16)
    {
        Assert.Equal(bf16, WeightPrecision.SingleToBFloat16(Bits(f32)));
        Assert.Equal((uint)bf16 << 16, BitConverter.SingleToUInt32Bits(FromBF16(bf16))); // widening is exact
    }

    [Fact]
    public void BF16_keeps_NaN_a_NaN()
    {
        // A NaN whose payload lies only in the low 16 bits would truncate to Inf: the quiet bit is set instead.
        ushort b = WeightPrecision.SingleToBFloat16(Bits(0x7F800001u));
        Assert.True(float.IsNaN(WeightPrecision.BFloat16ToSingle(b)));
    }

    [Theory]
    [InlineData(65520f, "F16")]      // rounds up to Inf: the tie above 65504 goes to the even Inf
    [InlineData(-70000f, "F16")]
    [InlineData(3.4028235e38f, "BF16")] // float.MaxValue rounds to Inf in BF16
    public void Overflow_is_an_error_naming_the_tensor(float value, string dtype)
    {
        var destination = new byte[4];
        var e = Assert.Throws<WeightFormatException>(() =>
            WeightPrecision.Narrow(new[] { 1f, value }, dtype, destination, "model.safetensors", "decoder.fc1.weight"));
        Assert.Equal("decoder.fc1.weight", e.TensorName);
        Assert.Contains("value 1 is", e.Message);
        Assert.Contains($"cannot be stored as {dtype}", e.Message);
    }

    [Fact]
    public void F16_just_below_the_overflow_tie_rounds_to_65504()
    {
        Assert.Equal((ushort)0x7BFF, F16Bits(65519.996f));
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Tiny_round_trip_F32_to_narrow_and_back(string dtype)
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, seed: 3);
        weights.Conv1Bias[0] = -0f;
        weights.Conv1Bias[1] = 6e-8f; // an F16 subnormal
        byte[] narrow = CapsNetWeightsFile.Write(weights, dtype);
        byte[] f32 = CapsNetWeightsFile.Write(weights);
        Assert.True(narrow.Length < f32.Length * 0.55, $"{dtype} file is {narrow.Length} bytes, F32 {f32.Length}");

        var read = CapsNetWeightsFile.Read(narrow, "narrow.safetensors");
        var header = SafeTensorsFile.Parse(narrow, "narrow.safetensors").Header;
        Assert.All(header.Entries, e => Assert.Equal(dtype, e.DType));
        Assert.Equal(weights.Metadata, read.Metadata);
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors)
        {
            float[] a = weights[spec.Name], b = read[spec.Name];
            for (int k = 0; k < a.Length; k++)
            {
                float expected = dtype == "F16" ? (float)(Half)a[k] : WeightPrecision.BFloat16ToSingle(WeightPrecision.SingleToBFloat16(a[k]));
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(b[k]));
            }
        }
        Assert.True(float.IsNegative(read.Conv1Bias[0]) && read.Conv1Bias[0] == 0, "−0 lost its sign");

        // Narrow → F32 → the same narrow bytes: widening is exact, so a second narrowing changes nothing.
        Assert.Equal(narrow, CapsNetWeightsFile.Write(read, dtype));
        Assert.Equal(CapsNetWeightsFile.Write(read), CapsNetWeightsFile.Write(CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(read), "f32")));
    }

    [Fact]
    public void F16_to_BF16_and_back_goes_through_float32()
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, seed: 5);
        var viaF16 = CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(weights, "F16"), "a");
        var viaBf16 = CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(viaF16, "BF16"), "b");
        var back = CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(viaBf16, "F16"), "c");
        // BF16 keeps 8 significant bits: an F16 value differs from its BF16 rounding by at most 2^-9 relative.
        for (int k = 0; k < weights.DigitWeight.Length; k++)
        {
            float x = viaF16.DigitWeight[k], y = back.DigitWeight[k];
            Assert.True(Math.Abs(x - y) <= Math.Abs(x) * (1f / 256) + 1e-7f, $"{x} → {y}");
        }
    }

    /// <summary>The vector F16 widening on every tier this process has (the tier probe repeats it in child processes with tiers switched off).</summary>
    [Fact]
    public void F16_widening_gives_the_bits_of_float_Half_on_every_tier()
    {
        foreach (var tier in SimdTiers.Supported)
            KernelSelfCheck.WidenHalf(tier);
        Assert.Contains(SimdTier.Scalar, SimdTiers.Supported);
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Packing_a_narrow_data_area_equals_packing_the_widened_weights(string dtype)
    {
        var weights = CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, seed: 9);
        byte[] file = CapsNetWeightsFile.Write(weights, dtype);
        var layout = SafeTensorsFile.Parse(file, "n");
        var specs = CapsNetArchitecture.Tiny.Tensors;
        long[] begins = specs.Select(s => layout.Header.Find(s.Name)!.Begin).ToArray();
        string[] dtypes = specs.Select(_ => dtype).ToArray();
        using var fromBytes = PackedCapsNetWeights.Pack(CapsNetArchitecture.Tiny, file.AsSpan((int)layout.DataStart), begins, dtypes, "n");
        using var fromArrays = PackedCapsNetWeights.Pack(CapsNetWeightsFile.Read(file, "n"));
        Assert.True(fromBytes.DigitWeight.SequenceEqual(fromArrays.DigitWeight));
        Assert.True(fromBytes.PrimaryWeight.SequenceEqual(fromArrays.PrimaryWeight));
        Assert.True(fromBytes.Decoder.Fc3Bias.SequenceEqual(fromArrays.Decoder.Fc3Bias));
        Assert.True(fromBytes.Conv1Weight.SequenceEqual(fromArrays.Conv1Weight));
        // Read as F32 by mistake, the same bytes are outside the data area: refused, not misread.
        Assert.Throws<WeightFormatException>(() =>
            PackedCapsNetWeights.Pack(CapsNetArchitecture.Tiny, file.AsSpan((int)layout.DataStart), begins, "n"));
    }

    /// <summary>A hand-made Tiny file with every tensor F16, whose conv1.bias bytes can be replaced.</summary>
    private static byte[] F16File(Action<HandMadeFile>? edit = null, byte[]? conv1Bias = null)
    {
        var file = new HandMadeFile { MetadataJson = MetadataObject(CapsNetArchitecture.Tiny.ToMetadata()) };
        long offset = 0;
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors)
        {
            long end = offset + 2 * spec.ElementCount;
            file.Entries.Add(new Entry(spec.Name, TensorJson("F16", spec.ShapeText, offset, end)));
            offset = end;
        }
        file.DataLength = offset;
        edit?.Invoke(file);
        byte[] bytes = file.Bytes();
        if (conv1Bias is not null)
        {
            var layout = SafeTensorsFile.Parse(bytes, Name);
            conv1Bias.CopyTo(bytes, (int)(layout.DataStart + layout.Header.Find(CapsNetArchitecture.Conv1Bias)!.Begin));
        }
        return bytes;
    }

    [Fact]
    public void A_hand_made_F16_file_reads()
    {
        var read = CapsNetWeightsFile.Read(F16File(conv1Bias: new byte[] { 0x00, 0x3C, 0x00, 0xC0 }), Name);
        Assert.Equal(1f, read.Conv1Bias[0]);
        Assert.Equal(-2f, read.Conv1Bias[1]);
    }

    [Fact]
    public void F16_with_the_byte_length_of_F32_is_refused()
    {
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(F16File(file =>
        {
            // conv1.bias [4] as F16 is 8 bytes; 16 (its F32 size) is refused by the header check.
            long offset = 0;
            for (int k = 0; k < file.Entries.Count; k++)
            {
                var spec = CapsNetArchitecture.Tiny.Tensors[k];
                long end = offset + (spec.Name == CapsNetArchitecture.Conv1Bias ? 4 : 2) * spec.ElementCount;
                file.Entries[k] = new Entry(spec.Name, TensorJson("F16", spec.ShapeText, offset, end));
                offset = end;
            }
            file.DataLength = offset;
        }), Name));
        Assert.Equal(CapsNetArchitecture.Conv1Bias, e.TensorName);
        Assert.Contains("needs 8 bytes but", e.Message);
    }

    [Theory]
    [InlineData((byte)0x00, (byte)0x7C, "Infinity")]  // +Inf
    [InlineData((byte)0x00, (byte)0xFC, "-Infinity")] // −Inf
    [InlineData((byte)0x01, (byte)0x7E, "NaN")] // NaN
    public void Non_finite_F16_is_refused_as_F32_is(byte low, byte high, string shown)
    {
        byte[] file = F16File(conv1Bias: new byte[] { 0, 0, 0, 0, low, high });
        var e = Assert.Throws<WeightFormatException>(() => CapsNetWeightsFile.Read(file, Name));
        Assert.Equal(CapsNetArchitecture.Conv1Bias, e.TensorName);
        Assert.Contains($"value 2 is {shown}", e.Message);
        Assert.Contains("must be finite", e.Message);
        // Tools that inspect files may keep the bits, as for F32.
        Assert.False(float.IsFinite(CapsNetWeightsFile.Read(file, Name, requireFinite: false).Conv1Bias[2]));
    }

    [Fact]
    public void A_file_mixing_F32_F16_and_BF16_reads()
    {
        var file = new HandMadeFile { MetadataJson = MetadataObject(CapsNetArchitecture.Tiny.ToMetadata()) };
        long offset = 0;
        var dtypes = new[] { "F32", "F16", "BF16" };
        int k = 0;
        foreach (var spec in CapsNetArchitecture.Tiny.Tensors)
        {
            string dtype = dtypes[k++ % 3];
            long end = offset + (dtype == "F32" ? 4 : 2) * spec.ElementCount;
            file.Entries.Add(new Entry(spec.Name, TensorJson(dtype, spec.ShapeText, offset, end)));
            offset = end;
        }
        file.DataLength = offset;
        var read = CapsNetWeightsFile.Read(file.Bytes(), Name);
        Assert.All(read.DigitWeight, v => Assert.Equal(0f, v));
    }
}
