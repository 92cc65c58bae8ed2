namespace CapsEmbedded.Data;

/// <summary>
/// Loads PNG or PGM (P5 binary, P2 ASCII) files as grayscale, chosen by the file's first bytes, not its extension.
/// Color is reduced by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B); transparency is composited onto black,
/// because MNIST digits are white on black, so a transparent background must read as background.
/// Any malformed content throws <see cref="ImageFormatException"/>; no other exception escapes for any bytes.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Largest accepted width or height; checked before any pixel buffer is sized.</summary>
    public const int MaxSide = 16384;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static GrayImage LoadGray(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return DecodeGray(File.ReadAllBytes(path), path);
    }

    /// <summary>Decodes an image held in memory; <paramref name="fileName"/> names it in errors.</summary>
    public static GrayImage DecodeGray(ReadOnlySpan<byte> file, string fileName)
    {
        if (file.StartsWith(PngSignature))
            return PngDecoder.Decode(file, fileName);
        if (file.Length >= 2 && file[0] == (byte)'P' && (file[1] == (byte)'5' || file[1] == (byte)'2'))
            return PgmDecoder.Decode(file, fileName);
        if (file.Length >= 2 && file[0] == (byte)'P' && file[1] is >= (byte)'1' and <= (byte)'7')
            throw new ImageFormatException(fileName, $"Netpbm format P{(char)file[1]} is not supported; only PGM (P5, P2)");
        if (file.Length >= 4 && file[0] == 0x89 && file[1] == (byte)'P' && file[2] == (byte)'N' && file[3] == (byte)'G')
            throw new ImageFormatException(fileName, "damaged PNG signature (file transferred in text mode?)");
        throw new ImageFormatException(fileName, file.Length == 0
            ? "file is empty"
            : "not a PNG or PGM image (unrecognized first bytes)");
    }

    /// <summary>A sample over its maximum as float in [0, 1]: computed in double and rounded once, so every format agrees.</summary>
    internal static float Normalize(double value, double max) => (float)(value / max);
}
