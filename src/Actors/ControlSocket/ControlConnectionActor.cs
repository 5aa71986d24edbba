using ShardRuntime.Actors.Coordination;
using ShardRuntime.Runtime.Sockets;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.Event;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.ControlSocket;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

/// <summary>
/// Serves one control client: checks its uid, reads one request line, asks the coordinator, writes one reply line,
/// then stops (which closes the socket). Stages: Reading -> Asking -> Replying. Every wait is bounded by the request
/// timeout, and any failure ends this client only.
/// </summary>
internal sealed class ControlConnectionActor : ReceiveActor
{
    private readonly Socket _client;
    private readonly ControlSettings _settings;
    private readonly IActorRef _coordinator;
    private readonly IActorRef? _cluster;
    private readonly uint _nodeUserId;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _io = new();

    public ControlConnectionActor(Socket client, ControlSettings settings, IActorRef coordinator, IActorRef? cluster, uint nodeUserId)
    {
        _client = client;
        _settings = settings;
        _coordinator = coordinator;
        _cluster = cluster;
        _nodeUserId = nodeUserId;
    }

    protected override void PreStart()
    {
        int peerProcessId;
        uint peerUserId;
        try
        {
            var peer = PeerCredentials.Of(_client);
            (peerProcessId, peerUserId) = (peer.ProcessId, peer.UserId);
        }
        catch (Exception e)
        {
            _log.Warning("Control client refused: its credentials could not be read: {Error}", e.Message);
            Reply(ControlJson.Failure("permission denied: the peer's credentials could not be read"));
            return;
        }

        if (peerUserId != _nodeUserId)
        {
            _log.Warning("Control client refused: peer pid {PeerPid} uid {PeerUid} is not the node's uid {NodeUid}", peerProcessId, peerUserId, _nodeUserId);
            Reply(ControlJson.Failure(string.Create(CultureInfo.InvariantCulture,
                $"permission denied: peer uid {peerUserId} is not the node's uid {_nodeUserId}")));
            return;
        }

        Become(Reading);
        ReadRequestAsync(_client, _settings.MaxRequestBytes, _settings.RequestTimeout, _io.Token).PipeTo(Self);
    }

    protected override void PostStop()
    {
        _io.Cancel();
        _io.Dispose();
        try { _client.Shutdown(SocketShutdown.Both); }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        _client.Dispose();
    }

    private void Reading()
    {
        Receive<RequestRead>(m =>
        {
            ControlCommand command;
            object message;
            try
            {
                (command, message) = ControlCommand.Parse(m.Line);
            }
            catch (ControlRequestException e)
            {
                _log.Info("Control request refused: {Reason}", e.Message);
                Reply(ControlJson.Failure(e.Message));
                return;
            }

            var target = message is ClusterListeners.ICommand ? _cluster : _coordinator;
            if (target is null)
            {
                Reply(ControlJson.Failure($"'{command.Name}' needs the cluster, and this node does not take part in one: a lone node (no seed nodes and no shard-runtime.cluster.tls) runs without remoting, so that no other process reaches its actors; a cluster node needs seed nodes and the cluster's TLS files (docs/operations.md, \"Running a cluster\"), and shard-runtime.cluster.enabled = on"));
                return;
            }
            _log.Debug("Control request {Command}: asking {Target} {Message}", command.Name, target.Path.Name, message);
            var timeout = command.AnswerTimeout(_settings, message);
            Become(() => Asking(command, timeout));
            target.Ask<object>(message, timeout)
                .PipeTo(Self, success: answer => new CoordinatorAnswered(answer), failure: e => new CoordinatorAnswered(new Status.Failure(e)));
        });
        Receive<RequestUnreadable>(m =>
        {
            _log.Info("Control request refused: {Reason}", m.Error);
            Reply(ControlJson.Failure(m.Error));
        });
        Receive<ClientGone>(m =>
        {
            if (m.Cause is not null)
                _log.Debug("Control client left before sending a request: {Error}", m.Cause.Message);
            Context.Stop(Self);
        });
    }

    private void Asking(ControlCommand command, TimeSpan timeout)
    {
        Receive<CoordinatorAnswered>(m =>
        {
            var reply = m.Answer switch
            {
                _ when CommandFailedException.In(m.Answer) is { InvalidConfiguration: true } failed => ControlJson.ConfigurationFailure(failed.Reason),
                _ when CommandFailedException.In(m.Answer) is { } failed => ControlJson.Failure(failed.Reason),
                Status.Failure { Cause: AskTimeoutException } => ControlJson.Failure(
                    $"the node did not answer '{command.Name}' within {Describe(timeout)}"),
                Status.Failure failure => ControlJson.Failure($"'{command.Name}' failed: {failure.Cause.Message}"),
                var answer => command.Reply(answer)
                    ?? ControlJson.Failure($"the coordinator answered '{command.Name}' with an unexpected {answer.GetType().Name}"),
            };
            Reply(reply);
        });
    }

    private void Replying()
    {
        Receive<ReplySent>(_ => Context.Stop(Self));
        Receive<ReplyFailed>(m =>
        {
            _log.Debug("Control reply not delivered: {Error}", m.Cause.Message);
            Context.Stop(Self);
        });
    }

    private void Reply(string json)
    {
        Become(Replying);
        SendLineAsync(_client, json, _settings.RequestTimeout, _io.Token)
            .PipeTo(Self, success: () => ReplySent.Instance, failure: e => new ReplyFailed(e));
    }

    /// <summary>
    /// Reads one request: the bytes up to the first newline (or up to end-of-stream when the client half-closes after
    /// writing). Never throws: the outcome is <see cref="RequestRead"/>, <see cref="RequestUnreadable"/> or <see cref="ClientGone"/>.
    /// </summary>
    private static async Task<object> ReadRequestAsync(Socket client, int maxBytes, TimeSpan timeout, CancellationToken stopped)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopped);
        deadline.CancelAfter(timeout);
        // One byte more than the limit tells "exactly the limit, then a newline" from "too long".
        var buffer = new byte[Math.Min(maxBytes + 1, 4096)];
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length == maxBytes + 1)
                        return new RequestUnreadable(string.Create(CultureInfo.InvariantCulture, $"request exceeds {maxBytes} bytes"));
                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxBytes + 1L));
                }

                var read = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return filled == 0
                        ? new ClientGone(null)
                        : new RequestRead(buffer.AsMemory(0, filled));
                }

                var newline = Array.IndexOf(buffer, (byte)'\n', filled, read);
                filled += read;
                if (newline >= 0)
                    return newline <= maxBytes
                        ? new RequestRead(buffer.AsMemory(0, newline))
                        : new RequestUnreadable(string.Create(CultureInfo.InvariantCulture, $"request exceeds {maxBytes} bytes"));
            }
        }
        catch (OperationCanceledException) when (!stopped.IsCancellationRequested)
        {
            return new RequestUnreadable(filled == 0
                ? $"no request within {Describe(timeout)}"
                : $"no complete request (a JSON object ended by a newline) within {Describe(timeout)}");
        }
        catch (Exception e)
        {
            return new ClientGone(e);
        }
    }

    private static async Task SendLineAsync(Socket client, string json, TimeSpan timeout, CancellationToken stopped)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopped);
        deadline.CancelAfter(timeout);
        var bytes = Encoding.UTF8.GetBytes(json + "\n");
        var sent = 0;
        while (sent < bytes.Length)
            sent += await client.SendAsync(bytes.AsMemory(sent), SocketFlags.None, deadline.Token).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Send);
    }

    private static string Describe(TimeSpan timeout) =>
        timeout.TotalSeconds >= 1 && timeout.Milliseconds == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{timeout.TotalSeconds}s")
            : string.Create(CultureInfo.InvariantCulture, $"{timeout.TotalMilliseconds}ms");

    /// <summary>Sender: the read started in PreStart (piped to self). One request line, without its newline.</summary>
    private sealed record RequestRead(ReadOnlyMemory<byte> Line);

    /// <summary>Sender: the read (piped to self). The request was too long or incomplete in time; answered with <paramref name="Error"/>.</summary>
    private sealed record RequestUnreadable(string Error);

    /// <summary>Sender: the read (piped to self). The client closed or reset before sending anything: stop without a reply.</summary>
    private sealed record ClientGone(Exception? Cause) : IDeadLetterSuppression;

    /// <summary>Sender: the ask to the coordinator (piped to self). Its answer, or <see cref="Status.Failure"/> (timeout included).</summary>
    private sealed record CoordinatorAnswered(object Answer);

    /// <summary>Sender: the write (piped to self). The reply is written; the actor stops and the socket closes.</summary>
    private sealed class ReplySent : IDeadLetterSuppression
    {
        public static readonly ReplySent Instance = new();
        private ReplySent() { }
    }

    /// <summary>Sender: the write (piped to self). The client went away or stopped reading; the actor stops.</summary>
    private sealed record ReplyFailed(Exception Cause) : IDeadLetterSuppression;
}
