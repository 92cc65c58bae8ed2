using CapsEmbedded.Data;

namespace CapsEmbedded.Tests.Data;

/// <summary>Seeded byte flips and truncations of every image fixture: only ImageFormatException may escape.</summary>
public class ImageFuzzTests
{
    // CAPSNET_FUZZ_ITERATIONS raises this (.ci/hostile.sh: 100,000); the default keeps the suite fast.
    private static readonly int Iterations = FuzzSettings.Iterations(2000);

    public static TheoryData<string> Fixtures() =>
        ["digit0-gray.png", "digit0-rgb.png", "digit0-rgba.png", "digit0.pgm", "digit0-ascii.pgm", "palette-2bit.png", "gray16-paeth.png"];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public Task Random_byte_flips_raise_only_ImageFormatException(string fixture) => FuzzSettings.WithinAsync(FuzzSettings.Limit, () =>
    {
        int rejected = FuzzSettings.CountRejectedFlips(Load(fixture), 0x1A6E_0001UL + (ulong)fixture.Length, Iterations, maxFlips: 3,
            headerBytes: 64, (mutated, iteration) =>
            {
                // Half the PNGs get their CRCs repaired, or nearly every flip would stop at the CRC check.
                if (fixture.EndsWith(".png", StringComparison.Ordinal) && iteration % 2 == 0)
                    TestPngEncoder.FixCrcs(mutated);
                return DecodeExpectingOnlyImageErrors(mutated, iteration);
            });
        Assert.True(rejected > 0, "no mutation was rejected; the fuzz is not reaching the checks");
    });

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Every_truncation_raises_ImageFormatException_or_decodes(string fixture)
    {
        byte[] original = Load(fixture);
        for (int length = 0; length < original.Length; length++)
        {
            int iteration = length;
            DecodeExpectingOnlyImageErrors(original[..length], iteration);
        }
        // A PNG cut anywhere before its end has no IEND; the check must catch every cut.
        if (fixture.EndsWith(".png", StringComparison.Ordinal))
        {
            for (int length = 0; length < original.Length; length++)
                Assert.Throws<ImageFormatException>(() => ImageDecoderTests.Decode(original[..length]));
        }
    }

    [Fact]
    public void Random_garbage_behind_a_valid_signature_raises_only_ImageFormatException()
    {
        var random = new DeterministicRandom(0x1A6E_0003UL);
        byte[][] prefixes = [[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], "P5 "u8.ToArray(), "P2 "u8.ToArray()];
        for (int iteration = 0; iteration < 1500; iteration++)
        {
            byte[] prefix = prefixes[iteration % prefixes.Length];
            byte[] garbage = new byte[prefix.Length + random.NextInt(80)];
            prefix.CopyTo(garbage, 0);
            for (int i = prefix.Length; i < garbage.Length; i++)
                garbage[i] = (byte)(iteration % 2 == 0 ? random.NextInt(256) : " 0123456789#\n"[random.NextInt(13)]);
            DecodeExpectingOnlyImageErrors(garbage, iteration);
        }
    }

    /// <summary>Inputs the 100,000-per-reader fuzz run found (each allocated ~4 MB for &lt; 400 bytes before the fix).</summary>
    public static TheoryData<string> FoundByFuzzing() =>
        [.. Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "fuzz"), "png-*.bin").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(FoundByFuzzing))]
    public void Inputs_found_by_fuzzing_stay_under_the_allocation_cap(string file)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "fuzz", file));
        DecodeExpectingOnlyImageErrors(input, 0);
    }

    private static byte[] Load(string fixture) => fixture switch
    {
        "palette-2bit.png" => new TestPngEncoder
        {
            Width = 9, Height = 7, ColorType = 3, BitDepth = 2, Palette = [0, 0, 0, 90, 90, 90, 255, 255, 255],
            Transparency = [255, 128], FilterForRow = y => y % 5,
        }.Encode(Enumerable.Range(0, 21).Select(i => (byte)(i * 37 % 151 & 0b10_01_00_10)).ToArray()),
        "gray16-paeth.png" => new TestPngEncoder { Width = 5, Height = 6, BitDepth = 16, FilterForRow = _ => 4 }
            .Encode(Enumerable.Range(0, 60).Select(i => (byte)(i * 29)).ToArray()),
        _ => File.ReadAllBytes(DataFixtures.Path_(fixture)),
    };

    private static int DecodeExpectingOnlyImageErrors(byte[] content, int iteration)
    {
        GrayImage? image = null;
        var thrown = FuzzSettings.Measure(content, () => image = ImageDecoderTests.Decode(content), $"image-{iteration}");
        if (thrown is ImageFormatException) return 1;
        if (thrown is not null) FuzzSettings.Escaped(content, thrown, $"image-{iteration}");
        foreach (float p in image!.Pixels)
            if (!(p >= 0f && p <= 1f)) Assert.Fail($"iteration {iteration}: pixel {p} outside [0, 1]");
        return 0;
    }
}
