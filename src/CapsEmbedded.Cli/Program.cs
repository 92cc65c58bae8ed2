return CapsEmbedded.Cli.CapsNetCli.Run(args, Console.Out, Console.Error);
