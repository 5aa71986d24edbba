using ShardRuntime.LoadGen.Reporting;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>The zero-loss check of a load run: every attempt succeeded, and enough of them ran to mean something.</summary>
internal static class LoadAssert
{
    public static void NoLoss(LoadReport report, ITestOutputHelper output, string name, int atLeast)
    {
        var total = report.Total;
        output.WriteLine($"{name}: {total.Attempts} attempts: {total.Succeeded} succeeded, {total.Refused} refused, {total.Reset} reset, " +
                         $"{total.Closed} closed, {total.TimedOut} timed out, {total.WrongReply} wrong, {total.OtherError} other");
        Assert.True(total.Succeeded > atLeast, $"{name}: only {total.Succeeded} requests succeeded");
        Assert.Equal(0, total.Refused);
        Assert.Equal(0, total.Reset);
        Assert.Equal(0, total.Closed);
        Assert.Equal(0, total.TimedOut);
        Assert.Equal(0, total.WrongReply);
        Assert.Equal(0, total.OtherError);
    }
}
