namespace ShardRuntime.Runtime.Tests.Sockets;

/// <summary>Bounded polling for what a test cannot be told of (another thread's state): no fixed sleep as synchronisation.</summary>
internal static class Eventually
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>Returns once <paramref name="condition"/> holds; fails with <paramref name="failure"/> after <see cref="Wait"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string failure = "condition not met in time")
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(5);
        }
    }
}
