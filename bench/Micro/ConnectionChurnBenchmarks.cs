using System.Net.Sockets;
using System.Text;
using BenchmarkDotNet.Attributes;

namespace ShardRuntime.Micro;

/// <summary>
/// What one whole connection costs the node (a real one in this process, <see cref="ListenerNode"/>): every operation
/// connects a new blocking loopback socket, sends one GET, reads its response and closes. <c>close</c>: the GET says
/// <c>Connection: close</c>, so the shard answers it and closes in the connection's first turn, then waits for the
/// peer's FIN in the shard (the connection never gets an actor); <c>keep-alive</c>: the connection outlives its first
/// turn, gets a connection actor, and ends when the client half-closes. Either way the operation ends when the node's
/// FIN has come, so connections do not pile up in the node (their number would change what each costs). The client's
/// own socket objects are counted too (the same in every run); what changes from one commit to the next is the node's
/// share.
/// </summary>
[MemoryDiagnoser]
public class ConnectionChurnBenchmarks
{
    private ListenerNode? _node;
    private byte[] _request = [];
    private readonly byte[] _response = new byte[4096];
    private int _responseLength;

    [Params("close", "keep-alive")]
    public string Connection { get; set; } = "close";

    [GlobalSetup]
    public void Setup()
    {
        _node = ListenerNode.Start(1);
        var host = $"{_node.EndPoint.Address}:{_node.EndPoint.Port}";
        _request = Encoding.ASCII.GetBytes(Connection == "close"
            ? $"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            : $"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        using var first = new KeepAliveClient(_node.EndPoint);
        _responseLength = first.ResponseLength;
    }

    [GlobalCleanup]
    public void Cleanup() => _node?.Dispose();

    [Benchmark(Description = "a new connection: GET, response, close")]
    public void OneConnection()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(_node!.EndPoint);
        var sent = 0;
        while (sent < _request.Length) sent += socket.Send(_request, sent, _request.Length - sent, SocketFlags.None);
        var read = 0;
        var shut = false;
        while (true)
        {
            var n = socket.Receive(_response, read, _response.Length - read, SocketFlags.None);
            if (n == 0) break; // the node's FIN: after its response (close), or after ours (keep-alive)
            read += n;
            if (Connection == "close" || shut || read < _responseLength) continue;
            socket.Shutdown(SocketShutdown.Send);
            shut = true;
        }
        if (read < _responseLength) throw new InvalidOperationException($"short response: {read} of {_responseLength} bytes");
    }
}
