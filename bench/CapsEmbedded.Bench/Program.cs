using BenchmarkDotNet.Running;

// Runs the benchmarks named on the command line, e.g. `dotnet run -c Release -- --filter '*ModelBenchmarks*' --job short`.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
