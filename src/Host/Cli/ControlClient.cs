using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ShardRuntime.Actors.ControlSocket;

namespace ShardRuntime.Host.Cli;

/// <summary>
/// Talks to a running node through its control socket: connect, write one request line, read one reply line,
/// all within <see cref="Timeout"/>.
/// </summary>
public sealed class ControlClient
{
    /// <summary>Largest reply accepted (a status of many listeners and shards stays far below it).</summary>
    private const int MaxReplyBytes = 16 * 1024 * 1024;

    public ControlClient(string socketPath, TimeSpan timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        SocketPath = socketPath;
        Timeout = timeout;
    }

    public string SocketPath { get; }

    public TimeSpan Timeout { get; }

    /// <summary>
    /// Sends <paramref name="request"/> (one JSON object, see <see cref="ControlJson"/>) and returns the node's reply.
    /// Throws <see cref="NodeUnreachableException"/> when no node answers, <see cref="InvalidDataException"/> when the
    /// reply is not a control reply.
    /// </summary>
    public async Task<ControlReply> SendAsync(string request, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), deadline.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // ENOENT is mapped to AddressNotAvailable; ECONNREFUSED is a socket file left by a node that is gone.
            throw new NodeUnreachableException($"no node is running at {SocketPath}", e);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            throw new NodeUnreachableException(
                $"permission denied connecting to {SocketPath}: the control socket serves only the user the node runs as", e);
        }
        catch (SocketException e)
        {
            throw new NodeUnreachableException($"cannot connect to {SocketPath}: {e.Message}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NodeUnreachableException($"the node at {SocketPath} did not accept the connection within {Timeout.TotalSeconds:0.###}s", e);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new NodeUnreachableException($"{SocketPath} cannot be a Unix domain socket: {e.Message}", e);
        }

        try
        {
            var line = Encoding.UTF8.GetBytes(request + "\n");
            await socket.SendAsync(line, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            var reply = await ReadLineAsync(socket, deadline.Token).ConfigureAwait(false);
            return Parse(reply);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NodeUnreachableException($"the node at {SocketPath} did not answer within {Timeout.TotalSeconds:0.###}s", e);
        }
        catch (SocketException e)
        {
            throw new NodeUnreachableException($"the node at {SocketPath} closed the connection without an answer: {e.Message}", e);
        }
    }

    private static async Task<byte[]> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException) when (received.Length > 0)
            {
                break;
            }
            if (read == 0)
                break;
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, read);
            received.Write(buffer, 0, newline >= 0 ? newline : read);
            if (newline >= 0)
                break;
            if (received.Length > MaxReplyBytes)
                throw new InvalidDataException($"the node's reply exceeds {MaxReplyBytes} bytes");
        }
        return received.ToArray();
    }

    private ControlReply Parse(byte[] reply)
    {
        if (reply.Length == 0)
            throw new NodeUnreachableException($"the node at {SocketPath} closed the connection without an answer");
        try
        {
            using var document = JsonDocument.Parse(reply);
            var root = document.RootElement.Clone();
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty(ControlJson.OkField, out var ok)
                || ok.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                throw new InvalidDataException($"the node's reply has no '{ControlJson.OkField}' member");
            }
            var error = root.TryGetProperty(ControlJson.ErrorField, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
            return new ControlReply(ok.GetBoolean(), error, root);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the node's reply is not JSON: {e.Message}", e);
        }
    }
}
