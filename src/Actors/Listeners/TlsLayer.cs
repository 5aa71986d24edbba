using Akka.Event;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Tls;

namespace ShardRuntime.Actors.Listeners;

/// <summary>
/// A TLS listener's stream layer: each connection's handshake with the listener's current material
/// (<see cref="TlsServer.WrapAsync"/>, bounded by handshake-timeout), on the stream path's task, off the I/O loops. A
/// failed handshake ends only its own connection (the exception goes back to the stream path, which closes it), is
/// counted by class, and logged as the failure log allows: the first few of each interval, then one line with how many
/// were not logged (at the next failure, or one interval after the flood stopped).
/// </summary>
internal sealed class TlsLayer(TlsServer server, ILoggingAdapter log) : IConnectionStreamLayer
{
    private int _tickArmed;

    /// <summary>The listener's server side (material, counters, failure log).</summary>
    public TlsServer Server => server;

    /// <summary>
    /// Whether a handshake is CPU work only, so a span handler's connection may shake hands on its I/O loop as nginx's
    /// workers do: no client certificate is asked for (judging one builds a chain), and the server's chain was built
    /// when the material was loaded (offline).
    /// </summary>
    public bool HandshakeIsCpuOnly => server.Current.Options.ClientCertificates == ClientCertificateMode.None;

    public async ValueTask<Stream> WrapAsync(Stream inner, IStreamConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            return await server.WrapAsync(inner, cancellationToken).ConfigureAwait(false);
        }
        catch (TlsHandshakeException failed)
        {
            Log(failed.Result, connection);
            throw;
        }
    }

    private void Log(TlsHandshakeResult result, IStreamConnection connection)
    {
        var decision = result.Log;
        if (decision.SuppressedBefore > 0) Summary(decision);
        if (decision.Write)
            log.Warning("Listener {0}: TLS handshake from {1} failed ({2}: {3}) after {4:0} ms",
                server.Listener, connection.RemoteEndPoint, result.Failure, result.Detail, result.Elapsed.TotalMilliseconds);
        else ArmTick(decision.Interval);
    }

    private void Summary(TlsFailureLogDecision decision) =>
        log.Warning("Listener {0}: {1} more TLS handshake failures in the last {2} were not logged (counted in status)",
            server.Listener, decision.SuppressedBefore, decision.Interval);

    /// <summary>A failure went unlogged: one interval on, the failure log says whether a summary is due (the flood may have stopped).</summary>
    private void ArmTick(TimeSpan interval)
    {
        if (Interlocked.Exchange(ref _tickArmed, 1) == 1) return;
        _ = Task.Delay(interval + TimeSpan.FromMilliseconds(50)).ContinueWith(static (_, state) =>
        {
            var layer = (TlsLayer)state!;
            Volatile.Write(ref layer._tickArmed, 0);
            var decision = layer.Server.FailureLog.Tick();
            if (decision.SuppressedBefore > 0) layer.Summary(decision);
        }, this, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }
}
