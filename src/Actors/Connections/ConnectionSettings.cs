using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Connections;

/// <summary>The part of a listener's settings that each of its connections needs.</summary>
internal sealed record ConnectionSettings(
    string Listener,
    TimeSpan IdleTimeout,
    TimeSpan RequestHeadTimeout,
    int ReceiveBufferSize,
    int MaxReceiveBytes,
    int MaxPendingWriteBytes,
    TimeSpan LingerTimeout)
{
    public static ConnectionSettings From(ListenerSettings s) =>
        new(s.Name, s.IdleTimeout, s.RequestHeadTimeout, s.ReceiveBufferSize, s.MaxReceiveBytes, s.MaxPendingWriteBytes, s.LingerTimeout);
}
