using CapsEmbedded.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CapsEmbedded.Tests.Serve;

/// <summary>capsnet-serve built from a command line and started in this process (<c>--port 0</c>: a free loopback port).</summary>
internal static class InProcessServer
{
    /// <summary>Builds and starts the server, logging to <paramref name="log"/>; returns it and its loopback address.</summary>
    public static async Task<(WebApplication App, Uri Address)> Start(string[] args, TextWriter log)
    {
        var app = ServeApp.Build(ServeOptions.Parse(args), log);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        Assert.StartsWith("http://127.0.0.1:", address);
        return (app, new Uri(address));
    }
}
