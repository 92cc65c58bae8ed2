using System.Text;
using CapsEmbedded.Generator.Tests.Generated;
using CapsEmbedded.Interop;
using CapsEmbedded.Weights;

namespace CapsEmbedded.Generator.Tests.Native;

/// <summary>
/// The generated C exports (TinyCapsNet's <c>tiny_caps_*</c>) called through unmanaged function pointers: results equal
/// to the managed Predict, every error path (NULL, short buffer, wrong length, bad file, wrong architecture, stale handle)
/// gives its status and a message naming the problem, and the handle API is safe across threads.
/// </summary>
public sealed class NativeExportsTests : IDisposable
{
    private readonly nint _weights;
    private readonly nint _workspace;

    public NativeExportsTests()
    {
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsEmbedded(out _weights));
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceCreate(out _workspace));
        Assert.NotEqual(0, _weights);
        Assert.NotEqual(0, _workspace);
    }

    public void Dispose()
    {
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceFree(_workspace));
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(_weights));
    }

    private static float[] Image(int seed) => TestData.RandomImage(TinyCapsNet.InputLength, (ulong)seed);

    private static void AssertError(int expectedStatus, int status, params string[] messageParts)
    {
        Assert.Equal(expectedStatus, status);
        string message = TinyApi.LastError();
        foreach (var part in messageParts) Assert.Contains(part, message);
    }

    // ---- Results ---------------------------------------------------------------------------------------------

    [Fact]
    public void Predict_capsules_and_reconstruct_equal_the_managed_Predict_bit_for_bit()
    {
        using var workspace = new TinyCapsNet.Workspace();
        for (int k = 0; k < 20; k++)
        {
            var image = Image(k + 1);
            var lengths = new float[TinyCapsNet.Classes];
            var capsules = new float[TinyCapsNet.DecoderInput];
            var reconstruction = new float[TinyCapsNet.DecoderOutput];
            int expected = TinyCapsNet.Predict(TinyCapsNet.Weights.Embedded, workspace, image, lengths, capsules, reconstruction);

            var nativeLengths = new float[TinyCapsNet.Classes];
            var nativeCapsules = new float[TinyCapsNet.DecoderInput];
            var nativeReconstruction = new float[TinyCapsNet.DecoderOutput];
            Assert.Equal(expected, TinyApi.Predict(_weights, _workspace, image, nativeLengths));
            Assert.Equal(expected, TinyApi.Capsules(_weights, _workspace, image, nativeCapsules));
            Assert.Equal(expected, TinyApi.Reconstruct(_weights, _workspace, image, nativeReconstruction));
            Assert.Equal(lengths, nativeLengths);
            Assert.Equal(capsules, nativeCapsules);
            Assert.Equal(reconstruction, nativeReconstruction);
        }
    }

    [Fact]
    public void PredictBatch_equals_one_Predict_per_image_and_returns_the_count()
    {
        const int count = 7;
        var images = new float[count * TinyCapsNet.InputLength];
        for (int i = 0; i < count; i++) Image(100 + i).CopyTo(images, i * TinyCapsNet.InputLength);
        var lengths = new float[count * TinyCapsNet.Classes];
        var classes = new int[count];
        Assert.Equal(count, TinyApi.PredictBatch(_weights, _workspace, images, count, lengths, classes));
        for (int i = 0; i < count; i++)
        {
            var one = new float[TinyCapsNet.Classes];
            Assert.Equal(classes[i], TinyApi.Predict(_weights, _workspace, Image(100 + i), one));
            Assert.Equal(one, lengths.AsSpan(i * TinyCapsNet.Classes, TinyCapsNet.Classes).ToArray());
        }
    }

    [Fact]
    public void PredictTop_writes_TopK_Longest_of_predicts_lengths_and_returns_predicts_class()
    {
        for (int seed = 1; seed <= 20; seed++)
        {
            var image = Image(seed);
            var expectedLengths = new float[TinyCapsNet.Classes];
            int expectedClass = TinyApi.Predict(_weights, _workspace, image, expectedLengths);
            Assert.True(expectedClass >= 0, TinyApi.LastError());
            for (int k = 1; k <= TinyCapsNet.Classes; k++)
            {
                var expected = new int[k];
                CapsEmbedded.Runtime.TopK.Longest(expectedLengths, expected);
                var lengths = new float[TinyCapsNet.Classes];
                var classes = Enumerable.Repeat(-7, k + 1).ToArray(); // one more than k: the call must not write it
                Assert.Equal(expectedClass, TinyApi.PredictTop(_weights, _workspace, image, lengths, classes, k));
                Assert.Equal(expectedLengths, lengths);
                Assert.Equal(expected, classes[..k]);
                Assert.Equal(expectedClass, classes[0]);
                Assert.Equal(-7, classes[k]);
                for (int r = 1; r < k; r++) Assert.True(lengths[classes[r - 1]] >= lengths[classes[r]]);
            }
        }
    }

    [Fact]
    public void PredictTop_errors_give_their_status_and_message_and_write_no_classes()
    {
        var image = Image(6);
        var lengths = new float[TinyCapsNet.Classes];
        var classes = new[] { -7, -7, -7, -7 };
        AssertError(NativeStatus.InvalidArgument, TinyApi.PredictTop(_weights, _workspace, image, lengths, classes, k: 0),
            "tiny_caps_predict_top: k is 0; it must be 1 .. 3 (the number of classes)");
        AssertError(NativeStatus.InvalidArgument, TinyApi.PredictTop(_weights, _workspace, image, lengths, classes, k: 4),
            "tiny_caps_predict_top: k is 4; it must be 1 .. 3");
        AssertError(NativeStatus.InvalidArgument, TinyApi.PredictTop(_weights, _workspace, image, lengths, null, k: 0), "k is 0");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictTop(_weights, _workspace, image, lengths, null, k: 2),
            "tiny_caps_predict_top: classes is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictTop(_weights, _workspace, image, null, classes, k: 2, lengthsCapacity: 3),
            "tiny_caps_predict_top: lengths is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictTop(_weights, _workspace, null, lengths, classes, k: 2), "image is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictTop(0, _workspace, image, lengths, classes, k: 2), "weights is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictTop(_weights, 0, image, lengths, classes, k: 2), "workspace is NULL");
        AssertError(NativeStatus.InvalidHandle, TinyApi.PredictTop(_workspace, _weights, image, lengths, classes, k: 2),
            "weights is not a live weights handle");
        AssertError(NativeStatus.BufferTooSmall,
            TinyApi.PredictTop(_weights, _workspace, image, lengths, classes, k: 2, lengthsCapacity: TinyCapsNet.Classes - 1),
            "tiny_caps_predict_top: lengths has room for 2 values; 3 are needed");
        image[7] = float.NaN;
        AssertError(NativeStatus.InvalidArgument, TinyApi.PredictTop(_weights, _workspace, image, lengths, classes, k: 2),
            "tiny_caps_predict_top: image value 7 is NaN");
        Assert.All(classes, c => Assert.Equal(-7, c));
        Assert.All(lengths, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_loaded_file_predicts_like_the_embedded_weights()
    {
        AssertLoadedFilePredictsLike(TestData.PathOf("Weights", "tiny.safetensors"), 5,
            (image, lengths) => TinyApi.Predict(_weights, _workspace, image, lengths));
    }

    /// <summary>
    /// Loads <paramref name="path"/> through tiny_caps_weights_load and asserts that it predicts image
    /// <paramref name="seed"/> as <paramref name="reference"/> does (class and lengths, bit for bit), then frees it.
    /// </summary>
    private void AssertLoadedFilePredictsLike(string path, int seed, Func<float[], float[], int> reference)
    {
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsLoad(path, out nint loaded));
        try
        {
            var image = Image(seed);
            var expected = new float[TinyCapsNet.Classes];
            var actual = new float[TinyCapsNet.Classes];
            Assert.Equal(reference(image, expected), TinyApi.Predict(loaded, _workspace, image, actual));
            Assert.Equal(expected, actual);
        }
        finally
        {
            Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(loaded));
        }
    }

    [Fact]
    public void Queries_report_the_model()
    {
        Assert.Equal(TinyCapsNet.InputSize, TinyApi.Size(1));
        Assert.Equal(TinyCapsNet.InputChannels, TinyApi.Size(2));
        Assert.Equal(TinyCapsNet.InputLength, TinyApi.Size(3));
        Assert.Equal(TinyCapsNet.Classes, TinyApi.Size(4));
        Assert.Equal(TinyCapsNet.ClassDims, TinyApi.Size(5));
        Assert.Equal(TinyCapsNet.DecoderInput, TinyApi.Size(6));
        Assert.Equal(TinyCapsNet.DecoderOutput, TinyApi.Size(7));
        Assert.Equal(TinyCapsNet.ScratchLength * sizeof(float), TinyApi.Size(8));
        AssertError(NativeStatus.InvalidArgument, (int)TinyApi.Size(0), "tiny_caps_size", "unknown size query 0");
        AssertError(NativeStatus.InvalidArgument, (int)TinyApi.Size(9), "unknown size query 9");
        // The generator's version, which is the package's (Directory.Build.props' VersionPrefix, major.minor.patch).
        Assert.Equal(typeof(TinyCapsNet).Assembly.GetName().Version!.ToString(3), TinyApi.Version());
        Assert.Equal(TinyCapsNet.ActiveTier.ToString(), TinyApi.SimdTier());
    }

    // ---- Error paths -----------------------------------------------------------------------------------------

    [Fact]
    public void Null_pointers_are_errors_that_name_the_parameter()
    {
        var image = Image(1);
        var lengths = new float[TinyCapsNet.Classes];
        AssertError(NativeStatus.NullArgument, TinyApi.Predict(0, _workspace, image, lengths), "tiny_caps_predict", "weights is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.Predict(_weights, 0, image, lengths), "workspace is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.Predict(_weights, _workspace, null, lengths, imageLength: TinyCapsNet.InputLength), "image is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.Predict(_weights, _workspace, image, null, lengthsCapacity: 10), "lengths is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.Capsules(_weights, _workspace, image, null), "tiny_caps_capsules", "capsules is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.Reconstruct(_weights, _workspace, image, null), "tiny_caps_reconstruct", "reconstruction is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictBatch(_weights, _workspace, null, 1, new float[3], new int[1]), "images is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.PredictBatch(_weights, _workspace, image, 1, new float[3], null), "classes is NULL");
        AssertError(NativeStatus.NullArgument, TinyApi.WeightsLoad(null, out _), "tiny_caps_weights_load", "path is NULL");
        unsafe
        {
            AssertError(NativeStatus.NullArgument, ((delegate* unmanaged<nint, int>)&TinyCapsNet.NativeExports.WeightsEmbedded)(0), "weights_out is NULL");
            AssertError(NativeStatus.NullArgument, ((delegate* unmanaged<nint, int>)&TinyCapsNet.NativeExports.WorkspaceCreate)(0), "workspace_out is NULL");
        }
        // Freeing NULL is a no-op, as free(NULL) is.
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(0));
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceFree(0));
    }

    [Fact]
    public void Short_buffers_and_wrong_image_lengths_are_errors_and_nothing_is_written()
    {
        var image = Image(2);
        var lengths = Enumerable.Repeat(-7f, TinyCapsNet.Classes).ToArray();
        AssertError(NativeStatus.BufferTooSmall, TinyApi.Predict(_weights, _workspace, image, lengths, lengthsCapacity: TinyCapsNet.Classes - 1),
            "lengths has room for 2 values; 3 are needed");
        Assert.All(lengths, v => Assert.Equal(-7f, v));
        AssertError(NativeStatus.InvalidArgument, TinyApi.Predict(_weights, _workspace, image, lengths, imageLength: TinyCapsNet.InputLength - 1),
            "image_length is 99; this model takes 100");
        AssertError(NativeStatus.BufferTooSmall, TinyApi.Capsules(_weights, _workspace, image, new float[TinyCapsNet.DecoderInput - 1]), "capsules has room for 11");
        AssertError(NativeStatus.BufferTooSmall, TinyApi.Reconstruct(_weights, _workspace, image, new float[TinyCapsNet.DecoderOutput - 1]), "reconstruction has room for 99");
        var images = new float[2 * TinyCapsNet.InputLength];
        AssertError(NativeStatus.BufferTooSmall, TinyApi.PredictBatch(_weights, _workspace, images, 2, new float[5], new int[2]), "lengths has room for 5 values; 6");
        AssertError(NativeStatus.BufferTooSmall, TinyApi.PredictBatch(_weights, _workspace, images, 2, new float[6], new int[1]), "classes has room for 1");
        AssertError(NativeStatus.InvalidArgument, TinyApi.PredictBatch(_weights, _workspace, images, long.MaxValue, new float[6], new int[2]), "image_count");
    }

    [Fact]
    public void NaN_or_infinite_pixels_are_invalid_arguments_naming_the_value_and_give_no_class()
    {
        var lengths = Enumerable.Repeat(-7f, TinyCapsNet.Classes).ToArray();
        var image = Image(3);
        image[5] = float.NaN;
        AssertError(NativeStatus.InvalidArgument, TinyApi.Predict(_weights, _workspace, image, lengths), "tiny_caps_predict", "image value 5 is NaN");
        Assert.All(lengths, v => Assert.Equal(-7f, v));
        image[5] = 0;
        image[^1] = float.PositiveInfinity;
        AssertError(NativeStatus.InvalidArgument, TinyApi.Capsules(_weights, _workspace, image, new float[TinyCapsNet.DecoderInput]), "image value 99 is Infinity");
        AssertError(NativeStatus.InvalidArgument, TinyApi.Reconstruct(_weights, _workspace, image, new float[TinyCapsNet.DecoderOutput]), "image value 99 is Infinity");
        var images = new float[2 * TinyCapsNet.InputLength];
        images[TinyCapsNet.InputLength + 1] = float.NegativeInfinity;
        AssertError(NativeStatus.InvalidArgument, TinyApi.PredictBatch(_weights, _workspace, images, 2, new float[6], new int[2]),
            "tiny_caps_predict_batch", "images value 101 is -Infinity");
    }

    [Fact]
    public void Finite_weights_that_overflow_on_an_image_give_a_non_finite_output_error_not_class_0()
    {
        // 3.4e38 is finite, so the file loads; conv1 overflows to ∞ and every length becomes NaN.
        var weights = CapsNetWeightsFile.Load(TestData.PathOf("Weights", "tiny.safetensors"));
        Array.Fill(weights.Conv1Weight, 3.4e38f);
        string path = Path.Combine(Path.GetTempPath(), $"capsnet-huge-{Guid.NewGuid()}.safetensors");
        File.WriteAllBytes(path, CapsNetWeightsFile.Write(weights));
        try
        {
            Assert.Equal(NativeStatus.Ok, TinyApi.WeightsLoad(path, out nint huge));
            try
            {
                var image = Image(4);
                AssertError(NativeStatus.NonFiniteOutput, TinyApi.Predict(huge, _workspace, image, new float[TinyCapsNet.Classes]),
                    "tiny_caps_predict", "non-finite capsule lengths");
                var top = new[] { -7, -7 };
                AssertError(NativeStatus.NonFiniteOutput, TinyApi.PredictTop(huge, _workspace, image, new float[TinyCapsNet.Classes], top),
                    "tiny_caps_predict_top", "non-finite capsule lengths");
                Assert.All(top, c => Assert.Equal(-7, c));
                AssertError(NativeStatus.NonFiniteOutput, TinyApi.Capsules(huge, _workspace, image, new float[TinyCapsNet.DecoderInput]), "tiny_caps_capsules");
                AssertError(NativeStatus.NonFiniteOutput, TinyApi.Reconstruct(huge, _workspace, image, new float[TinyCapsNet.DecoderOutput]), "tiny_caps_reconstruct");
                var images = new float[2 * TinyCapsNet.InputLength];
                image.CopyTo(images, TinyCapsNet.InputLength); // image 0 is black: only conv1's bias, finite
                AssertError(NativeStatus.NonFiniteOutput, TinyApi.PredictBatch(huge, _workspace, images, 2, new float[6], new int[2]),
                    "tiny_caps_predict_batch", "gave image 1 non-finite");
            }
            finally
            {
                Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(huge));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void An_F16_or_BF16_file_loads_and_predicts_like_its_widened_float32_weights(string dtype)
    {
        var widened = CapsNetWeightsFile.Read(CapsNetWeightsFile.Write(
            CapsNetWeightsFile.Load(TestData.PathOf("Weights", "tiny.safetensors")), dtype), "narrow");
        string path = Path.Combine(Path.GetTempPath(), $"capsnet-{dtype}-{Guid.NewGuid()}.safetensors");
        File.WriteAllBytes(path, CapsNetWeightsFile.Write(widened, dtype));
        try
        {
            using var managed = TinyCapsNet.Weights.FromWeights(widened);
            using var workspace = new TinyCapsNet.Workspace();
            AssertLoadedFilePredictsLike(path, 7, (image, lengths) => TinyCapsNet.Predict(managed, workspace, image, lengths));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Class_names_come_from_the_weights_and_are_truncated_at_a_character_boundary()
    {
        // The embedded tiny file has no capsnet.class_names: the names are the class numbers.
        Assert.Equal(new[] { "0", "1", "2" }, Enumerable.Range(0, 3).Select(j => TinyApi.ClassName(_weights, j)));

        // A loaded file's own names, multi-byte UTF-8 included.
        var named = CapsNetWeightsFile.Load(TestData.PathOf("Weights", "tiny.safetensors"));
        string[] names = { "Kreis", "Größe", "三角形" };
        named.Metadata[CapsNetClassNames.MetadataKey] = CapsNetClassNames.Encode(names);
        string path = Path.Combine(Path.GetTempPath(), $"capsnet-named-{Guid.NewGuid()}.safetensors");
        File.WriteAllBytes(path, CapsNetWeightsFile.Write(named));
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsLoad(path, out nint loaded));
        try
        {
            Assert.Equal(names, Enumerable.Range(0, 3).Select(j => TinyApi.ClassName(loaded, j)));

            // "三角形" is 9 bytes; capacity 5 holds 4 bytes + NUL, cut back to the first whole character (3 bytes).
            var small = Enumerable.Repeat((byte)0xAA, 8).ToArray();
            Assert.Equal(9, TinyApi.ClassName(loaded, 2, small, 5));
            Assert.Equal(Encoding.UTF8.GetBytes("三"), small[..3]);
            Assert.Equal(0, small[3]);
            Assert.Equal(0xAA, small[5]); // nothing past the capacity
            Assert.Equal(7, TinyApi.ClassName(loaded, 1, null, 100)); // NULL buffer: length only ("Größe" is 7 bytes)
            Assert.Equal(0xAA, small[7]);
            Assert.Equal(7, TinyApi.ClassName(loaded, 1, small, 0)); // capacity 0: length only, nothing written
            Assert.Equal(0xAA, small[7]);
        }
        finally
        {
            Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(loaded));
            File.Delete(path);
        }

        AssertError(NativeStatus.InvalidArgument, TinyApi.ClassName(_weights, 3, new byte[16]), "tiny_caps_class_name: class_index 3 is not a class (0 .. 2)");
        AssertError(NativeStatus.InvalidArgument, TinyApi.ClassName(_weights, -1, new byte[16]), "class_index -1 is not a class");
        AssertError(NativeStatus.InvalidHandle, TinyApi.ClassName(_workspace, 0, new byte[16]), "weights is not a live weights handle");
        AssertError(NativeStatus.NullArgument, TinyApi.ClassName(0, 0, new byte[16]), "tiny_caps_class_name: weights is NULL");
    }

    [Fact]
    public void A_missing_file_is_a_file_error()
    {
        string path = Path.Combine(Path.GetTempPath(), "capsnet-no-such-file-" + Guid.NewGuid() + ".safetensors");
        AssertError(NativeStatus.FileError, TinyApi.WeightsLoad(path, out nint handle), "tiny_caps_weights_load", path);
        Assert.Equal(0, handle);
    }

    [Fact]
    public void A_file_that_is_not_safetensors_is_a_format_error_with_the_readers_message()
    {
        string path = Path.Combine(Path.GetTempPath(), "capsnet-garbage-" + Guid.NewGuid() + ".safetensors");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("this is not a weight file at all"));
        try
        {
            int status = TinyApi.WeightsLoad(path, out nint handle);
            Assert.Equal(0, handle);
            string expected;
            try { CapsNetWeightsFile.Load(path); expected = "(the reader accepted it)"; }
            catch (WeightFormatException e) { expected = e.Message; }
            AssertError(NativeStatus.FormatError, status, expected);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_file_of_another_architecture_is_a_wrong_architecture_error_naming_the_difference()
    {
        string path = TestData.PathOf("Weights", "tiny-4-classes.safetensors");
        AssertError(NativeStatus.WrongArchitecture, TinyApi.WeightsLoad(path, out nint handle), "tiny_caps_weights_load: ", "tiny-4-classes.safetensors", "classes is 4, the model's is 3");
        Assert.Equal(0, handle);
    }

    [Fact]
    public void Freed_forged_and_wrong_kind_handles_are_invalid_handle_errors()
    {
        var image = Image(3);
        var lengths = new float[TinyCapsNet.Classes];
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceCreate(out nint workspace));
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceFree(workspace));
        AssertError(NativeStatus.InvalidHandle, TinyApi.Predict(_weights, workspace, image, lengths), "workspace is not a live workspace handle");
        AssertError(NativeStatus.InvalidHandle, TinyApi.WorkspaceFree(workspace), "tiny_caps_workspace_free", "freed twice");
        AssertError(NativeStatus.InvalidHandle, TinyApi.Predict(_workspace, _weights, image, lengths), "weights is not a live weights handle");
        AssertError(NativeStatus.InvalidHandle, TinyApi.Predict(unchecked((nint)0x7fff_1234), _workspace, image, lengths), "weights is not a live weights handle");
        AssertError(NativeStatus.InvalidHandle, TinyApi.WeightsFree(_workspace), "tiny_caps_weights_free");

        // A new handle in the freed slot must not revive the old one.
        Assert.Equal(NativeStatus.Ok, TinyApi.WorkspaceCreate(out nint again));
        try
        {
            Assert.NotEqual(workspace, again);
            AssertError(NativeStatus.InvalidHandle, TinyApi.Predict(_weights, workspace, image, lengths), "workspace is not a live workspace handle");
            Assert.True(TinyApi.Predict(_weights, again, image, lengths) >= 0);
        }
        finally
        {
            TinyApi.WorkspaceFree(again);
        }
    }

    [Fact]
    public void Last_error_is_per_thread_truncated_at_the_capacity_and_reports_the_full_length()
    {
        AssertError(NativeStatus.NullArgument, TinyApi.Predict(0, _workspace, Image(1), new float[3]), "tiny_caps_predict: weights is NULL");
        string message = TinyApi.LastError();
        Assert.Equal("tiny_caps_predict: weights is NULL", message); // the function named once
        int length = Encoding.UTF8.GetByteCount(message);
        var small = Enumerable.Repeat((byte)0xAA, 8).ToArray();
        Assert.Equal((nuint)length, TinyApi.LastError(small, 5));
        Assert.Equal(Encoding.UTF8.GetBytes(message)[..4], small[..4]);
        Assert.Equal(0, small[4]);
        Assert.Equal(0xAA, small[5]); // nothing past the capacity
        Assert.Equal((nuint)length, TinyApi.LastError(null, 100)); // NULL buffer: length only

        // Another thread has its own (empty) message; a successful call does not clear this thread's.
        string other = "unset";
        var thread = new Thread(() => other = TinyApi.LastError());
        thread.Start();
        thread.Join();
        Assert.Equal("", other);
        Assert.True(TinyApi.Predict(_weights, _workspace, Image(1), new float[3]) >= 0);
        Assert.Equal(message, TinyApi.LastError());
    }

    // ---- Threads ---------------------------------------------------------------------------------------------

    [Fact]
    public void Eight_threads_with_a_workspace_each_and_shared_weights_match_the_sequential_results_bit_for_bit()
    {
        const int threads = 8, perThread = 40;
        Assert.Equal(NativeStatus.Ok, TinyApi.WeightsLoad(TestData.PathOf("Weights", "tiny.safetensors"), out nint shared));
        try
        {
            var expectedClasses = new int[threads * perThread];
            var expectedLengths = new float[threads * perThread][];
            for (int n = 0; n < expectedClasses.Length; n++)
            {
                expectedLengths[n] = new float[TinyCapsNet.Classes];
                expectedClasses[n] = TinyApi.Predict(shared, _workspace, Image(1000 + n), expectedLengths[n]);
                Assert.True(expectedClasses[n] >= 0);
            }

            var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
            using var start = new Barrier(threads);
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                if (TinyApi.WorkspaceCreate(out nint workspace) != NativeStatus.Ok) { failures.Enqueue($"thread {t}: create: {TinyApi.LastError()}"); return; }
                start.SignalAndWait();
                var lengths = new float[TinyCapsNet.Classes];
                // Interleave the work: thread t does images t, t+threads, ... so neighbours run concurrently.
                for (int round = 0; round < 3; round++)
                    for (int k = 0; k < perThread; k++)
                    {
                        int n = k * threads + t;
                        int c = TinyApi.Predict(shared, workspace, Image(1000 + n), lengths);
                        if (c != expectedClasses[n] || !lengths.AsSpan().SequenceEqual(expectedLengths[n]))
                            failures.Enqueue($"thread {t}, image {n}: class {c} vs {expectedClasses[n]}");
                    }
                if (TinyApi.WorkspaceFree(workspace) != NativeStatus.Ok) failures.Enqueue($"thread {t}: free: {TinyApi.LastError()}");
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            Assert.Empty(failures);
        }
        finally
        {
            Assert.Equal(NativeStatus.Ok, TinyApi.WeightsFree(shared));
        }
    }
}
