using CapsEmbedded.IO;

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

    /// <summary>Largest image file read (a 16384x16384 RGBA16 PNG compresses far below this; anything bigger is not a digit).</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Reads and decodes an image file: a regular file of at most <see cref="MaxFileBytes"/> (see <see cref="InputFile"/>).</summary>
    public static GrayImage LoadGray(string path) => LoadGray(path, null);

    /// <summary>
    /// As <see cref="LoadGray(string)"/>, but an image whose header gives another size than <paramref name="required"/>
    /// is refused before a pixel is decoded, so a small file declaring 16384x16384 never costs gigabytes.
    /// </summary>
    /// <exception cref="ImageFormatException">Malformed, or not of the required size.</exception>
    public static GrayImage LoadGray(string path, (int Width, int Height)? required)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] file = InputFile.ReadAllBytes(path, MaxFileBytes, "image");
        if (required is { } size && ReadSize(file, path) is { } actual && actual != (size.Width, size.Height))
            throw new ImageFormatException(path, $"is {actual.Width}x{actual.Height}; the model needs {size.Width}x{size.Height} gray images (resize it first)");
        return DecodeGray(file, path);
    }

    /// <summary>Width and height from the header alone (PNG IHDR, PGM header); null when the header is not readable.</summary>
    public static (long Width, long Height)? ReadSize(ReadOnlySpan<byte> file, string fileName)
    {
        if (file.StartsWith(PngSignature)) return PngDecoder.ReadSize(file);
        if (file.Length >= 3 && file[0] == (byte)'P' && (file[1] == (byte)'5' || file[1] == (byte)'2'))
        {
            try { return PgmDecoder.ReadSize(file, fileName); }
            catch (ImageFormatException) { return null; } // the full decode reports it
        }
        return null;
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
