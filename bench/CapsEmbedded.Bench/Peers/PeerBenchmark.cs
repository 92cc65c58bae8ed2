using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CapsEmbedded.Data;
using CapsEmbedded.Models;
using CapsEmbedded.Onnx;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// One peer's timing of one configuration in one round (also the JSON line bench/peers/pytorch_peer.py writes);
/// <paramref name="Network"/> is "efficient" for Efficient-CapsNet, null (absent) for the paper network.
/// <paramref name="P99Ms"/> and <paramref name="CpuMsPerImage"/> (the process's CPU time over the timed calls, every
/// thread's, spinning included, per image) are −1 where a peer does not report them (older lines, PyTorch).
/// </summary>
public sealed record PeerResult(string Peer, string Version, int Batch, int Threads, double P50Ms, double P90Ms,
    double ImagesPerSecond, double AllocatedBytesPerImage, string? Network = null, double P99Ms = -1, double CpuMsPerImage = -1);

/// <summary>
/// <c>peers [--runs N] [--rounds R] [--markdown] [--json] [--variants] [--network paper|efficient|both]</c>: each generated
/// model and ONNX Runtime on the same weights (weights/mnist.safetensors; weights/mnist-efficient.safetensors for
/// Efficient-CapsNet) and the same MNIST digits, interleaved in one process — per configuration, R rounds, each peer timed
/// in turn (the order flips every round) — then medians over the rounds and ratios to the generated model of the network.
/// <c>peers-report FILE...</c> merges JSON lines of several runs (and of PyTorch) into the table of bench/RESULTS.md.
/// </summary>
public static class PeerBenchmark
{
    /// <summary>The configurations of issue 9: (batch, threads).</summary>
    public static readonly (int Batch, int Threads)[] Configurations = [(1, 1), (1, 2), (64, 2)];

    /// <summary>
    /// Digits each peer cycles through, one batch per call (the fixture's 200 test digits, repeated): the generated model
    /// skips conv1's zero activations, so its time depends on the image, and one repeated digit would not be a fair sample.
    /// </summary>
    public const int PoolImages = 256;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args, TextWriter output)
    {
        int runs = 100, rounds = 3;
        bool markdown = false, json = false, variants = false;
        string network = "both";
        for (int k = 0; k < args.Length; k++)
        {
            switch (args[k])
            {
                case "--runs": runs = PositiveArgument(args, ++k); break;
                case "--rounds": rounds = PositiveArgument(args, ++k); break;
                case "--markdown": markdown = true; break;
                case "--json": json = true; break;
                case "--variants": variants = true; break;
                case "--network" when k + 1 < args.Length && args[k + 1] is "paper" or "efficient" or "both": network = args[++k]; break;
                default: throw new ArgumentException($"peers: unknown argument '{args[k]}' (--runs N, --rounds R, --markdown, --json, --variants, --network paper|efficient|both)");
            }
        }

        // One group per network: its generated model first (the baseline its peers must agree with), then ONNX Runtime.
        var groups = new List<(string? Network, List<IInferencePeer> Peers)>();
        if (network != "efficient")
        {
            var weights = CapsNetWeightsFile.Load(FindRepositoryFile("weights", "mnist.safetensors"));
            var paper = new List<IInferencePeer>
            {
                new GeneratedPeer(CompiledModel.Mnist, GeneratedPeer.PaperName),
                new OnnxRuntimePeer(weights, new OnnxExportOptions().CapsuleTransform),
            };
            if (variants)
                foreach (var f in Enum.GetValues<CapsuleTransformFormulation>().Where(f => f != new OnnxExportOptions().CapsuleTransform))
                    paper.Add(new OnnxRuntimePeer(weights, f, $"ONNX Runtime ({f})"));
            groups.Add((null, paper));
        }
        if (network != "paper")
        {
            var weights = EfficientCapsNetWeightsFile.Load(FindRepositoryFile("weights", "mnist-efficient.safetensors"));
            var efficient = new List<IInferencePeer>
            {
                new GeneratedPeer(CompiledModel.MnistEfficient, GeneratedPeer.EfficientName),
                new OnnxRuntimePeer(weights, foldBatchNorm: true, EfficientOnnxName),
            };
            if (variants) efficient.Add(new OnnxRuntimePeer(weights, foldBatchNorm: false, "ONNX Runtime (Efficient-CapsNet, BN nodes)"));
            groups.Add((EfficientNetwork, efficient));
        }
        var peers = groups.SelectMany(g => g.Peers.Select(p => (g.Network, Peer: p))).ToList();
        var digits = Digits(PoolImages);
        var results = new List<PeerResult>();
        try
        {
            foreach (var (batch, threads) in Configurations)
            {
                var images = digits.AsSpan(0, PoolImages / batch * batch * 784).ToArray();
                foreach (var (_, peer) in peers) peer.Prepare(images, batch, threads);
                foreach (var (_, group) in groups) CheckAgreement(group, batch);
                // A batch call of 64 images costs as much as 64 single ones: fewer calls keep every configuration similar in time.
                int calls = Math.Max(5, runs / Math.Max(1, batch / 8));
                for (int round = 0; round < rounds; round++)
                {
                    var order = round % 2 == 0 ? peers : Enumerable.Reverse(peers).ToList();
                    foreach (var (net, peer) in order) results.Add(Time(peer, batch, threads, calls) with { Network = net });
                }
            }
        }
        finally
        {
            foreach (var (_, peer) in peers) peer.Dispose();
        }

        if (json)
            foreach (var r in results) output.WriteLine(JsonSerializer.Serialize(r, Json));
        else output.Write(Report(results, markdown));
        return 0;
    }

    public static int RunReport(string[] files, TextWriter output)
    {
        if (files.Length == 0) throw new ArgumentException("peers-report: name one or more files of JSON lines");
        var results = new List<PeerResult>();
        foreach (string file in files)
            foreach (string line in File.ReadLines(file).Where(l => l.TrimStart().StartsWith('{')))
                results.Add(JsonSerializer.Deserialize<PeerResult>(line, Json)
                    ?? throw new InvalidDataException($"{file}: a line is not a peer result: {line}"));
        output.Write(Report(results, markdown: true));
        return 0;
    }

    private static readonly TimeSpan WarmUpTime = TimeSpan.FromSeconds(2);

    private static PeerResult Time(IInferencePeer peer, int batch, int threads, int calls)
    {
        // Warm-up: caches, thread pools and the JIT's tiers. Tier-1 code replaces tier-0 only after 30 calls and a
        // background delay, and settles after a few hundred calls (the Efficient network: 18-30 ms for the first 20-40
        // calls, then 0.45-0.7 ms up to call ~400, then 0.42 ms), so warm by time as well as by count.
        var warm = Stopwatch.StartNew();
        for (int k = 0; k < Math.Max(3, calls / 10) || warm.Elapsed < WarmUpTime; k++) peer.Run();
        var ticks = new long[calls];
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var cpuBefore = Environment.CpuUsage.TotalTime;
        long start = Stopwatch.GetTimestamp();
        for (int k = 0; k < calls; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            peer.Run();
            ticks[k] = Stopwatch.GetTimestamp() - t0;
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        double cpuMs = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Array.Sort(ticks);
        double Percentile(double p) => ticks[Math.Min(calls - 1, (int)Math.Ceiling(p * calls) - 1)] * 1e3 / Stopwatch.Frequency;
        return new PeerResult(peer.Name, peer.Version, batch, threads, Percentile(0.5), Percentile(0.9),
            calls * (double)batch / seconds, allocated / (calls * (double)batch), P99Ms: Percentile(0.99),
            CpuMsPerImage: cpuMs / (calls * (double)batch));
    }

    // Every peer must compute the same network: lengths agree with the first peer's (float, different summation orders).
    private static void CheckAgreement(List<IInferencePeer> peers, int batch)
    {
        foreach (var peer in peers) peer.Run();
        var reference = peers[0].Lengths;
        foreach (var peer in peers.Skip(1))
            for (int k = 0; k < reference.Length; k++)
                if (Math.Abs(peer.Lengths[k] - reference[k]) > 1e-4f * Math.Max(1f, Math.Abs(reference[k])))
                    throw new InvalidOperationException($"{peer.Name} disagrees with {peers[0].Name} at batch {batch}, length {k}: {peer.Lengths[k]} vs {reference[k]}");
    }

    /// <summary>Medians over rounds per peer and configuration, and each peer's time over the generated model's.</summary>
    public static string Report(IReadOnlyList<PeerResult> results, bool markdown)
    {
        var text = new StringBuilder();
        var summary = results.GroupBy(r => (r.Peer, r.Batch, r.Threads, r.Network)).Select(g => new
        {
            g.Key.Peer, g.Key.Batch, g.Key.Threads, g.Key.Network, g.First().Version, Rounds = g.Count(),
            P50 = Median(g.Select(r => r.P50Ms)), P90 = Median(g.Select(r => r.P90Ms)), P99 = Median(g.Select(r => r.P99Ms)),
            Cpu = Median(g.Select(r => r.CpuMsPerImage)),
            Rate = Median(g.Select(r => r.ImagesPerSecond)), Allocated = Median(g.Select(r => r.AllocatedBytesPerImage)),
        }).ToList();
        text.AppendLine(Inv, $"Machine: {CpuName()}, {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        foreach (var peer in summary.DistinctBy(s => s.Peer)) text.AppendLine(Inv, $"- {peer.Peer}: {peer.Version}");
        text.AppendLine();
        string[] header = ["configuration", "peer", "rounds", "p50 ms", "p90 ms", "p99 ms", "CPU ms/image", "images/s",
            "managed B/image", "peer time / generated"];
        if (markdown)
        {
            text.AppendLine("| " + string.Join(" | ", header) + " |");
            text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        }
        else text.AppendLine(string.Join("  ", header));
        foreach (var (batch, threads) in Configurations)
        {
            var rows = summary.Where(s => s.Batch == batch && s.Threads == threads)
                .OrderBy(s => s.Network == EfficientNetwork ? 1 : 0).ThenBy(s => s.Peer == BaselineOf(s.Network) ? 0 : 1);
            foreach (var s in rows)
            {
                string baseline = BaselineOf(s.Network);
                var own = summary.FirstOrDefault(o => o.Peer == baseline && o.Batch == batch && o.Threads == threads);
                // Latency ratio at batch 1; throughput ratio for a batch (what a batch user feels).
                string ratio = own is null || s.Peer == baseline ? "1" :
                    batch == 1 ? (s.P50 / own.P50).ToString("F2", Inv) + "×" : (own.Rate / s.Rate).ToString("F2", Inv) + "×";
                string[] cells = [$"batch {batch}, {threads} thread{(threads > 1 ? "s" : "")}", s.Peer, s.Rounds.ToString(Inv),
                    s.P50.ToString("F2", Inv), s.P90.ToString("F2", Inv), Optional(s.P99, "F2"), Optional(s.Cpu, "F3"),
                    s.Rate.ToString("F1", Inv),
                    s.Allocated < 0 ? "n/a" : s.Allocated.ToString("F1", Inv), ratio];
                text.AppendLine(markdown ? "| " + string.Join(" | ", cells) + " |" : string.Join("  ", cells));
            }
        }
        return text.ToString();
    }

    /// <summary>The <see cref="PeerResult.Network"/> of Efficient-CapsNet's peers.</summary>
    public const string EfficientNetwork = "efficient";

    /// <summary>ONNX Runtime on the Efficient-CapsNet graph <c>capsnet export</c> writes (batch norm folded).</summary>
    public const string EfficientOnnxName = "ONNX Runtime (Efficient-CapsNet)";

    // Each peer's ratio is to the generated model of its own network.
    private static string BaselineOf(string? network) =>
        network == EfficientNetwork ? GeneratedPeer.EfficientName : GeneratedPeer.PaperName;

    // −1 marks a figure a peer did not report.
    private static string Optional(double value, string format) => value < 0 ? "n/a" : value.ToString(format, Inv);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string CpuName()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return RuntimeInformation.ProcessArchitecture.ToString();
        }
    }

    // The MNIST test digits of the committed fixture (200), repeated to fill the pool; pixels / 255.
    internal static float[] Digits(int count)
    {
        var idx = IdxReader.ReadImages(FindRepositoryFile("tests", "CapsEmbedded.Tests", "Fixtures", "mnist", "t10k-200-images-idx3-ubyte"));
        var images = new float[count * 784];
        for (int k = 0; k < images.Length; k++) images[k] = idx.Pixels[k % idx.Pixels.Length] / 255f;
        return images;
    }

    internal static string FindRepositoryFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string path = Path.Combine([dir.FullName, .. parts]);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"{Path.Combine(parts)} not found above {AppContext.BaseDirectory}");
    }

    private static int PositiveArgument(string[] args, int k) =>
        k < args.Length && int.TryParse(args[k], NumberStyles.None, Inv, out int value) && value > 0
            ? value : throw new ArgumentException($"peers: {args[k - 1]} needs a positive integer");
}
