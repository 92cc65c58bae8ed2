using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using CapsEmbedded.Kernels;
using CapsEmbedded.CommandLine;
using CapsEmbedded.Models;
using CapsEmbedded.Runtime;

namespace CapsEmbedded.Cli.Commands;

/// <summary>
/// <c>capsnet bench</c>: latency percentiles, throughput and allocated bytes of a compiled model (<c>--model</c>, through
/// its generated Session), in the JIT or in the NativeAOT binary, on synthetic images (no data download) or, with
/// <c>--data</c>, on a data set's test images.
/// Each call takes the next batch of a pool of images: the model skips the zero columns of conv1's output, so its
/// time depends on the image, and one image timed over and over would not be a fair sample.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var chosen = new ModelOptions();
        var warmup = new Option<int>("--warmup")
        {
            Description = "Untimed calls first (enough for the JIT to reach its optimised tier)",
            DefaultValueFactory = _ => 100,
        };
        var runs = new Option<int>("--runs", "-n") { Description = "Timed calls", DefaultValueFactory = _ => 200 };
        var threads = ToolOptions.Threads(
            "Worker threads: a batch is spread over them; with --batch 1 one image is split over them (1 = the one-thread Predict)",
            fallback: 1);
        var batch = new Option<int>("--batch") { Description = "Images per call", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "One JSON object instead of text" };
        var tier = new Option<SimdTier?>("--tier")
        {
            Description = "Force a SIMD tier (Scalar, Vector128, Vector256, Vector512); default: the best this machine has",
        };
        var data = new Option<string?>("--data", "-d")
        {
            Description = "Time test images of mnist, fashion (each also picks its model unless --model or --weights is given) or a folder with the four IDX files, taken in turn; default: synthetic images",
        };
        var dataDir = ToolOptions.DataDir();
        var worstCase = new Option<bool>("--worst-case")
        {
            Description = "Time the worst-case input instead: an image searched to leave the fewest zero columns of conv1's output to skip (the count is printed)",
        };
        var command = new Command("bench", "Time the compiled model: p50/p90/p99/p99.9/max latency, images/s, bytes allocated per image")
        {
            chosen.Model, chosen.Weights, warmup, runs, threads, batch, json, tier, chosen.Precision, data, dataDir, worstCase, chosen.Residency,
        };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            var settings = new BenchSettings(
                AtMost(CommonOptions.NonNegative(parse.GetValue(warmup), "--warmup"), MaxCalls, "--warmup"),
                AtMost(CommonOptions.Positive(parse.GetValue(runs), "--runs"), MaxCalls, "--runs"),
                CommonOptions.ThreadCount(parse.GetValue(threads)),
                CommonOptions.Positive(parse.GetValue(batch), "--batch"),
                parse.GetValue(tier) ?? SimdTiers.Best);
            if (!SimdTiers.IsSupported(settings.Tier))
                throw new CliException($"--tier {settings.Tier} is not supported here; supported: {string.Join(", ", SimdTiers.Supported)}");
            string? path = chosen.WeightsPath(parse);
            string? modelName = chosen.ModelName(parse);
            string? dataSet = parse.GetValue(data);
            bool int8 = chosen.PrecisionOf(parse) == Precision.Int8;
            if (int8 && parse.GetValue(json)) throw new CliException("--json is not available with --precision int8 yet");
            if (int8 && modelName is not null)
                throw new CliException($"--model {modelName} picks a compiled float32 model; --precision int8 times the quantised --weights file against the MNIST one (drop --model)");
            // int8 times its --weights file against the MNIST float32 model; float32 runs --model (or --data's model).
            var compiled = int8 ? CompiledModel.Mnist : ModelChoice.Named(chosen.ModelName(parse, dataSet));
            var a = compiled.Shape;
            CommonOptions.WithinMemory(4.0 * settings.Batch * (a.InputLength + a.Classes + 1), $"--batch {settings.Batch}");
            bool worst = parse.GetValue(worstCase);
            if (worst && dataSet is not null) throw new CliException("--worst-case times one constructed image; drop --data");
            if (worst && int8) throw new CliException("--worst-case is for the float32 model (its zero-column skipping); drop --precision int8");
            bool paper = compiled.Family == CapsNetFamily.Paper;
            if (worst && !paper) throw new CliException($"--worst-case times the paper network's zero-column skipping; {compiled.Name} has none (drop --worst-case)");
            var images = dataSet is null ? SyntheticImages(a.InputLength, PoolSize(settings.Batch))
                : TestImages(dataSet, parse.GetValue(dataDir)!, a, PoolSize(settings.Batch));
            string imagesName = dataSet is null ? "synthetic" : $"{dataSet} test";
            PrimaryZeroColumns? zeroColumns = int8 || !paper ? null
                : new PrimaryZeroColumns(path is null ? compiled.ReadEmbedded() : Weights.CapsNetWeightsFile.Read(File.ReadAllBytes(path), path));
            string? worstLine = null;
            if (worst)
            {
                var (image, count, conv1Zeros, sweeps) = zeroColumns!.WorstCase(settings.Tier);
                images = new float[PoolSize(settings.Batch) * a.InputLength];
                for (int i = 0; i < images.Length; i += image.Length) image.CopyTo(images, i);
                imagesName = $"worst-case ({image.AsSpan().Count(1f)} pixels lit by {sweeps} search sweeps)";
                worstLine = string.Create(CultureInfo.InvariantCulture,
                    $"worst case {count.ZeroColumns:N0} zero columns of {count.Columns:N0} tile-columns, {count.ListedBlocks} of {count.Blocks} k blocks listed, {conv1Zeros:N0} of the conv1 outputs zero")
                    + (count.ListedBlocks == 0 ? ": nothing skipped, the dense bound" : ": some blocks still skip; this is the slowest input found, not the dense bound");
            }
            if (int8)
            {
                parse.InvocationConfiguration.Output.WriteLine(Int8Bench.Run(path, settings, images, imagesName));
                return 0;
            }
            var where = chosen.ResidencyOf(parse);
            using var session = compiled.Open(path, where); // a file of another architecture is refused, naming the mismatch
            var result = Run(session, settings, images) with
            {
                Images = imagesName,
                ZeroColumns = zeroColumns is null ? null : ZeroColumnShares(zeroColumns, images, a.InputLength, settings.Tier),
                Dense = !paper,
                WorstCase = worstLine,
            };
            var output = parse.InvocationConfiguration.Output;
            string source = compiled.SourceOf(path) + ModelChoice.ResidencyNote(path, where);
            output.WriteLine(parse.GetValue(json) ? result.ToJson(source) : result.ToText(source));
            return 0;
        }));
        return command;
    }

    /// <summary>Most calls --runs and --warmup may ask for: a timing each (two with int8) is kept, and 10^6 already take minutes.</summary>
    internal const int MaxCalls = 1_000_000;

    private static int AtMost(int value, int most, string option) =>
        value <= most ? value : throw new CliException($"{option} {value} is more than {most:N0}; use fewer calls");

    internal readonly record struct BenchSettings(int Warmup, int Runs, int Threads, int Batch, SimdTier Tier);

    /// <summary>Images in the pool a bench cycles through: at least 256, a whole number of batches.</summary>
    internal static int PoolSize(int batch) => (PoolImages + batch - 1) / batch * batch;

    private const int PoolImages = 256;

    /// <summary><paramref name="count"/> test images of a data set (from its start, repeated if it has fewer), pixels / 255.</summary>
    private static float[] TestImages(string dataSet, string dataRoot, ModelShape a, int count)
    {
        // A MultiMNIST set (two digits, 36×36) or a one-label set: the same pixels / 255 either way.
        Data.LabeledImageSet set = Data.MultiMnist.MultiMnistStore.IsPairs(dataSet, dataRoot)
            ? Data.MultiMnist.MultiMnistStore.Load(dataSet, dataRoot)
            : Data.DatasetStore.Load(dataSet, Data.DatasetSplit.Test, dataRoot);
        if (set.ImageLength != a.InputLength || set.Count == 0)
            throw new CliException($"--data {dataSet}: {set.Count} images of {set.Rows}×{set.Cols}; the compiled model takes {a.InputSize}×{a.InputSize}");
        var images = new float[count * a.InputLength];
        for (int i = 0; i < count; i++) set.CopyImage(i % set.Count, images.AsSpan(i * a.InputLength, a.InputLength));
        return images;
    }

    /// <summary>
    /// The share of the primary GEMM's tile-columns that are zero (skipped) per image of the pool: the least, median and
    /// largest, which bound how much the time can depend on the image.
    /// </summary>
    private static (double Min, double Median, double Max) ZeroColumnShares(PrimaryZeroColumns counter, float[] images, int inputLength, SimdTier tier)
    {
        var shares = new List<double>();
        for (int i = 0; i < images.Length; i += inputLength)
        {
            var count = counter.Count(images.AsSpan(i, inputLength), tier).Columns;
            shares.Add(count.Columns == 0 ? 0 : (double)count.ZeroColumns / count.Columns);
        }

        shares.Sort();
        return (shares[0], shares[shares.Count / 2], shares[^1]);
    }

    /// <summary>Minor page faults of this process so far (Linux /proc/self/stat, field 10), or -1 where there is none.</summary>
    internal static long MinorFaults()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], CultureInfo.InvariantCulture); // fields from "state" on: minflt is the 8th
        }
        catch (IOException) { return -1; }
        catch (UnauthorizedAccessException) { return -1; }
    }

    /// <summary>The smallest non-zero step seen between consecutive Stopwatch readings, in nanoseconds: the clock's practical resolution.</summary>
    private static double TimerStepNanoseconds()
    {
        long smallest = long.MaxValue;
        for (int i = 0; i < 1000; i++)
        {
            long t0 = Stopwatch.GetTimestamp(), t1;
            do t1 = Stopwatch.GetTimestamp(); while (t1 == t0);
            smallest = Math.Min(smallest, t1 - t0);
        }

        return smallest * 1e9 / Stopwatch.Frequency;
    }

    /// <summary>Times <paramref name="settings"/>' calls, each on the next batch of <paramref name="images"/> (a whole number of batches).</summary>
    internal static BenchResult Run(ICapsNetSession session, BenchSettings settings, float[] images)
    {
        var ticks = new long[settings.Runs];
        var cpuTicks = new long[settings.Runs]; // the process's CPU time per call (TimeSpan ticks): work, against wall time's waits
        using var model = new ModelCall(session, settings, images);
        bool single = model.Single;

        for (int i = 0; i < settings.Warmup; i++) model.Call();
        _ = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp()); // Stopwatch's first use allocates (seen under NativeAOT)
        double timerStep = TimerStepNanoseconds();
        long faultsBefore = MinorFaults();
        long allocatedBefore = AllocatedBytes(single);
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < settings.Runs; i++)
        {
            long cpu0 = Environment.CpuUsage.TotalTime.Ticks;
            long t0 = Stopwatch.GetTimestamp();
            model.Call();
            ticks[i] = Stopwatch.GetTimestamp() - t0;
            cpuTicks[i] = Environment.CpuUsage.TotalTime.Ticks - cpu0;
        }
        double totalSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long allocated = AllocatedBytes(single) - allocatedBefore;
        long faultsAfter = MinorFaults();

        Array.Sort(ticks);
        Array.Sort(cpuTicks);
        double CpuMs(double p) => cpuTicks[Math.Min(cpuTicks.Length - 1, (int)Math.Ceiling(p * cpuTicks.Length) - 1)] / (double)TimeSpan.TicksPerMillisecond;
        return new BenchResult(settings, settings.Tier.ToString(),
            Milliseconds(ticks, 0.50), Milliseconds(ticks, 0.90), Milliseconds(ticks, 0.99),
            settings.Runs * (double)settings.Batch / totalSeconds,
            (double)allocated / (settings.Runs * (double)settings.Batch))
        {
            Model = session.ModelName,
            MultiplyAdds = session.Shape.MultiplyAdds,
            P999Ms = Milliseconds(ticks, 0.999),
            MaxMs = Milliseconds(ticks, 1.0),
            MinorFaultsPerCall = faultsBefore < 0 ? double.NaN : (double)(faultsAfter - faultsBefore) / settings.Runs,
            TimerStepNs = timerStep,
            CpuP50Ms = CpuMs(0.5),
            CpuP99Ms = CpuMs(0.99),
        };
    }

    /// <summary>
    /// Synthetic images: a fixed pseudo-random speckle (a fifth of the pixels lit). The time per image depends on the
    /// image (zero columns are skipped), so `--data mnist` times what a digit really costs.
    /// </summary>
    internal static float[] SyntheticImages(int inputLength, int count)
    {
        var random = new DeterministicRandom(2017);
        var images = new float[count * inputLength];
        for (int i = 0; i < images.Length; i++) images[i] = random.NextDouble() < 0.2 ? (float)random.NextDouble() : 0f;
        return images;
    }

    /// <summary>One thread: exactly this thread's allocations. Otherwise the whole process's (the workers are other threads).</summary>
    internal static long AllocatedBytes(bool thisThreadOnly) =>
        thisThreadOnly ? GC.GetAllocatedBytesForCurrentThread() : GC.GetTotalAllocatedBytes(precise: true);

    /// <summary>The <paramref name="p"/> quantile of <paramref name="sortedTicks"/> (Stopwatch ticks, sorted) in milliseconds.</summary>
    internal static double Milliseconds(long[] sortedTicks, double p) =>
        sortedTicks[Math.Min(sortedTicks.Length - 1, (int)Math.Ceiling(p * sortedTicks.Length) - 1)] * 1e3 / Stopwatch.Frequency;

    /// <summary>
    /// One timed call of a model (its session, set to <c>settings.Tier</c>: the compiled float32 model or the int8 one) on
    /// <c>settings.Batch</c> images: the one-thread Predict, one image split over the threads (batch 1; the int8 model runs
    /// it on one), or PredictBatch over the threads.
    /// </summary>
    internal sealed class ModelCall : IDisposable
    {
        private readonly ICapsNetSession _session;
        private readonly BenchSettings _settings;
        private readonly float[] _images;
        private readonly int _batchFloats;
        private int _next;
        private readonly float[] _lengths;
        private readonly int[] _predicted;
        private readonly BatchContext _context;

        public ModelCall(ICapsNetSession session, BenchSettings settings, float[] images)
        {
            (_session, _settings, _images) = (session, settings, images);
            _batchFloats = settings.Batch * session.Shape.InputLength;
            if (images.Length == 0 || images.Length % _batchFloats != 0)
                throw new ArgumentException($"{images.Length} floats are not a whole number of batches of {settings.Batch} images", nameof(images));
            session.Tier = settings.Tier;
            _lengths = new float[settings.Batch * session.Shape.Classes];
            _predicted = new int[settings.Batch];
            _context = session.CreateBatchContext(settings.Threads);
        }

        /// <summary>Batch 1 on 1 thread: the calling thread does all the work.</summary>
        public bool Single => _settings.Batch == 1 && _settings.Threads == 1;

        /// <summary>Runs the model on the next batch of the pool.</summary>
        public void Call()
        {
            var images = _images.AsSpan(_next, _batchFloats);
            _next = (_next + _batchFloats) % _images.Length;
            if (Single) _session.Predict(images, _lengths);
            else if (_settings.Batch == 1) _session.Predict(_context, images, _lengths); // one image split over the threads
            else _session.PredictBatch(images, _lengths, _predicted, _context);
        }

        public void Dispose() => _context.Dispose(); // the session is the caller's
    }

    internal sealed record BenchResult(BenchSettings Settings, string Tier, double P50Ms, double P90Ms, double P99Ms,
        double ImagesPerSecond, double AllocatedBytesPerImage)
    {
        /// <summary>What was timed: "synthetic" or "&lt;data set&gt; test".</summary>
        public string Images { get; init; } = "synthetic";

        /// <summary>The generated class that ran, e.g. "MnistCapsNet".</summary>
        public required string Model { get; init; }

        /// <summary>Its multiply-adds per image (dense: the zero columns it skips are counted).</summary>
        public required long MultiplyAdds { get; init; }

        /// <summary>True for a network that skips no work (Efficient-CapsNet): its GFLOP/s are plain, not dense-equivalent.</summary>
        public bool Dense { get; init; }

        /// <summary>The 99.9th percentile and the slowest call (with fewer than 1,000 runs p99.9 is the slowest).</summary>
        public double P999Ms { get; init; } = double.NaN;

        public double MaxMs { get; init; } = double.NaN;

        /// <summary>Minor page faults of the process per timed call (NaN where /proc is missing): steady state is 0.</summary>
        public double MinorFaultsPerCall { get; init; } = double.NaN;

        /// <summary>
        /// The process's CPU time per call (all its threads, spinning included), p50 and p99: when wall time's p99/p50
        /// is far above CPU time's, the tail is waiting (preemption, a worker's wake-up), not work that varies.
        /// </summary>
        public double CpuP50Ms { get; init; } = double.NaN;

        public double CpuP99Ms { get; init; } = double.NaN;

        /// <summary>The clock's smallest observed step, ns.</summary>
        public double TimerStepNs { get; init; } = double.NaN;

        /// <summary>Least, median and largest share of the primary GEMM's tile-columns skipped as zero, over the pool's distinct images.</summary>
        public (double Min, double Median, double Max)? ZeroColumns { get; init; }

        /// <summary>The --worst-case input's zero-column count, printed as proof that nothing is skipped.</summary>
        public string? WorstCase { get; init; }

        private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
        // Not RuntimeFeature.IsDynamicCodeSupported: PublishAot sets that switch to false in the JIT build's runtimeconfig
        // too (for the trim analysis), so both builds said NativeAOT. NativeAOT compiles nothing at run time.
        private static string Runtime => System.Runtime.JitInfo.GetCompiledMethodCount() > 0 ? "JIT" : "NativeAOT";
        private double GflopPerSecond(double ms) => 2e-6 * MultiplyAdds / ms;

        public string ToText(string weights) => string.Join(Environment.NewLine,
            $"model      {Model} ({MultiplyAdds:N0} multiply-adds per image), weights {weights}",
            $"runtime    {RuntimeInformation.FrameworkDescription} {Runtime}, {RuntimeInformation.OSArchitecture}, {Environment.ProcessorCount} cores, SIMD tier {Tier} ({SimdTiers.InstructionSet(Settings.Tier)})",
            $"settings   batch {Settings.Batch}, threads {Settings.Threads}, {Settings.Warmup} warm-up + {Settings.Runs} timed calls, {Images} images",
            string.Create(Inv, $"latency    p50 {P50Ms:F3} ms, p90 {P90Ms:F3} ms, p99 {P99Ms:F3} ms, p99.9 {P999Ms:F3} ms, max {MaxMs:F3} ms per call"),
            string.Create(Inv, $"tail       p90/p50 {P90Ms / P50Ms:F2}, p99/p50 {P99Ms / P50Ms:F2}, p99.9/p50 {P999Ms / P50Ms:F2}; {MinorFaultsPerCall:F2} minor page faults per call; clock step {TimerStepNs:F0} ns"),
            string.Create(Inv, $"cpu time   p50 {CpuP50Ms:F3} ms, p99 {CpuP99Ms:F3} ms per call (p99/p50 {CpuP99Ms / CpuP50Ms:F2}; the process's threads, spinning included)"),
            Dense
                ? string.Create(Inv, $"throughput {ImagesPerSecond:F1} images/s ({GflopPerSecond(P50Ms / Settings.Batch):F1} GFLOP/s at p50)")
                : string.Create(Inv, $"throughput {ImagesPerSecond:F1} images/s ({GflopPerSecond(P50Ms / Settings.Batch):F1} dense-equivalent GFLOP/s at p50: zero columns are skipped)"),
            ZeroColumns is { } z
                ? string.Create(Inv, $"zero cols  {z.Min:P1} / {z.Median:P1} / {z.Max:P1} (least / median / most) of the primary GEMM's tile-columns skipped, per image")
                : Dense ? "zero cols  none skipped (the network has no zero-column skipping)" : "zero cols  not counted",
            WorstCase ?? "worst case not timed (--worst-case times the input found to skip least)",
            string.Create(Inv, $"allocated  {AllocatedBytesPerImage:F1} bytes per image"));

        public string ToJson(string weights)
        {
            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteString("model", Model);
                json.WriteString("weights", weights);
                json.WriteString("runtime", Runtime);
                json.WriteString("framework", RuntimeInformation.FrameworkDescription);
                json.WriteNumber("cores", Environment.ProcessorCount);
                json.WriteString("tier", Tier);
                json.WriteNumber("batch", Settings.Batch);
                json.WriteNumber("threads", Settings.Threads);
                json.WriteNumber("warmup", Settings.Warmup);
                json.WriteNumber("runs", Settings.Runs);
                json.WriteString("images", Images);
                Number(json, "p50_ms", P50Ms);
                Number(json, "p90_ms", P90Ms);
                Number(json, "p99_ms", P99Ms);
                Number(json, "p999_ms", P999Ms);
                Number(json, "max_ms", MaxMs);
                Number(json, "minor_faults_per_call", MinorFaultsPerCall);
                Number(json, "timer_step_ns", TimerStepNs);
                Number(json, "cpu_p50_ms", CpuP50Ms);
                Number(json, "cpu_p99_ms", CpuP99Ms);
                if (ZeroColumns is { } z)
                {
                    Number(json, "zero_column_share_min", z.Min);
                    Number(json, "zero_column_share_median", z.Median);
                    Number(json, "zero_column_share_max", z.Max);
                }
                if (WorstCase is not null) json.WriteString("worst_case", WorstCase);
                Number(json, "images_per_second", ImagesPerSecond);
                // Last, as it always was: scripts match its closing brace.
                Number(json, "allocated_bytes_per_image", AllocatedBytesPerImage);
                json.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        // JSON has no NaN or infinity (a run too short for the clock gives one): null says "not measured".
        private static void Number(Utf8JsonWriter json, string name, double value)
        {
            if (double.IsFinite(value)) json.WriteNumber(name, value);
            else json.WriteNull(name);
        }
    }
}
