using CapsEmbedded.IO;
using System.Globalization;
using System.Text;

namespace CapsEmbedded.Training;

/// <summary>
/// A small SVG writer for the training curve: two panels over epochs, the training loss (per image) above and the
/// error in percent (training and test) below. Plain SVG 1.1, no script, no external fonts.
/// </summary>
public static class SvgChart
{
    private const int Width = 640, PanelHeight = 220, Left = 64, Right = 16, Top = 36, Gap = 56, Bottom = 40;

    public static string Render(IReadOnlyList<EpochMetrics> history, string title)
    {
        int height = Top + 2 * PanelHeight + Gap + Bottom;
        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(Invariant($"<rect width=\"{Width}\" height=\"{height}\" fill=\"white\"/>\n"));
        svg.Append(Invariant($"<text x=\"{Width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{Escape(title)}</text>\n"));
        var epochs = history.Select(h => (double)h.Epoch).ToArray();
        Panel(svg, Top, "train loss", epochs, new[] { ("train loss", "#1f77b4", history.Select(h => h.TrainLoss).ToArray()) });
        Panel(svg, Top + PanelHeight + Gap, "error %", epochs, new[]
        {
            ("train error", "#ff7f0e", history.Select(h => 100 * (1 - h.TrainAccuracy)).ToArray()),
            ("test error", "#2ca02c", history.Select(h => 100 * h.TestError).ToArray()),
        });
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    public static void Write(string path, IReadOnlyList<EpochMetrics> history, string title) => AtomicFile.WriteText(path, Render(history, title));

    private static void Panel(StringBuilder svg, int top, string label, double[] x, (string Name, string Color, double[] Y)[] series)
    {
        int plotWidth = Width - Left - Right;
        double xMin = x.Length > 0 ? x.Min() : 0, xMax = x.Length > 0 ? x.Max() : 1;
        if (xMax <= xMin) { xMin -= 0.5; xMax += 0.5; }
        var finite = series.SelectMany(s => s.Y).Where(double.IsFinite).ToArray();
        double yMin = 0, yMax = finite.Length > 0 ? finite.Max() : 1;
        if (yMax <= yMin) yMax = yMin + 1;
        yMax = Math.Min(yMax * 1.05, double.MaxValue);
        // Coordinates clamped to a band around the chart: any finite value stays a short number in the file.
        static double Clamped(double p) => Math.Clamp(double.IsNaN(p) ? 0 : p, -1e6, 1e6);
        double X(double v) => Clamped(Left + (v - xMin) / (xMax - xMin) * plotWidth);
        double Y(double v) => Clamped(top + PanelHeight - (v - yMin) / (yMax - yMin) * PanelHeight);
        svg.Append(Invariant($"<rect x=\"{Left}\" y=\"{top}\" width=\"{plotWidth}\" height=\"{PanelHeight}\" fill=\"none\" stroke=\"#888\"/>\n"));
        for (int t = 0; t <= 4; t++)
        {
            double v = yMin + (yMax - yMin) * t / 4;
            svg.Append(Invariant($"<line x1=\"{Left}\" x2=\"{Left + plotWidth}\" y1=\"{Y(v):F1}\" y2=\"{Y(v):F1}\" stroke=\"#eee\"/>"));
            svg.Append(Invariant($"<text x=\"{Left - 6}\" y=\"{Y(v) + 4:F1}\" text-anchor=\"end\">{v:G3}</text>\n"));
        }
        int step = Math.Max(1, (int)Math.Ceiling((xMax - xMin) / 10));
        for (double e = Math.Ceiling(xMin); e <= xMax; e += step)
            svg.Append(Invariant($"<text x=\"{X(e):F1}\" y=\"{top + PanelHeight + 16}\" text-anchor=\"middle\">{e:G}</text>\n"));
        svg.Append(Invariant($"<text x=\"{Left}\" y=\"{top - 6}\">{Escape(label)} (x: epoch)</text>\n"));
        int legendX = Left + plotWidth;
        foreach (var (name, color, y) in Enumerable.Reverse(series))
        {
            var points = x.Zip(y).Where(p => double.IsFinite(p.Second)).Select(p => Invariant($"{X(p.First):F1},{Y(p.Second):F1}")).ToArray();
            if (points.Length > 1) svg.Append(Invariant($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(" ", points)}\"/>\n"));
            foreach (var pt in points)
            {
                var xy = pt.Split(',');
                svg.Append(Invariant($"<circle cx=\"{xy[0]}\" cy=\"{xy[1]}\" r=\"3\" fill=\"{color}\"/>"));
            }
            svg.Append(Invariant($"<text x=\"{legendX}\" y=\"{top - 6}\" text-anchor=\"end\" fill=\"{color}\">{Escape(name)}</text>\n"));
            legendX -= 8 * name.Length + 16;
        }
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
