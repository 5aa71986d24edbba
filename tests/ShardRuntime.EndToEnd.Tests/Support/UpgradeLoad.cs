using System.Globalization;
using System.Net;
using ShardRuntime.LoadGen.Reporting;
using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>What the upgrade specs share: their steady load and how they read the successor's pid.</summary>
internal static class UpgradeLoad
{
    /// <summary>
    /// Connection churn and keep-alive HTTP load (6 keep-alive connections, 300 new connections/s) on
    /// <paramref name="target"/> for at most <paramref name="duration"/>, until <paramref name="stop"/>. Keep-alive
    /// connections of an old process are told to drain: their next reply says Connection: close.
    /// </summary>
    public static Task<LoadReport> ChurnAndKeepAlive(IPEndPoint target, TimeSpan duration, CancellationToken stop) =>
        LoadRun.RunAsync(new LoadOptions
        {
            Target = target,
            Mode = LoadMode.Churn | LoadMode.KeepAlive,
            Connections = 6,
            Protocol = LoadProtocol.Http,
            Rate = 300,
            MaxInFlight = 300,
            Duration = duration, // the spec ends it (stop) once its changes are done
            Timeout = TimeSpan.FromSeconds(15),
        }, cancellationToken: stop);

    /// <summary>The successor's pid from the output of <c>upgrade</c>.</summary>
    public static int SuccessorOf(CliResult upgrade) =>
        int.Parse(upgrade.StdOut.Split("successor pid ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
}
