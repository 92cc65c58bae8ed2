namespace CapsEmbedded.Bench.Peers;

/// <summary>
/// One way of running the paper network that the peer benchmark times: the generated model, ONNX Runtime, and later
/// TorchSharp. <see cref="Prepare"/> sets up one configuration outside the timing; <see cref="Run"/> is the timed call.
/// </summary>
public interface IInferencePeer : IDisposable
{
    /// <summary>Short name for the table, such as "ONNX Runtime".</summary>
    string Name { get; }

    /// <summary>The library's version, as the table names it.</summary>
    string Version { get; }

    /// <summary>Sets up batch size and threads (sessions, worker contexts, input and output buffers).</summary>
    /// <param name="images">[batches · batch, 1, 28, 28] pixels in [0, 1]: several batches, taken in turn by <see cref="Run"/>.</param>
    void Prepare(float[] images, int batch, int threads);

    /// <summary>Classifies the next prepared batch (the first after <see cref="Prepare"/>, then the others in turn, cyclically).</summary>
    void Run();

    /// <summary>The capsule lengths of the last <see cref="Run"/>, [batch, classes], for a cross-check of the peers.</summary>
    ReadOnlySpan<float> Lengths { get; }
}
