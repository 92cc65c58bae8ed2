using System.Net;
using CapsEmbedded.Data;

namespace CapsEmbedded.Serve;

/// <summary>The command line of <c>capsnet serve</c> / <c>capsnet-serve</c>; <see cref="Parse"/> names any bad argument in one line.</summary>
internal sealed record ServeOptions(IPAddress Host, int Port, string Data, string DataDir, string? Weights)
{
    public const string Usage = "usage: capsnet serve [--port N (default 5280; 0 = any free)] [--host 127.0.0.1] [--data mnist] [--data-dir DIR] [--weights FILE]";

    public static ServeOptions Parse(IReadOnlyList<string> args)
    {
        var host = IPAddress.Loopback;
        int port = 5280;
        string data = "mnist", dataDir = DataPaths.DefaultRoot;
        string? weights = null;
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
                case "--data": data = value; break;
                case "--data-dir": dataDir = value; break;
                case "--weights": weights = value; break;
                default: throw new ArgumentException($"unknown option '{name}' ({Usage})");
            }
        }
        return new ServeOptions(host, port, data, dataDir, weights);
    }
}
