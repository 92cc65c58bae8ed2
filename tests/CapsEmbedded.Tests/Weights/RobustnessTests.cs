using System.Buffers.Binary;
using CapsEmbedded.Weights;
using Xunit;

namespace CapsEmbedded.Tests.Weights;

/// <summary>
/// Whatever the bytes, <see cref="CapsNetWeightsFile.Read"/> returns weights or throws WeightFormatException:
/// never IndexOutOfRange, Overflow, OutOfMemory, ArgumentException or a hang.
/// </summary>
public class RobustnessTests
{
    private static readonly byte[] TinyFile = CapsNetWeightsFile.Write(CapsNetWeights.CreateRandom(CapsNetArchitecture.Tiny, 11));

    [Fact]
    public void EveryTruncationIsRejected()
    {
        for (int length = 0; length < TinyFile.Length; length++)
        {
            try
            {
                CapsNetWeightsFile.Read(TinyFile.AsSpan(0, length), "truncated");
                Assert.Fail($"a file truncated to {length} of {TinyFile.Length} bytes was accepted");
            }
            catch (WeightFormatException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"truncation to {length} bytes threw {e.GetType().Name} instead of WeightFormatException: {e}");
            }
        }
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowWeightFormatException()
    {
        const ulong seed = 20171026;
        const int cases = 5000;
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(TinyFile);
        var random = new DeterministicRandom(seed);
        int accepted = 0, rejected = 0;
        for (int c = 0; c < cases; c++)
        {
            byte[] file = Mutate(TinyFile, headerEnd, random);
            try
            {
                if (c % 5 == 0)
                {
                    using var stream = new MemoryStream(file);
                    try { SafeTensorsFile.ReadHeader(stream, "mutant"); } catch (WeightFormatException) { }
                }
                CapsNetWeightsFile.Read(file, "mutant");
                accepted++;
            }
            catch (WeightFormatException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed}, case {c}: {e.GetType().Name} escaped Read: {e}");
            }
        }
        // Both outcomes must occur, or the mutations are not reaching the interesting paths.
        Assert.True(accepted > cases / 20, $"only {accepted} mutants were accepted");
        Assert.True(rejected > cases / 2, $"only {rejected} mutants were rejected");
    }

    // 1–3 edits, mostly in the length field and the JSON header where the parser lives. Textual edits swap in
    // JSON punctuation and digits so that mutants get past the tokenizer and exercise the validation.
    private static byte[] Mutate(byte[] original, int headerEnd, DeterministicRandom random)
    {
        var bytes = new List<byte>(original);
        int edits = 1 + random.NextInt(3);
        const string interesting = "{}[]\":,\\ 0123456789-.eE\u0000\u001f\u007f";
        for (int k = 0; k < edits && bytes.Count > 0; k++)
        {
            int limit = random.NextInt(10) < 8 ? Math.Min(headerEnd, bytes.Count) : bytes.Count;
            int at = random.NextInt(limit);
            switch (random.NextInt(6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.NextInt(8)); break;
                case 1: bytes[at] = (byte)random.NextInt(256); break;
                case 2: bytes[at] = (byte)interesting[random.NextInt(interesting.Length)]; break;
                case 3: bytes.Insert(at, (byte)interesting[random.NextInt(interesting.Length)]); break;
                case 4: bytes.RemoveRange(at, Math.Min(1 + random.NextInt(4), bytes.Count - at)); break;
                default:
                    // Keep the header length consistent with an edit inside the header so the JSON itself is tested.
                    if (at < 8) goto case 1;
                    bytes[at] = (byte)('0' + random.NextInt(10));
                    break;
            }
        }
        return bytes.ToArray();
    }
}
