using BenchmarkDotNet.Attributes;
using ShardRuntime.Runtime.Handlers;

namespace ShardRuntime.Micro;

/// <summary>
/// <see cref="HttpOkHandler.OnReceived"/> alone, on the calling thread: one keep-alive GET per call, and a pipelined
/// batch of <see cref="Requests.PipelineDepth"/> in one call. An operation is one call.
/// </summary>
[MemoryDiagnoser]
public class HttpOkHandlerBenchmarks
{
    private readonly HttpOkHandler _handler = new();
    private readonly BufferConnectionContext _context = new(64 * 1024);
    private byte[] _one = [];
    private byte[] _pipelined = [];

    [GlobalSetup]
    public void Setup()
    {
        _one = Requests.Get();
        _pipelined = Requests.Repeat(_one, Requests.PipelineDepth);
        // Both must be answered in full, or the figures would be of something else.
        Check(_one, 1);
        Check(_pipelined, Requests.PipelineDepth);
    }

    [Benchmark(Description = "handler: 1 GET")]
    public int OneRequest()
    {
        _context.Reset();
        return _handler.OnReceived(_context, _one);
    }

    [Benchmark(Description = "handler: 16 pipelined GETs")]
    public int Pipelined()
    {
        _context.Reset();
        return _handler.OnReceived(_context, _pipelined);
    }

    private void Check(byte[] requests, int count)
    {
        _context.Reset();
        var consumed = _handler.OnReceived(_context, requests);
        var responses = System.Text.Encoding.ASCII.GetString(_context.Written).Split("HTTP/1.1 200 OK\r\n").Length - 1;
        if (consumed != requests.Length || responses != count || _context.IsClosing)
            throw new InvalidOperationException($"http-ok consumed {consumed} of {requests.Length} bytes and answered {responses} of {count} requests");
    }
}
