Console.WriteLine("benchmarks: see issue 3");
