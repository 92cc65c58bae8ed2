namespace CapsEmbedded.Cli.Figures;

/// <summary>An 8-bit RGB colour.</summary>
public readonly record struct Rgb(byte R, byte G, byte B)
{
    public static readonly Rgb White = new(255, 255, 255);
    public static readonly Rgb Black = new(0, 0, 0);
    public static readonly Rgb Gray = new(136, 136, 136);
    public static readonly Rgb LightGray = new(230, 230, 230);
    public static readonly Rgb Red = new(214, 39, 40);
    public static readonly Rgb Green = new(44, 160, 44);
    public static readonly Rgb Blue = new(31, 119, 180);
    public static readonly Rgb Orange = new(255, 127, 14);
}

/// <summary>
/// A white RGB canvas, row-major, 3 bytes per pixel (what <see cref="PngFile"/> encodes). Drawing clips at the edges,
/// so a figure's layout code never has to.
/// </summary>
public sealed class Raster
{
    public Raster(int width, int height)
    {
        if (width < 1 || height < 1 || (long)width * height > 64L << 20)
            throw new ArgumentException($"a {width}x{height} figure is empty or too large");
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 3];
        Pixels.AsSpan().Fill(255);
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Row-major RGB bytes.</summary>
    public byte[] Pixels { get; }

    public Rgb this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return new Rgb(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    public void Set(int x, int y, Rgb color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = color.R;
        Pixels[i + 1] = color.G;
        Pixels[i + 2] = color.B;
    }

    public void Fill(int x, int y, int width, int height, Rgb color)
    {
        for (int row = Math.Max(0, y); row < Math.Min(Height, y + height); row++)
            for (int col = Math.Max(0, x); col < Math.Min(Width, x + width); col++) Set(col, row, color);
    }

    /// <summary>A rectangle outline <paramref name="thickness"/> pixels wide, drawn inside the given box.</summary>
    public void Frame(int x, int y, int width, int height, Rgb color, int thickness = 1)
    {
        Fill(x, y, width, thickness, color);
        Fill(x, y + height - thickness, width, thickness, color);
        Fill(x, y, thickness, height, color);
        Fill(x + width - thickness, y, thickness, height, color);
    }

    /// <summary>
    /// A gray image (values in [0, 1], row-major, <paramref name="side"/>²) scaled up by whole pixels: white strokes on
    /// black, as MNIST and the paper's figures show them. Values outside [0, 1] (or NaN) are clamped (NaN as 0).
    /// </summary>
    public void Gray(ReadOnlySpan<float> image, int side, int x, int y, int scale)
    {
        if (image.Length != side * side) throw new ArgumentException($"a {side}x{side} image needs {side * side} values, got {image.Length}");
        for (int row = 0; row < side; row++)
            for (int col = 0; col < side; col++)
            {
                byte level = (byte)Math.Round(255 * Unit(image[row * side + col]));
                Fill(x + col * scale, y + row * scale, scale, scale, new Rgb(level, level, level));
            }
    }

    /// <summary>
    /// Images drawn over a dimmed gray one (all <paramref name="side"/>², values in [0, 1] clamped as <see cref="Gray"/>
    /// does): each pixel is <paramref name="backgroundWeight"/> × the background's gray plus each layer's colour × its
    /// value, per channel, clamped at 255. Layers add, so where two overlap their colours mix (red + green: yellow), and a
    /// pixel only one layer covers at 1 over a black background is that layer's colour exactly.
    /// </summary>
    public void Overlay(ReadOnlySpan<float> background, float backgroundWeight, int side, int x, int y, int scale,
        params ReadOnlySpan<(float[] Image, Rgb Color)> layers)
    {
        if (background.Length != side * side) throw new ArgumentException($"a {side}x{side} image needs {side * side} values, got {background.Length}");
        foreach (var (image, _) in layers)
            if (image.Length != side * side) throw new ArgumentException($"a {side}x{side} layer needs {side * side} values, got {image.Length}");
        for (int p = 0; p < side * side; p++)
        {
            float gray = 255 * backgroundWeight * Unit(background[p]), r = gray, g = gray, b = gray;
            foreach (var (image, color) in layers)
            {
                float v = Unit(image[p]);
                r += v * color.R;
                g += v * color.G;
                b += v * color.B;
            }
            static byte Channel(float c) => (byte)Math.Round(Math.Min(c, 255));
            Fill(x + p % side * scale, y + p / side * scale, scale, scale, new Rgb(Channel(r), Channel(g), Channel(b)));
        }
    }

    /// <summary>A pixel value clamped to [0, 1], NaN as 0.</summary>
    private static float Unit(float v) => float.IsNaN(v) ? 0 : Math.Clamp(v, 0, 1);

    /// <summary>
    /// A line of <paramref name="thickness"/> pixels (a square brush moved along Bresenham's line), clipped to the canvas
    /// first, so an end point far off it (a curve's value of 10^9) costs no more than one across it.
    /// </summary>
    public void Line(int x0, int y0, int x1, int y1, Rgb color, int thickness = 1)
    {
        int margin = Math.Max(1, thickness);
        if (!Clip(ref x0, ref y0, ref x1, ref y1, -margin, -margin, Width - 1 + margin, Height - 1 + margin)) return;
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, error = dx + dy;
        int half = thickness / 2;
        while (true)
        {
            Fill(x0 - half, y0 - half, thickness, thickness, color);
            if (x0 == x1 && y0 == y1) return;
            int e2 = 2 * error;
            if (e2 >= dy) { error += dy; x0 += sx; }
            if (e2 <= dx) { error += dx; y0 += sy; }
        }
    }

    // Liang-Barsky: the part of the segment inside [xMin, xMax] x [yMin, yMax], in double (no overflow); false when none is.
    private static bool Clip(ref int x0, ref int y0, ref int x1, ref int y1, int xMin, int yMin, int xMax, int yMax)
    {
        double dx = (double)x1 - x0, dy = (double)y1 - y0, t0 = 0, t1 = 1;
        bool Edge(double p, double q)
        {
            if (p == 0) return q >= 0;
            double r = q / p;
            if (p < 0) t0 = Math.Max(t0, r);
            else t1 = Math.Min(t1, r);
            return t0 <= t1;
        }
        if (!(Edge(-dx, (double)x0 - xMin) && Edge(dx, (double)xMax - x0) && Edge(-dy, (double)y0 - yMin) && Edge(dy, (double)yMax - y0)))
            return false;
        if (t0 == 0 && t1 == 1) return true;
        (double sx, double sy) = (x0, y0);
        (x0, y0) = ((int)Math.Round(sx + t0 * dx), (int)Math.Round(sy + t0 * dy));
        (x1, y1) = ((int)Math.Round(sx + t1 * dx), (int)Math.Round(sy + t1 * dy));
        return true;
    }

    /// <summary>Text in <see cref="BitmapFont"/>, top-left at (x, y), each font pixel <paramref name="scale"/>² pixels.</summary>
    public void Text(string text, int x, int y, Rgb color, int scale = 2) => BitmapFont.Draw(this, text, x, y, color, scale);
}
