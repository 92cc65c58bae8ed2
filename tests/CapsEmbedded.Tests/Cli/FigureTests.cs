using CapsEmbedded.Cli;
using CapsEmbedded.Cli.Figures;
using CapsEmbedded.Data;
using CapsEmbedded.Training;
using StbImageSharp;

namespace CapsEmbedded.Tests.Cli;

/// <summary>
/// The PNG figures: layouts checked pixel by pixel on synthetic results, the PNG round trip through an independent
/// decoder (stb_image), and the commands end to end on the 200-digit fixture with the compiled model.
/// </summary>
public sealed class FigureTests() : TempDirectoryTest("capsnet-fig-")
{
    private static float[] Constant(float v) => Enumerable.Repeat(v, 28 * 28).ToArray();

    private static DigitResult Digit(int label, int predicted, float input, float output) =>
        new(0, Constant(input), label, predicted, new float[10], Constant(output));

    private static ImageResult Decode(string path) => ImageResult.FromMemory(File.ReadAllBytes(path), ColorComponents.RedGreenBlue);

    private static Rgb At(ImageResult image, int x, int y)
    {
        int i = (y * image.Width + x) * 3;
        return new Rgb(image.Data[i], image.Data[i + 1], image.Data[i + 2]);
    }

    [Fact]
    public void Reconstructions_put_inputs_above_outputs_and_frame_wrong_predictions_in_red()
    {
        var raster = FigureRenderer.Reconstructions([Digit(3, 3, 1f, 0f), Digit(5, 8, 0.5f, 1f)], 28, columns: 2, scale: 2);
        var (x0, y0) = FigureRenderer.ReconstructionCell(28, 2, 0, 0, 0);
        var (x1, y1) = FigureRenderer.ReconstructionCell(28, 2, 0, 0, 1);
        Assert.Equal(Rgb.White, raster[x0 + 10, y0 + 10]);          // input 1.0: white
        Assert.Equal(Rgb.Black, raster[x1 + 10, y1 + 10]);          // reconstruction 0.0: black
        Assert.Equal(Rgb.White, raster[x0 - 3, y0 + 10]);           // a right prediction has no frame
        var (x2, y2) = FigureRenderer.ReconstructionCell(28, 2, 1, 0, 0);
        Assert.Equal(new Rgb(128, 128, 128), raster[x2 + 55, y2 + 55]); // 0.5 → 128, whole cell (scale 2 → 56 px)
        Assert.Equal(Rgb.Red, raster[x2 - 3, y2 + 10]);             // wrong prediction: red frame
        Assert.Equal(2 * (28 * 2 + 2 * FigureRenderer.Pad) + 2 * FigureRenderer.Pad, raster.Width);
    }

    [Fact]
    public void Pairs_draw_each_capsules_digit_in_its_colour_over_the_dimmed_input_and_frame_wrong_pairs()
    {
        const int side = 36;
        // Longest capsule's digit: the left half; second's: the bottom half; they overlap bottom left.
        var left = new float[side * side];
        var bottom = new float[side * side];
        for (int p = 0; p < side * side; p++)
        {
            if (p % side < side / 2) left[p] = 1;
            if (p / side >= side / 2) bottom[p] = 1;
        }
        var black = new float[side * side];
        var white = Enumerable.Repeat(1f, side * side).ToArray();
        PairResult right = new(0, black, 7, 3, 3, 7, left, bottom), wrong = new(1, white, 2, 5, 2, 8, black, black);
        Assert.True(right.Right);
        Assert.False(wrong.Right);

        var raster = FigureRenderer.Pairs([right, wrong], side, columns: 2, scale: 1, "T");
        var (x, y) = FigureRenderer.PairCell(side, 1, 2, 0);
        int overlay = x + side + FigureRenderer.Pad;
        Assert.Equal(FigureRenderer.LongestColor, raster[overlay + 5, y + 5]);    // the longest capsule's digit alone
        Assert.Equal(FigureRenderer.SecondColor, raster[overlay + 30, y + 30]);   // the second's alone
        var both = raster[overlay + 5, y + 30];                                     // both add, clamped: red + green
        Assert.Equal(new Rgb(255, 199, 84), both);
        Assert.Equal(Rgb.Black, raster[overlay + 30, y + 5]);                     // neither, over a black input
        Assert.Equal(Rgb.Black, raster[x + 5, y + 5]);                            // the input, gray
        Assert.Equal(Rgb.White, raster[x - 3, y + 10]);                           // right: no frame
        // "R:3,7": the longest capsule's class in its colour ('3' and '7' have ink at their top left).
        int textY = y + side + 2 * FigureRenderer.Pad + FigureRenderer.LineHeight, advance = BitmapFont.Advance * FigureRenderer.Text;
        Assert.Equal(FigureRenderer.LongestColor, raster[x + 2 * advance, textY]);
        Assert.Equal(FigureRenderer.SecondColor, raster[x + 4 * advance, textY]);

        var (x2, y2) = FigureRenderer.PairCell(side, 1, 2, 1);
        Assert.Equal(Rgb.White, raster[x2 + 5, y2 + 5]);
        var dimmed = raster[x2 + side + FigureRenderer.Pad + 5, y2 + 5];          // a white input under no digit: dimmed gray
        Assert.Equal((dimmed.R, dimmed.R), (dimmed.G, dimmed.B));
        Assert.InRange(dimmed.R, 76, 77);                                          // 0.3 × 255
        Assert.Equal(Rgb.Red, raster[x2 - 3, y2 + 10]);                           // wrong: red frame
        Assert.Equal(y + side + 2 * FigureRenderer.LineHeight + 2 * FigureRenderer.Pad, raster.Height);
        Assert.Equal(BitmapFont.Measure(FigureRenderer.PairsLegend, FigureRenderer.Text) + 2 * FigureRenderer.Pad, raster.Width);
    }

    [Fact]
    public void Tweak_grid_is_16_by_11_with_each_cell_its_own_image()
    {
        var grid = new float[16][][];
        for (int d = 0; d < 16; d++)
        {
            grid[d] = new float[11][];
            for (int s = 0; s < 11; s++) grid[d][s] = Constant((d * 11 + s) / 175f);
        }
        var raster = FigureRenderer.Tweaks(grid, 28, 1, "T");
        for (int d = 0; d < 16; d += 5)
            for (int s = 0; s < 11; s += 3)
            {
                var (x, y) = FigureRenderer.TweakCell(28, 1, d, s);
                byte level = (byte)Math.Round(255f * (d * 11 + s) / 175f);
                Assert.Equal(new Rgb(level, level, level), raster[x + 14, y + 14]);
            }
        var (lastX, lastY) = FigureRenderer.TweakCell(28, 1, 15, 10);
        Assert.Equal(lastX + 28 + FigureRenderer.Pad, raster.Width);
        Assert.Equal(lastY + 28 + FigureRenderer.Pad, raster.Height);
        Assert.Equal(-0.25f, FigureRenderer.Perturbation(0), 6);
        Assert.Equal(0f, FigureRenderer.Perturbation(5), 6);
        Assert.Equal(0.25f, FigureRenderer.Perturbation(10), 6);
    }

    [Fact]
    public void Confusion_cells_are_coloured_by_their_share_of_the_row()
    {
        var confusion = new int[10, 10];
        for (int t = 0; t < 10; t++) confusion[t, t] = 99;
        confusion[4, 9] = 1;
        confusion[4, 4] = 3; // row 4: 3 right, 1 wrong → 0.75 and 0.25
        var raster = FigureRenderer.Confusion(confusion, "TEST");
        var (x, y) = FigureRenderer.ConfusionCellAt(4, 9);
        Assert.Equal(FigureRenderer.HeatColor(0.25), raster[x + 3, y + 3]);
        (x, y) = FigureRenderer.ConfusionCellAt(0, 1);
        Assert.Equal(Rgb.White, raster[x + 3, y + 3]);
        (x, y) = FigureRenderer.ConfusionCellAt(0, 0);
        Assert.Equal(FigureRenderer.HeatColor(1), raster[x + 3, y + 3]);
        Assert.Equal(new Rgb(8, 48, 107), FigureRenderer.HeatColor(1));
    }

    [Fact]
    public void Two_longest_lengths_and_the_training_curve()
    {
        Assert.Equal((3, 5), FigureRenderer.TwoLongest([0.1f, 0.2f, 0, 0.9f, 0, 0.5f, 0, 0, 0, 0]));
        Assert.Equal((0, 1), FigureRenderer.TwoLongest(new float[10]));
        var history = new[] { new EpochMetrics(1, 0.2, 0.9, 0.02, 1e-3, 10), new EpochMetrics(2, 0.1, 0.95, 0.01, 1e-3, 10) };
        var raster = FigureRenderer.TrainingCurve(history, "CURVE");
        Assert.Equal(FigureRenderer.CurveWidth, raster.Width);
        // Epoch 1's loss point (the maximum, 1/1.05 of the panel's height) is a blue dot.
        int x = FigureRenderer.CurveLeft, y = (int)Math.Round(FigureRenderer.CurveTop + FigureRenderer.CurvePanel - FigureRenderer.CurvePanel / 1.05);
        Assert.Equal(Rgb.Blue, raster[x, y]);
    }

    [Fact]
    public void Png_round_trips_through_an_independent_decoder_and_refuses_to_overwrite()
    {
        var raster = new Raster(7, 3);
        raster.Set(6, 2, Rgb.Red);
        raster.Set(0, 0, new Rgb(1, 2, 3));
        string path = P("x.png");
        PngFile.Write(path, raster, overwrite: false);
        var image = Decode(path);
        Assert.Equal((7, 3), (image.Width, image.Height));
        Assert.Equal(raster.Pixels, image.Data);
        byte[] before = File.ReadAllBytes(path);
        var e = Assert.Throws<CliException>(() => PngFile.Write(path, new Raster(2, 2), overwrite: false));
        Assert.Equal($"--out {path} exists; pass --force to overwrite it", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        PngFile.Write(path, new Raster(2, 2), overwrite: true);
        Assert.Equal(2, Decode(path).Width);
        Assert.Empty(Directory.GetFiles(Dir, "*.tmp"));
        var gray = new Raster(3, 2);
        gray.Set(1, 1, new Rgb(7, 7, 7));
        byte[] png = PngFile.Encode(gray);
        Assert.Equal(0, png[25]); // IHDR colour type 0: a figure without colour is written as one gray channel
        Assert.Equal(gray.Pixels, ImageResult.FromMemory(png, ColorComponents.RedGreenBlue).Data);
    }

    [Fact]
    public void Reconstruct_and_tweak_draw_the_fixture_digits_with_the_compiled_model()
    {
        string data = CopyMnistFixture(), png = P("r.png");
        var (code, output, error) = Capsnet("reconstruct", "--data", data, "--start", "2", "--count", "3", "--columns", "3", "--scale", "1", "--out", png);
        Assert.True(code == 0, error);
        Assert.Contains("3 digits from 2", output);
        var image = Decode(png);
        Assert.Equal(2 * FigureRenderer.Pad + 3 * (28 + 2 * FigureRenderer.Pad), image.Width); // 3 columns at scale 1
        // The input cell holds fixture image 2, pixel for pixel.
        var set = DatasetStore.Load(data, DatasetSplit.Test, Dir);
        var (x, y) = FigureRenderer.ReconstructionCell(28, 1, 0, 0, 0);
        for (int p = 0; p < 28 * 28; p += 37)
            Assert.Equal(set.GetImage(2)[p], At(image, x + p % 28, y + p / 28).R);

        var again = Capsnet("reconstruct", "--data", data, "--out", png);
        Assert.Equal(1, again.Code);
        Assert.Equal($"capsnet: error: --out {png} exists; pass --force to overwrite it", again.Error.Trim());

        string tweak = P("t.png");
        (code, output, error) = Capsnet("tweak", "--data", data, "--index", "199", "--scale", "1", "--out", tweak);
        Assert.True(code == 0, error);
        var grid = Decode(tweak);
        var (lastX, lastY) = FigureRenderer.TweakCell(28, 1, 15, 10);
        Assert.Equal((lastX + 28 + FigureRenderer.Pad, lastY + 28 + FigureRenderer.Pad), (grid.Width, grid.Height));

        var bad = Capsnet("tweak", "--data", data, "--index", "200", "--out", P("u.png"));
        Assert.Equal("capsnet: error: --index 200 is outside " + data + "'s 200 images (0..199)", bad.Error.Trim());
    }

    [Fact]
    public void Errors_and_eval_plot_write_their_figures()
    {
        string data = CopyMnistFixture(), errors = P("e.png"), plot = P("c.png");
        string output = CapsnetSucceeds("errors", "--data", data, "--limit", "60", "--threads", "1", "--out", errors);
        Assert.Matches(@"\d+ of 60 misclassified", output);
        Assert.True(Decode(errors).Width > 100);
        output = CapsnetSucceeds("eval", "--data", data, "--limit", "20", "--threads", "1", "--plot", plot);
        var heatmap = Decode(plot);
        var (x, y) = FigureRenderer.ConfusionCellAt(9, 9);
        Assert.Equal(y + FigureRenderer.ConfusionCell + FigureRenderer.Pad, heatmap.Height);
        // The first 20 fixture digits hold a 0 and the compiled model gets every one of them right: cell (0, 0) is full.
        (x, y) = FigureRenderer.ConfusionCellAt(0, 0);
        Assert.Equal(FigureRenderer.HeatColor(1), At(heatmap, x + 3, y + 3));
    }
}
