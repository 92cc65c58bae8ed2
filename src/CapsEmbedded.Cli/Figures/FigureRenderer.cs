using System.Globalization;
using CapsEmbedded.Runtime;
using CapsEmbedded.Training;

namespace CapsEmbedded.Cli.Figures;

/// <summary>
/// One digit as the figures need it: its index, input, true and predicted class, capsule lengths, the decoder's output
/// from the predicted capsule and (errors figure only) from the true class's capsule.
/// </summary>
public sealed record DigitResult(int Index, float[] Image, int Label, int Predicted, float[] Lengths, float[] Reconstruction,
    float[]? TrueReconstruction = null);

/// <summary>
/// One MultiMNIST pair as Figure 5 needs it: its index, input, two labels, the two longest capsules (longest first) and
/// each one's reconstruction from that capsule alone (every other capsule masked).
/// </summary>
public sealed record PairResult(int Index, float[] Image, int FirstLabel, int SecondLabel, int Longest, int SecondLongest,
    float[] LongestReconstruction, float[] SecondReconstruction)
{
    /// <summary>Right under the paper's metric (§6): the two longest capsules are exactly the two labels.</summary>
    public bool Right => (Longest == FirstLabel && SecondLongest == SecondLabel) || (Longest == SecondLabel && SecondLongest == FirstLabel);
}

/// <summary>
/// The PNG figures as pure functions from results to pixels (the commands run the model, these only draw), so tests can
/// check dimensions and known pixels. Images are drawn white on black at a whole-pixel scale, labels in
/// <see cref="BitmapFont"/>; the layout constants below are the same in every figure.
/// </summary>
public static class FigureRenderer
{
    public const int Pad = 4, Text = 2, LineHeight = BitmapFont.GlyphHeight * Text + 4;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Top-left of an image cell in <see cref="Reconstructions"/>: column c, band b (0 input, 1 reconstruction) of grid row r.</summary>
    public static (int X, int Y) ReconstructionCell(int side, int scale, int c, int r, int band)
    {
        int cell = side * scale;
        return (Pad + c * (cell + 2 * Pad) + Pad, LineHeight + Pad + r * RowHeight(cell) + band * (cell + Pad) + Pad);
    }

    private static int RowHeight(int cell) => 2 * cell + 3 * Pad + LineHeight + 2 * Pad;

    /// <summary>
    /// Paper Fig. 3: test digits (upper band) above their reconstructions from the predicted capsule (lower band), the
    /// predicted class below; a wrong prediction gets a red frame and "P&lt;predicted&gt; T&lt;true&gt;" in red.
    /// </summary>
    public static Raster Reconstructions(IReadOnlyList<DigitResult> digits, int side, int columns, int scale)
    {
        if (digits.Count == 0) throw new CliException("no digits to draw");
        int cell = side * scale, rows = (digits.Count + columns - 1) / columns;
        int cols = Math.Min(columns, digits.Count);
        var raster = new Raster(Pad + cols * (cell + 2 * Pad) + Pad, LineHeight + Pad + rows * RowHeight(cell));
        raster.Text("INPUT ABOVE, RECONSTRUCTION BELOW", Pad, Pad, Rgb.Black, Text);
        for (int k = 0; k < digits.Count; k++)
        {
            var d = digits[k];
            var (x, y) = ReconstructionCell(side, scale, k % columns, k / columns, 0);
            raster.Gray(d.Image, side, x, y, scale);
            raster.Gray(d.Reconstruction, side, x, y + cell + Pad, scale);
            bool wrong = d.Predicted != d.Label;
            if (wrong) raster.Frame(x - Pad + 1, y - Pad + 1, cell + 2 * Pad - 2, 2 * cell + 3 * Pad - 2, Rgb.Red, 2);
            string label = wrong ? $"P{d.Predicted} T{d.Label}" : d.Predicted.ToString(Inv);
            raster.Text(label, x, y + 2 * cell + 2 * Pad, wrong ? Rgb.Red : Rgb.Gray, Text);
        }
        return raster;
    }

    /// <summary>Figure 5's colours: the longest capsule's digit in red, the second longest's in green (the paper's).</summary>
    public static readonly Rgb LongestColor = Rgb.Red, SecondColor = Rgb.Green;

    /// <summary>How bright the input shows under the two reconstructions in <see cref="Pairs"/> (dim, so the colours stand out).</summary>
    public const float PairBackground = 0.3f;

    /// <summary>The second line of <see cref="Pairs"/>, under its title.</summary>
    public const string PairsLegend = "EACH: INPUT, THEN THE TWO LONGEST CAPSULES DECODED (RED, GREEN)";

    private static int PairWidth(int cell) => 2 * cell + 4 * Pad;

    private static int PairHeight(int cell) => cell + 2 * LineHeight + 3 * Pad;

    /// <summary>
    /// Top-left of pair <paramref name="k"/>'s input in <see cref="Pairs"/>; its overlay of the two reconstructions is one
    /// cell and <see cref="Pad"/> to the right.
    /// </summary>
    public static (int X, int Y) PairCell(int side, int scale, int columns, int k)
    {
        int cell = side * scale;
        return (Pad + (k % columns) * PairWidth(cell) + Pad, 2 * LineHeight + Pad + (k / columns) * PairHeight(cell) + Pad);
    }

    /// <summary>
    /// Paper Fig. 5 (MultiMNIST): each input (gray) beside the reconstructions from its two longest capsules, each from
    /// its capsule alone, the longest in <see cref="LongestColor"/> and the second in <see cref="SecondColor"/> over the
    /// dimmed input; below, "L:a,b" (the labels) and "R:c,d" (the capsules reconstructed, each in its colour). A pair
    /// the paper's metric counts wrong gets a red frame and its "L:" line in red.
    /// </summary>
    public static Raster Pairs(IReadOnlyList<PairResult> pairs, int side, int columns, int scale, string title)
    {
        if (pairs.Count == 0) throw new CliException("no pairs to draw");
        int cell = side * scale, cols = Math.Min(columns, pairs.Count), rows = (pairs.Count + columns - 1) / columns;
        int width = Math.Max(2 * Pad + cols * PairWidth(cell), Math.Max(BitmapFont.Measure(title, Text), BitmapFont.Measure(PairsLegend, Text)) + 2 * Pad);
        var raster = new Raster(width, 2 * LineHeight + Pad + rows * PairHeight(cell));
        raster.Text(title, Pad, Pad, Rgb.Black, Text);
        raster.Text(PairsLegend, Pad, Pad + LineHeight, Rgb.Gray, Text);
        for (int k = 0; k < pairs.Count; k++)
        {
            var p = pairs[k];
            var (x, y) = PairCell(side, scale, columns, k);
            raster.Gray(p.Image, side, x, y, scale);
            raster.Overlay(p.Image, PairBackground, side, x + cell + Pad, y, scale,
                (p.LongestReconstruction, LongestColor), (p.SecondReconstruction, SecondColor));
            if (!p.Right) raster.Frame(x - Pad + 1, y - Pad + 1, 2 * cell + 3 * Pad - 2, cell + 2 * Pad - 2, Rgb.Red, 2);
            int textY = y + cell + 2 * Pad;
            raster.Text(FormattableString.Invariant($"L:{p.FirstLabel},{p.SecondLabel}"), x, textY, p.Right ? Rgb.Gray : Rgb.Red, Text);
            // "R:c,d" glyph by glyph, each class in its digit's colour.
            string first = p.Longest.ToString(Inv), second = p.SecondLongest.ToString(Inv);
            int advance = BitmapFont.Advance * Text, line = textY + LineHeight;
            raster.Text("R:", x, line, Rgb.Gray, Text);
            raster.Text(first, x + 2 * advance, line, LongestColor, Text);
            raster.Text(",", x + (2 + first.Length) * advance, line, Rgb.Gray, Text);
            raster.Text(second, x + (3 + first.Length) * advance, line, SecondColor, Text);
        }
        return raster;
    }

    /// <summary>The perturbations of paper §5.1 / Fig. 4: −0.25 to 0.25 in steps of 0.05 (11 values).</summary>
    public static float Perturbation(int step) => (step - 5) * 0.05f;

    public const int PerturbationSteps = 11;

    /// <summary>Top-left of the tweak grid's image for dimension <paramref name="dim"/> and perturbation step <paramref name="step"/>.</summary>
    public static (int X, int Y) TweakCell(int side, int scale, int dim, int step)
    {
        int cell = side * scale;
        return (TweakLeft + step * (cell + Pad), 2 * LineHeight + Pad + dim * (cell + Pad));
    }

    private const int TweakLeft = 4 * BitmapFont.Advance * Text + Pad;

    /// <summary>
    /// Paper Fig. 4: row d shows the reconstruction with dimension d of the winning capsule moved by −0.25…0.25
    /// (<paramref name="reconstructions"/>[d][step]); the header names the image, its class and the step values.
    /// </summary>
    public static Raster Tweaks(float[][][] reconstructions, int side, int scale, string title)
    {
        int dims = reconstructions.Length, cell = side * scale;
        if (dims == 0) throw new CliException("no capsule dimensions to draw");
        var raster = new Raster(TweakLeft + PerturbationSteps * (cell + Pad), 2 * LineHeight + Pad + dims * (cell + Pad));
        raster.Text(title, Pad, Pad, Rgb.Black, Text);
        // Step labels ("-.25") in half-size glyphs when a cell is narrower than they are (scale 1).
        int labelScale = BitmapFont.Measure("-.25", Text) + 8 <= cell + Pad ? Text : 1;
        for (int s = 0; s < PerturbationSteps; s++)
        {
            string value = Perturbation(s).ToString("+0.00;-0.00;0", Inv).Replace("0.", ".", StringComparison.Ordinal);
            var (x, _) = TweakCell(side, scale, 0, s);
            raster.Text(value, x + (cell - BitmapFont.Measure(value, labelScale)) / 2, LineHeight + Pad, Rgb.Gray, labelScale);
        }
        for (int d = 0; d < dims; d++)
        {
            if (reconstructions[d].Length != PerturbationSteps) throw new ArgumentException($"dimension {d} has {reconstructions[d].Length} images, expected {PerturbationSteps}");
            var (_, y) = TweakCell(side, scale, d, 0);
            raster.Text("D" + d.ToString(Inv), Pad, y + (cell - BitmapFont.GlyphHeight * Text) / 2, Rgb.Gray, Text);
            for (int s = 0; s < PerturbationSteps; s++)
            {
                var (x, yy) = TweakCell(side, scale, d, s);
                raster.Gray(reconstructions[d][s], side, x, yy, scale);
            }
        }
        return raster;
    }

    /// <summary>Top-left of the input image of error <paramref name="k"/> in <see cref="Errors"/>; the two reconstructions follow to its right.</summary>
    public static (int X, int Y) ErrorCell(int side, int scale, int columns, int k)
    {
        int cell = side * scale, width = 3 * cell + 2 * Pad + 4 * Pad, height = cell + 2 * LineHeight + 2 * Pad;
        return (Pad + (k % columns) * width + Pad, 3 * LineHeight + Pad + (k / columns) * height);
    }

    /// <summary>
    /// Misclassified digits: the input, the reconstruction from the predicted capsule and from the true class's capsule;
    /// below, the index with true and predicted class and the two longest capsules' lengths.
    /// </summary>
    public static Raster Errors(IReadOnlyList<DigitResult> errors, int side, int columns, int scale, string title)
    {
        int cell = side * scale, width = 3 * cell + 2 * Pad + 4 * Pad, height = cell + 2 * LineHeight + 2 * Pad;
        int cols = Math.Max(1, Math.Min(columns, errors.Count)), rows = Math.Max(1, (errors.Count + columns - 1) / columns);
        var raster = new Raster(Math.Max(2 * Pad + cols * width, BitmapFont.Measure(title, Text) + 2 * Pad), 3 * LineHeight + Pad + rows * height);
        raster.Text(title, Pad, Pad, Rgb.Black, Text);
        raster.Text("EACH: INPUT, FROM PREDICTED CAPSULE, FROM TRUE CAPSULE", Pad, Pad + LineHeight, Rgb.Gray, Text);
        for (int k = 0; k < errors.Count; k++)
        {
            var e = errors[k];
            var (x, y) = ErrorCell(side, scale, columns, k);
            raster.Gray(e.Image, side, x, y, scale);
            raster.Gray(e.Reconstruction, side, x + cell + Pad, y, scale);
            raster.Frame(x + cell + Pad - 2, y - 2, cell + 4, cell + 4, Rgb.Red, 2);
            if (e.TrueReconstruction is not null)
            {
                raster.Gray(e.TrueReconstruction, side, x + 2 * (cell + Pad), y, scale);
                raster.Frame(x + 2 * (cell + Pad) - 2, y - 2, cell + 4, cell + 4, Rgb.Green, 2);
            }
            raster.Text($"{e.Index}: T{e.Label} P{e.Predicted}", x, y + cell + Pad, Rgb.Black, Text);
            var (first, second) = TwoLongest(e.Lengths);
            raster.Text($"{first}:{Short(e.Lengths[first])} {second}:{Short(e.Lengths[second])}", x, y + cell + Pad + LineHeight, Rgb.Gray, Text);
        }
        if (errors.Count == 0) raster.Text("NO ERRORS", Pad, 3 * LineHeight + Pad, Rgb.Green, Text);
        return raster;
    }

    /// <summary>The classes of the longest and second-longest capsules (ties to the lower class, as Predict).</summary>
    public static (int First, int Second) TwoLongest(ReadOnlySpan<float> lengths)
    {
        Span<int> two = stackalloc int[2];
        TopK.Longest(lengths, two);
        return (two[0], two[1]);
    }

    /// <summary>"0.913" → ".913": three decimals in four glyphs.</summary>
    private static string Short(float v) => v.ToString("0.000", Inv).Replace("0.", ".", StringComparison.Ordinal);

    public const int ConfusionCell = 44;
    private const int ConfusionLeft = 3 * BitmapFont.Advance * Text + 2 * Pad, ConfusionTop = 3 * LineHeight + 2 * Pad;

    /// <summary>Top-left of the heatmap cell for true class <paramref name="t"/> (row) and predicted <paramref name="p"/> (column).</summary>
    public static (int X, int Y) ConfusionCellAt(int t, int p) => (ConfusionLeft + p * ConfusionCell, ConfusionTop + t * ConfusionCell);

    /// <summary>The colour of a cell holding <paramref name="fraction"/> of its row: white to dark blue, square-root scale so single errors show.</summary>
    public static Rgb HeatColor(double fraction)
    {
        double t = Math.Sqrt(Math.Clamp(fraction, 0, 1));
        static byte Mix(double from, double to, double t) => (byte)Math.Round(from + (to - from) * t);
        return new Rgb(Mix(255, 8, t), Mix(255, 48, t), Mix(255, 107, t));
    }

    /// <summary>Confusion matrix heatmap: rows true class, columns predicted, each cell's count written in it.</summary>
    public static Raster Confusion(int[,] confusion, string title)
    {
        int classes = confusion.GetLength(0);
        var raster = new Raster(ConfusionLeft + classes * ConfusionCell + Pad, ConfusionTop + classes * ConfusionCell + Pad);
        raster.Text(title, Pad, Pad, Rgb.Black, Text);
        raster.Text("ROWS: TRUE CLASS, COLUMNS: PREDICTED", Pad, Pad + LineHeight, Rgb.Gray, Text);
        for (int t = 0; t < classes; t++)
        {
            long total = 0;
            for (int p = 0; p < classes; p++) total += confusion[t, p];
            var (_, rowY) = ConfusionCellAt(t, 0);
            raster.Text(t.ToString(Inv), Pad, rowY + (ConfusionCell - BitmapFont.GlyphHeight * Text) / 2, Rgb.Black, Text);
            for (int p = 0; p < classes; p++)
            {
                var (x, y) = ConfusionCellAt(t, p);
                if (t == 0) raster.Text(p.ToString(Inv), x + (ConfusionCell - BitmapFont.GlyphWidth * Text) / 2, ConfusionTop - LineHeight, Rgb.Black, Text);
                double fraction = total == 0 ? 0 : (double)confusion[t, p] / total;
                raster.Fill(x, y, ConfusionCell, ConfusionCell, HeatColor(fraction));
                raster.Frame(x, y, ConfusionCell + 1, ConfusionCell + 1, Rgb.LightGray);
                string count = confusion[t, p].ToString(Inv);
                if (confusion[t, p] != 0)
                    raster.Text(count, x + (ConfusionCell - BitmapFont.Measure(count, Text)) / 2, y + (ConfusionCell - BitmapFont.GlyphHeight * Text) / 2,
                        Math.Sqrt(fraction) > 0.5 ? Rgb.White : (t == p ? Rgb.Black : Rgb.Red), Text);
            }
        }
        return raster;
    }

    public const int CurveWidth = 640, CurvePanel = 220, CurveLeft = 64, CurveRight = 16, CurveTop = 40, CurveGap = 56;

    /// <summary>The training curve as <see cref="SvgChart"/> draws it (loss above, train and test error % below), in pixels.</summary>
    public static Raster TrainingCurve(IReadOnlyList<EpochMetrics> history, string title)
    {
        var raster = new Raster(CurveWidth, CurveTop + 2 * CurvePanel + CurveGap + 40);
        raster.Text(title, (CurveWidth - BitmapFont.Measure(title, Text)) / 2, 10, Rgb.Black, Text);
        var epochs = history.Select(h => (double)h.Epoch).ToArray();
        CurvePanelAt(raster, CurveTop, "TRAIN LOSS", epochs, [("TRAIN LOSS", Rgb.Blue, history.Select(h => h.TrainLoss).ToArray())]);
        CurvePanelAt(raster, CurveTop + CurvePanel + CurveGap, "ERROR %", epochs,
        [
            ("TRAIN ERROR", Rgb.Orange, history.Select(h => 100 * (1 - h.TrainAccuracy)).ToArray()),
            ("TEST ERROR", Rgb.Green, history.Select(h => 100 * h.TestError).ToArray()),
        ]);
        return raster;
    }

    private static void CurvePanelAt(Raster raster, int top, string label, double[] x, (string Name, Rgb Color, double[] Y)[] series)
    {
        int plotWidth = CurveWidth - CurveLeft - CurveRight;
        double xMin = x.Length > 0 ? x.Min() : 0, xMax = x.Length > 0 ? x.Max() : 1;
        if (xMax <= xMin) { xMin -= 0.5; xMax += 0.5; }
        var finite = series.SelectMany(s => s.Y).Where(double.IsFinite).ToArray();
        double yMax = finite.Length > 0 ? finite.Max() : 1;
        if (yMax <= 0) yMax = 1;
        yMax = Math.Min(yMax * 1.05, double.MaxValue);
        // Pixels clamped to a band around the canvas: any finite value (a forged 10^9 accuracy) stays a bounded line.
        static int Pixel(double p) => (int)Math.Round(Math.Clamp(double.IsNaN(p) ? 0 : p, -1e6, 1e6));
        int X(double v) => Pixel(CurveLeft + (v - xMin) / (xMax - xMin) * plotWidth);
        int Y(double v) => Pixel(top + CurvePanel - v / yMax * CurvePanel);
        for (int t = 0; t <= 4; t++)
        {
            double v = yMax * t / 4;
            raster.Line(CurveLeft, Y(v), CurveLeft + plotWidth, Y(v), Rgb.LightGray);
            string tick = v.ToString("G3", Inv);
            raster.Text(tick, CurveLeft - 6 - BitmapFont.Measure(tick, Text), Y(v) - 5, Rgb.Black, Text);
        }
        raster.Frame(CurveLeft, top, plotWidth + 1, CurvePanel + 1, Rgb.Gray);
        int step = Math.Max(1, (int)Math.Ceiling((xMax - xMin) / 10));
        for (double e = Math.Ceiling(xMin); e <= xMax; e += step)
        {
            string tick = e.ToString("G", Inv);
            raster.Text(tick, X(e) - BitmapFont.Measure(tick, Text) / 2, top + CurvePanel + 6, Rgb.Black, Text);
        }
        raster.Text(label + " (X: EPOCH)", CurveLeft, top - 14, Rgb.Black, Text);
        int legendX = CurveLeft + plotWidth;
        foreach (var (name, color, y) in Enumerable.Reverse(series))
        {
            var points = x.Zip(y).Where(p => double.IsFinite(p.Second)).Select(p => (X: X(p.First), Y: Y(p.Second))).ToArray();
            for (int i = 1; i < points.Length; i++) raster.Line(points[i - 1].X, points[i - 1].Y, points[i].X, points[i].Y, color, 2);
            foreach (var (px, py) in points) raster.Fill(px - 3, py - 3, 7, 7, color);
            legendX -= BitmapFont.Measure(name, Text);
            raster.Text(name, legendX, top - 14, color, Text);
            legendX -= 16;
        }
    }
}
