namespace ShardRuntime.Actors.Coordination;

/// <summary>
/// Runs blocking work (reading and loading handler code an operator named) on a thread of its own, so that the actor
/// that asked keeps answering, and gives up waiting at a deadline. Work that ends after the deadline is handed to a
/// discard action (a late load is unloaded, never used). The thread is a background thread: a load stuck for good
/// does not hold the process up when it exits.
/// </summary>
internal static class OffThread
{
    /// <summary>
    /// Starts <paramref name="work"/> on a new background thread named <paramref name="name"/>. The task completes with
    /// its result or exception, or fails with <see cref="TimeoutException"/> at <paramref name="deadline"/>; a result
    /// that comes after that goes to <paramref name="discard"/> (on the work's thread).
    /// </summary>
    public static Task<T> Run<T>(string name, Func<T> work, TimeSpan deadline, Action<T> discard)
    {
        var outcome = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var state = 0; // 0: running; 1: the outcome is delivered; 2: abandoned at the deadline
        var thread = new Thread(() =>
        {
            T result;
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                if (Interlocked.CompareExchange(ref state, 1, 0) == 0) outcome.SetException(e);
                return;
            }
            if (Interlocked.CompareExchange(ref state, 1, 0) == 0) outcome.SetResult(result);
            else discard(result);
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        var timer = new Timer(_ =>
        {
            if (Interlocked.CompareExchange(ref state, 2, 0) == 0)
                outcome.SetException(new TimeoutException($"it did not finish within {deadline.TotalSeconds:0.###}s (shard-runtime.handler-load-timeout); " +
                                                          "the load is abandoned and its code unloaded should it ever finish"));
        }, null, deadline, Timeout.InfiniteTimeSpan);
        outcome.Task.ContinueWith(_ => timer.Dispose(), TaskScheduler.Default);
        return outcome.Task;
    }
}
