namespace CapsEmbedded.Data;

/// <summary>
/// PGM (Netpbm graymap): "P5" (binary) or "P2" (ASCII), then width, height and maxval (1..65535) as decimal text
/// separated by whitespace, with '#' comments to end of line. P5 samples are 1 byte (maxval &lt; 256) or 2 bytes big-endian.
/// Only the first image of a multi-image file is read. Output is sample / maxval.
/// </summary>
internal static class PgmDecoder
{
    public static GrayImage Decode(ReadOnlySpan<byte> file, string fileName)
    {
        bool binary = file[1] == (byte)'5';
        int position = 2;
        if (position >= file.Length || !IsWhitespace(file[position]) && file[position] != (byte)'#')
            throw Fail(fileName, $"expected whitespace after the magic P{(char)file[1]}");

        int width = ReadHeaderNumber(file, ref position, "width", fileName);
        int height = ReadHeaderNumber(file, ref position, "height", fileName);
        int maxValue = ReadHeaderNumber(file, ref position, "maxval", fileName);
        if (width == 0 || height == 0)
            throw Fail(fileName, $"image of {width}x{height} has no pixels");
        if (width > ImageDecoder.MaxSide || height > ImageDecoder.MaxSide)
            throw Fail(fileName, $"image of {width}x{height} exceeds the limit of {ImageDecoder.MaxSide}x{ImageDecoder.MaxSide}");
        if (maxValue is < 1 or > 65535)
            throw Fail(fileName, $"maxval {maxValue} is outside 1..65535");

        // Exactly one whitespace byte separates maxval from binary data (which may itself start with a "whitespace" value).
        if (position >= file.Length || !IsWhitespace(file[position]))
            throw Fail(fileName, "expected whitespace after maxval");
        position++;

        long samples = (long)width * height;
        return binary
            ? DecodeBinary(file[position..], width, height, maxValue, samples, fileName)
            : DecodeAscii(file, position, width, height, maxValue, samples, fileName);
    }

    /// <summary>Width and height from the header only (no pixel is read).</summary>
    public static (int Width, int Height) ReadSize(ReadOnlySpan<byte> file, string fileName)
    {
        int position = 2;
        int width = ReadHeaderNumber(file, ref position, "width", fileName);
        int height = ReadHeaderNumber(file, ref position, "height", fileName);
        return (width, height);
    }

    private static GrayImage DecodeBinary(ReadOnlySpan<byte> data, int width, int height, int maxValue, long samples, string fileName)
    {
        int bytesPerSample = maxValue < 256 ? 1 : 2;
        long needed = samples * bytesPerSample;
        if (data.Length < needed)
            throw Fail(fileName, $"expected {needed} bytes of pixel data for {width}x{height} (maxval {maxValue}), found {data.Length} (file truncated?)");

        var pixels = new float[samples];
        for (int i = 0; i < pixels.Length; i++)
        {
            int value = bytesPerSample == 1 ? data[i] : (data[2 * i] << 8) | data[2 * i + 1];
            if (value > maxValue)
                throw Fail(fileName, $"sample {value} at ({i % width}, {i / width}) exceeds maxval {maxValue}");
            pixels[i] = ImageDecoder.Normalize(value, maxValue);
        }
        return new GrayImage(width, height, pixels);
    }

    private static GrayImage DecodeAscii(ReadOnlySpan<byte> file, int position, int width, int height, int maxValue, long samples, string fileName)
    {
        // Every sample needs at least one digit: a cheap bound that keeps a forged header from sizing a huge array.
        if (samples > file.Length - position)
            throw Fail(fileName, $"{width}x{height} needs {samples} samples but only {file.Length - position} bytes follow the header (file truncated?)");

        var pixels = new float[samples];
        for (int i = 0; i < pixels.Length; i++)
        {
            SkipWhitespaceAndComments(file, ref position);
            if (position >= file.Length)
                throw Fail(fileName, $"pixel data ends after {i} of {samples} samples (file truncated?)");
            int value = ReadNumber(file, ref position, $"sample {i}", fileName);
            if (value > maxValue)
                throw Fail(fileName, $"sample {value} at ({i % width}, {i / width}) exceeds maxval {maxValue}");
            pixels[i] = ImageDecoder.Normalize(value, maxValue);
            if (position < file.Length && !IsWhitespace(file[position]) && file[position] != (byte)'#')
                throw Fail(fileName, $"unexpected byte 0x{file[position]:X2} at offset {position} in sample {i}");
        }
        return new GrayImage(width, height, pixels);
    }

    private static int ReadHeaderNumber(ReadOnlySpan<byte> file, ref int position, string what, string fileName)
    {
        SkipWhitespaceAndComments(file, ref position);
        if (position >= file.Length)
            throw Fail(fileName, $"header ends before {what} (file truncated?)");
        int value = ReadNumber(file, ref position, what, fileName);
        if (position < file.Length && !IsWhitespace(file[position]) && file[position] != (byte)'#')
            throw Fail(fileName, $"unexpected byte 0x{file[position]:X2} after {what} at offset {position}");
        return value;
    }

    /// <summary>A decimal number; huge values saturate at int.MaxValue, which every later range check rejects.</summary>
    private static int ReadNumber(ReadOnlySpan<byte> file, ref int position, string what, string fileName)
    {
        if (!char.IsAsciiDigit((char)file[position]))
            throw Fail(fileName, $"expected a number for {what} at offset {position}, found byte 0x{file[position]:X2}");
        long value = 0;
        while (position < file.Length && char.IsAsciiDigit((char)file[position]))
        {
            value = Math.Min(value * 10 + (file[position] - '0'), int.MaxValue);
            position++;
        }
        return (int)value;
    }

    private static void SkipWhitespaceAndComments(ReadOnlySpan<byte> file, ref int position)
    {
        while (position < file.Length)
        {
            if (IsWhitespace(file[position]))
            {
                position++;
            }
            else if (file[position] == (byte)'#')
            {
                while (position < file.Length && file[position] != (byte)'\n' && file[position] != (byte)'\r')
                    position++;
            }
            else
            {
                return;
            }
        }
    }

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    private static ImageFormatException Fail(string fileName, string problem) => new(fileName, problem);
}
