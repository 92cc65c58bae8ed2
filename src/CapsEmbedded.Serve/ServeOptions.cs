using System.Net;
using CapsEmbedded.Data;
using CapsEmbedded.Models;

namespace CapsEmbedded.Serve;

/// <summary>The command line of <c>capsnet serve</c> / <c>capsnet-serve</c>; <see cref="Parse"/> names any bad argument in one line.</summary>
/// <param name="Host">The address to listen on (loopback unless given).</param>
/// <param name="Port">The port (0: any free one, printed when listening).</param>
/// <param name="Model">The compiled model served: one of <see cref="CompiledModel.Names"/> (mnist, fashion, multimnist).</param>
/// <param name="Data">The data set whose test images the page loads: mnist, fashion, multimnist, or a folder of IDX files.</param>
/// <param name="DataDir">The folder fetched data sets are in.</param>
/// <param name="Weights">A weight file of the paper architecture to serve instead of the model's embedded weights.</param>
internal sealed record ServeOptions(IPAddress Host, int Port, string Model, string Data, string DataDir, string? Weights)
{
    public const string Usage = "usage: capsnet serve [--port N (default 5280; 0 = any free)] [--host 127.0.0.1] [--model mnist|fashion|multimnist] [--data mnist|fashion|multimnist|DIR] [--data-dir DIR] [--weights FILE]";

    /// <summary>
    /// Parses the arguments. As in capsnet's other commands, <c>--model</c> defaults to the model of <c>--data mnist|fashion|multimnist</c>
    /// when no <c>--weights</c> is given (else mnist), and <c>--data</c> to the data set of the model.
    /// </summary>
    public static ServeOptions Parse(IReadOnlyList<string> args)
    {
        var host = IPAddress.Loopback;
        int port = 5280;
        string dataDir = DataPaths.DefaultRoot;
        string? data = null, model = null, weights = null;
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help") throw new ArgumentException(Usage);
            if (i + 1 >= args.Count) throw new ArgumentException($"{name} needs a value ({Usage})");
            string value = args[++i];
            switch (name)
            {
                case "--port":
                    if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port > 65535)
                        throw new ArgumentException($"--port must be 0..65535, got '{value}'");
                    break;
                case "--host":
                    host = value == "localhost" ? IPAddress.Loopback
                        : IPAddress.TryParse(value, out var parsed) ? parsed
                        : throw new ArgumentException($"--host must be an IP address (e.g. 127.0.0.1), got '{value}'");
                    break;
                case "--model":
                    model = CompiledModel.Find(value)?.Name ?? throw ModelPool.UnknownModel(value);
                    break;
                case "--data": data = value; break;
                case "--data-dir": dataDir = value; break;
                case "--weights": weights = value; break;
                default: throw new ArgumentException($"unknown option '{name}' ({Usage})");
            }
        }
        model ??= (weights is null ? CompiledModel.Find(data) : null)?.Name ?? CompiledModel.Default.Name;
        return new ServeOptions(host, port, model, data ?? model, dataDir, weights);
    }
}
