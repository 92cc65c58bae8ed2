namespace CapsEmbedded.TorchSharp;

internal static class Program
{
    // fix-shim runs during the build, before the shim may load: it is dispatched before anything touches TorchSharp.
    private static int Main(string[] args) => TorchCli.Run(args, Console.Out, Console.Error);
}
