using System.Net.Security;
using System.Net.Sockets;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Actors.Listeners;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// The task of a stream connection, on the thread pool (never an I/O loop): wraps the socket's bytes in the listener's
/// stream layer (if any), makes the handler (a span handler is served through <see cref="SpanHandlerAdapter"/>), runs
/// it, and after a graceful end flushes, shuts the sending side down and lingers for the peer's FIN (at most
/// linger-timeout). It never closes the socket (its actor does, when told how it ended) and never throws: how it ended
/// is its result.
/// </summary>
internal static class StreamConnectionRunner
{
    public static async Task<StreamConnection.Ended> RunAsync(StreamConnectionState s)
    {
        IStreamConnectionHandler? handler = null;
        try
        {
            Stream stream = s.SocketStream;
            // A span handler is written for the I/O loop: after a wait for the socket it resumes there, and so does its
            // TLS handshake when that is CPU work only; a handshake that judges client certificates (a chain to build)
            // and every async handler resume on the thread pool.
            s.SocketStream.ResumeOnLoop = s.SpanStyle && s.Layer is null or TlsLayer { HandshakeIsCpuOnly: true };
            if (s.Layer is { } layer) stream = await layer.WrapAsync(stream, s, s.Aborted).ConfigureAwait(false);
            s.HandlerStream = stream;
            s.SocketStream.ResumeOnLoop = s.SpanStyle;
            handler = s.SpanStyle
                ? new SpanHandlerAdapter(s.Lease.CreateHandler, s.Settings.RequestHeadTimeout, s.Settings.MaxReceiveBytes)
                : s.Lease.CreateStreamHandler(s);
            await handler.RunAsync(s).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Gone underneath (aborted, reset, idle, drain deadline): how it ended is the actor's to say, not a failure.
            if (s.IsAborted) return new StreamConnection.Ended(s.PeerGone ? ConnectionCloseReason.PeerClosed : ConnectionCloseReason.Aborted, null, false);
            return handler is null
                ? new StreamConnection.Ended(ConnectionCloseReason.SocketError, e, false) // the layer (a handshake) failed
                : new StreamConnection.Ended(ConnectionCloseReason.HandlerFailed, e, true);
        }
        try
        {
            await CloseGracefullyAsync(s).ConfigureAwait(false);
            return new StreamConnection.Ended(ConnectionCloseReason.Closed, null, false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return new StreamConnection.Ended(s.IsAborted && !s.PeerGone ? ConnectionCloseReason.Aborted : ConnectionCloseReason.PeerClosed, null, false);
        }
    }

    /// <summary>
    /// The handler returned: what it wrote is flushed (the pipes completed), the layer's stream disposed (TLS says
    /// goodbye there), the sending side shut down, and what the peer still sends is read and dropped until its FIN or
    /// linger-timeout, so unread bytes do not turn the close into a reset that could destroy the last reply.
    /// </summary>
    private static async Task CloseGracefullyAsync(StreamConnectionState s)
    {
        if (s.HandedOff) return; // the handler took the socket: closing it was the handler's
        if (s.HasTransport)
        {
            await s.Transport.Output.CompleteAsync().ConfigureAwait(false);
            await s.Transport.Input.CompleteAsync().ConfigureAwait(false);
        }
        var stream = s.HandlerStream!;
        await stream.FlushAsync().ConfigureAwait(false);
        if (stream is SslStream tls)
        {
            // TLS says goodbye (close_notify) before the FIN, so the peer knows the reply was not cut short; SslStream's
            // DisposeAsync does not send it. Bounded: a peer that reads nothing must not hold the close up.
            using var goodbye = new CancellationTokenSource(s.Settings.LingerTimeout);
            await tls.ShutdownAsync().WaitAsync(goodbye.Token).ConfigureAwait(false);
        }
        if (!ReferenceEquals(stream, s.SocketStream)) await stream.DisposeAsync().ConfigureAwait(false);
        s.Socket.Shutdown(SocketShutdown.Send);
        await s.SocketStream.DrainAsync(s.Settings.LingerTimeout).ConfigureAwait(false);
    }
}
