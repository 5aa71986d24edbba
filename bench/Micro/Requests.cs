using System.Text;

namespace ShardRuntime.Micro;

/// <summary>The requests the benchmarks send: what wrk sends by default (a keep-alive GET with only a Host field).</summary>
internal static class Requests
{
    /// <summary>Requests in a pipelined batch.</summary>
    public const int PipelineDepth = 16;

    /// <summary>One request head as wrk writes it for <c>wrk http://127.0.0.1:8080/</c>.</summary>
    public static byte[] Get(string host = "127.0.0.1:8080") => Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");

    /// <summary><paramref name="count"/> copies of <paramref name="request"/> back to back: pipelined requests in one write.</summary>
    public static byte[] Repeat(byte[] request, int count)
    {
        var batch = new byte[request.Length * count];
        for (var i = 0; i < count; i++) request.CopyTo(batch, i * request.Length);
        return batch;
    }
}
