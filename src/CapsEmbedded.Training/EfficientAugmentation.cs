namespace CapsEmbedded.Training;

/// <summary>
/// The Efficient-CapsNet authors' MNIST augmentation (Mazzia et al. 2021; EscVM/Efficient-CapsNet
/// utils/pre_process_mnist.py), per image and in their order: a random rotation, a shift into the digit's empty
/// margins, a horizontal squish, a 4×4 erase. Every amount comes from <see cref="DeterministicRandom"/>, ten draws an
/// image whatever is applied, so a checkpointed generator state resumes the same images bit for bit.
/// </summary>
/// <remarks>
/// Where we differ, and why: the rotation is <see cref="RandomAffine"/>'s bilinear one about the pixel grid's centre
/// (13.5, 13.5) (OpenCV's warpAffine turns about (14, 14)); the squish resamples with Lanczos-3 widened by 1/scale
/// (antialiased, as TensorFlow's resize with LANCZOS3 and antialias), taps outside the image dropped and the weights
/// renormalised, the result clamped to [0, 1]; pixels are byte/255, the scale every CapsEmbedded model reads.
/// </remarks>
public static class EfficientAugmentation
{
    /// <summary>σ of the normal draws behind every amount (the authors' 0.33).</summary>
    public const double Sigma = 0.33;
    /// <summary>Largest rotation in degrees (at a clipped draw of ±1).</summary>
    public const double MaxRotationDegrees = 30;
    /// <summary>Side of the erased square and the first row/column it may start at (the authors' [4, 23)).</summary>
    public const int EraseSize = 4, EraseStart = 4, EraseStarts = 19;
    /// <summary>Most columns the squish removes (the image width / 4, 7 for 28).</summary>
    public static int MaxSquish(int size) => size / 4;

    /// <summary>One image's amounts, drawn in a fixed order (ten draws).</summary>
    public readonly record struct Draws(double RotationDegrees, bool Rotate, bool ShiftLeft, bool ShiftUp, double ShiftX, double ShiftY,
        int SquishColumns, int SquishOffset, int EraseRow, int EraseColumn)
    {
        public static Draws Next(DeterministicRandom random, int size)
        {
            // Rotation: 30° · clip(N(0, .33), ±.9999), whole degrees (the authors' int()), applied when a second such draw is > 0.
            double degrees = Math.Truncate(MaxRotationDegrees * Clip(Sigma * random.NextGaussian()));
            bool rotate = Clip(Sigma * random.NextGaussian()) > 0;
            bool up = random.NextDouble() < 0.5, left = random.NextDouble() < 0.5;
            double ax = Amount(random), ay = Amount(random);
            int squish = (int)Math.Floor(Amount(random) * MaxSquish(size) + 1);
            int offset = (int)Math.Floor(Amount(random) * 2);
            int row = EraseStart + random.NextInt(EraseStarts), column = EraseStart + random.NextInt(EraseStarts);
            return new Draws(degrees, rotate, left, up, ax, ay, squish, offset, row, column);
        }

        private static double Clip(double x) => Math.Clamp(x, -0.9999, 0.9999);
        private static double Amount(DeterministicRandom random) => Math.Min(Math.Abs(Sigma * random.NextGaussian()), 0.9999);
    }

    /// <summary>
    /// destination [size·size] = the augmented <paramref name="source"/> (bytes, one channel), in [0, 1].
    /// <paramref name="scratch"/> holds at least size·size floats.
    /// </summary>
    public static void Apply(ReadOnlySpan<byte> source, int size, DeterministicRandom random, Span<float> destination, Span<float> scratch) =>
        Apply(source, size, Draws.Next(random, size), destination, scratch);

    /// <inheritdoc cref="Apply(ReadOnlySpan{byte}, int, DeterministicRandom, Span{float}, Span{float})"/>
    public static void Apply(ReadOnlySpan<byte> source, int size, in Draws d, Span<float> destination, Span<float> scratch)
    {
        int plane = size * size;
        if (size < 2 * EraseStart + EraseSize + 2 || source.Length < plane || destination.Length < plane || scratch.Length < plane)
            throw new ArgumentException($"image buffers are shorter than {size}×{size}, or the image is too small for the erase");
        var image = scratch[..plane];
        RandomAffine.Apply(source, 1, size, 0, 0, d.Rotate ? d.RotationDegrees : 0, 1, image);
        ShiftIntoMargins(image, size, d.ShiftLeft, d.ShiftUp, d.ShiftX, d.ShiftY, destination[..plane]);
        Squish(destination[..plane], size, d.SquishColumns, d.SquishOffset, image);
        image.CopyTo(destination);
        Erase(destination[..plane], size, d.EraseRow, d.EraseColumn);
    }

    /// <summary>
    /// Moves the digit by a fraction of its empty margin (the rows/columns whose sum is 0 on that side): left by
    /// ⌊−a·left⌋ or right by ⌊a·(right + 1)⌋ (a &lt; 1, so nothing leaves the image), likewise vertically. An empty image stays.
    /// </summary>
    public static void ShiftIntoMargins(ReadOnlySpan<float> image, int size, bool left, bool up, double ax, double ay, Span<float> destination)
    {
        int firstColumn = size, lastColumn = -1, firstRow = size, lastRow = -1;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                if (image[y * size + x] > 0)
                {
                    firstColumn = Math.Min(firstColumn, x); lastColumn = Math.Max(lastColumn, x);
                    firstRow = Math.Min(firstRow, y); lastRow = Math.Max(lastRow, y);
                }
        int dx = 0, dy = 0;
        if (lastColumn >= 0)
        {
            dx = (int)(left ? Math.Floor(-ax * firstColumn) : Math.Floor(ax * (size - lastColumn)));
            dy = (int)(up ? Math.Floor(-ay * firstRow) : Math.Floor(ay * (size - lastRow)));
        }
        destination[..(size * size)].Clear();
        for (int y = Math.Max(0, dy); y < Math.Min(size, size + dy); y++)
            image.Slice((y - dy) * size + Math.Max(0, -dx), size - Math.Abs(dx)).CopyTo(destination.Slice(y * size + Math.Max(0, dx)));
    }

    /// <summary>
    /// Resizes the image to size − <paramref name="columns"/> columns (rows unchanged) with antialiased Lanczos-3, then
    /// places it <paramref name="columns"/>/2 + <paramref name="offset"/> columns from the left, zeros around, cropped to size.
    /// </summary>
    public static void Squish(ReadOnlySpan<float> image, int size, int columns, int offset, Span<float> destination)
    {
        int width = size - columns, start = columns / 2 + offset;
        if (columns < 0 || width < 1) throw new ArgumentOutOfRangeException(nameof(columns), $"cannot remove {columns} of {size} columns");
        double scale = (double)width / size, support = 3 / Math.Min(scale, 1);
        destination[..(size * size)].Clear();
        Span<double> weights = stackalloc double[2 * (int)Math.Ceiling(support) + 2];
        for (int x = 0; x < width; x++)
        {
            int to = start + x;
            if (to >= size) break;
            double centre = (x + 0.5) / scale - 0.5;
            int first = Math.Max(0, (int)Math.Ceiling(centre - support)), last = Math.Min(size - 1, (int)Math.Floor(centre + support));
            double total = 0;
            for (int i = first; i <= last; i++) total += weights[i - first] = Lanczos3((i - centre) * Math.Min(scale, 1));
            for (int y = 0; y < size; y++)
            {
                double sum = 0;
                for (int i = first; i <= last; i++) sum += weights[i - first] * image[y * size + i];
                destination[y * size + to] = (float)Math.Clamp(sum / total, 0, 1);
            }
        }
    }

    /// <summary>Zeroes the <see cref="EraseSize"/>² square whose top-left pixel is (<paramref name="row"/>, <paramref name="column"/>).</summary>
    public static void Erase(Span<float> image, int size, int row, int column)
    {
        for (int y = row; y < row + EraseSize; y++) image.Slice(y * size + column, EraseSize).Clear();
    }

    private static double Lanczos3(double x)
    {
        if (x == 0) return 1;
        if (Math.Abs(x) >= 3) return 0;
        double px = Math.PI * x;
        return 3 * Math.Sin(px) * Math.Sin(px / 3) / (px * px);
    }
}
