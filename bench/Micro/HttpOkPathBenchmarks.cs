using BenchmarkDotNet.Attributes;

namespace ShardRuntime.Micro;

/// <summary>
/// The whole http-ok path in this process: a real node (<see cref="ListenerNode"/>: coordinator, listener shards,
/// connection actors, the http-ok handler) and blocking loopback clients on keep-alive connections opened in the
/// setup. Every operation is one request answered: a benchmark that serves several requests per invocation says so
/// with OperationsPerInvoke, so that time and allocations are per request. The memory diagnoser's Allocated is
/// process-wide: the actor system, the socket engine and the thread pool are counted, and so is the client (which
/// allocates nothing).
/// </summary>
[MemoryDiagnoser]
public class HttpOkPathBenchmarks
{
    private const int Connections = 8;

    private ListenerNode? _node;
    private KeepAliveClient[] _clients = [];

    [Params(1, 2)]
    public int Shards { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _node = ListenerNode.Start(Shards);
        _clients = new KeepAliveClient[Connections];
        for (var i = 0; i < Connections; i++) _clients[i] = new KeepAliveClient(_node.EndPoint);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var client in _clients) client.Dispose();
        _node?.Dispose();
    }

    [Benchmark(Description = "1 connection: GET, response")]
    public void OneConnection()
    {
        var client = _clients[0];
        client.SendOne();
        client.Receive(1);
    }

    [Benchmark(Description = "8 connections: a GET on each, then the 8 responses", OperationsPerInvoke = Connections)]
    public void EightConnections()
    {
        foreach (var client in _clients) client.SendOne();
        foreach (var client in _clients) client.Receive(1);
    }

    [Benchmark(Description = "1 connection: 16 pipelined GETs, 16 responses", OperationsPerInvoke = Requests.PipelineDepth)]
    public void Pipelined()
    {
        var client = _clients[0];
        client.SendPipelined();
        client.Receive(Requests.PipelineDepth);
    }
}
