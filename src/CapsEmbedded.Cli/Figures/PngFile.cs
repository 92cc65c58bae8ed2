using CapsEmbedded.IO;
using CapsEmbedded.Training;
using StbImageWriteSharp;

namespace CapsEmbedded.Cli.Figures;

/// <summary>Writes a <see cref="Raster"/> as an RGB PNG (stb_image_write): the one place figures reach the disk.</summary>
public static class PngFile
{
    public static byte[] Encode(Raster raster)
    {
        ArgumentNullException.ThrowIfNull(raster);
        using var stream = new MemoryStream();
        byte[]? gray = GrayOrNull(raster.Pixels);
        // Most figures have no colour (tweak grids, unmarked reconstructions): one channel makes a third of the data.
        if (gray is not null) new ImageWriter().WritePng(gray, raster.Width, raster.Height, ColorComponents.Grey, stream);
        else new ImageWriter().WritePng(raster.Pixels, raster.Width, raster.Height, ColorComponents.RedGreenBlue, stream);
        return stream.ToArray();
    }

    private static byte[]? GrayOrNull(byte[] rgb)
    {
        var gray = new byte[rgb.Length / 3];
        for (int i = 0; i < gray.Length; i++)
        {
            byte r = rgb[3 * i];
            if (rgb[3 * i + 1] != r || rgb[3 * i + 2] != r) return null;
            gray[i] = r;
        }
        return gray;
    }

    /// <summary>
    /// Writes atomically (temp file, rename), so a reader never sees half a PNG; an existing file is kept unless
    /// <paramref name="overwrite"/> (the figure commands' --force), as <c>capsnet init</c> does.
    /// </summary>
    public static void Write(string path, Raster raster, bool overwrite, string flag = "--out")
    {
        Commands.CommonOptions.OutputPath(path, flag, overwrite);
        AtomicFile.Write(path, Encode(raster));
    }
}
