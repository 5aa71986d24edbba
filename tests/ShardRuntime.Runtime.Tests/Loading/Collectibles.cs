namespace ShardRuntime.Runtime.Tests.Loading;

/// <summary>Collects garbage until weakly referenced objects are gone, a bounded number of times.</summary>
internal static class Collectibles
{
    public const int MaxCollections = 20;

    /// <summary>True when every reference died within <see cref="MaxCollections"/> full collections.</summary>
    public static bool AllDie(IReadOnlyCollection<WeakReference> references)
    {
        for (var i = 0; i < MaxCollections && references.Any(r => r.IsAlive); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        return references.All(r => !r.IsAlive);
    }

    public static bool Dies(WeakReference reference) => AllDie([reference]);

    /// <summary>The managed heap after full collections.</summary>
    public static long SettledHeapBytes()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
