using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// Real node processes forming one cluster on loopback over mutual TLS (a throw-away CA signs each node's certificate):
/// node i remotes on 127.0.0.1(i) (port 0) and binds its listeners there (SHARDRUNTIME_BIND_ADDRESS), the first node
/// (no seed nodes, TLS: it forms the cluster alone) is the seed the others join. Polls go straight to the
/// control sockets (no CLI process per poll); assertions that an operator would make use the real CLI. Every node is
/// ended by its PID on dispose.
/// </summary>
internal sealed class ClusterNodes(ITestOutputHelper output, string config) : IAsyncDisposable
{
    /// <summary>The cluster's CA; every node started here gets a certificate it signed (the cluster runs over mutual TLS).</summary>
    public TestCertificates Certificates { get; } = new();

    public static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(90);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly List<HostProcess> _nodes = new();
    private string? _seed;

    public IReadOnlyList<HostProcess> Nodes => _nodes;

    public HostProcess this[int index] => _nodes[index];

    /// <summary>The listener address of node <paramref name="index"/> (0-based): 127.0.0.11, .12, ...</summary>
    public static string AddressOf(int index) => $"127.0.0.{11 + index}";

    /// <summary>
    /// Starts the next node with <paramref name="roles"/> (comma-separated) and, for all but the first, the seed's address;
    /// with a certificate of the cluster's CA, or the TLS variables <paramref name="tls"/> give (another CA's, say).
    /// </summary>
    public async Task<HostProcess> StartNodeAsync(string roles, string? configOverride = null, IReadOnlyDictionary<string, string>? tls = null)
    {
        var index = _nodes.Count;
        var environment = new Dictionary<string, string>(tls ?? Certificates.EnvironmentFor($"node{index + 1}"))
        {
            ["SHARDRUNTIME_CLUSTER_HOSTNAME"] = AddressOf(index),
            ["SHARDRUNTIME_CLUSTER_PORT"] = "0",
            ["SHARDRUNTIME_BIND_ADDRESS"] = AddressOf(index),
            ["SHARDRUNTIME_CLUSTER_ROLES"] = roles,
        };
        if (_seed is not null) environment["SHARDRUNTIME_CLUSTER_SEED_NODES"] = _seed;
        var node = HostProcess.Start(output, configOverride ?? config, environment);
        _nodes.Add(node);
        if (_seed is null)
        {
            var status = await WaitForAsync(node, s => s.GetProperty("members").GetArrayLength() == 1 &&
                s.GetProperty("members")[0].GetProperty("status").GetString() == "Up", "the seed to be up");
            _seed = status.GetProperty("selfAddress").GetString();
            output.WriteLine($"seed node {_seed}");
        }
        return node;
    }

    /// <summary>Starts three nodes with these roles (the first is the seed) and waits until every one sees all three up.</summary>
    public async Task<(HostProcess First, HostProcess Second, HostProcess Third)> StartThreeAsync(string first, string second, string third)
    {
        var nodes = (await StartNodeAsync(first), await StartNodeAsync(second), await StartNodeAsync(third));
        await WaitUntilUpAsync(nodes.Item1, 3);
        return nodes;
    }

    /// <summary>Waits until every node sees <paramref name="count"/> members, all Up, reachable and answering; <paramref name="node"/>'s view.</summary>
    public async Task<JsonElement> WaitUntilUpAsync(HostProcess node, int count)
    {
        foreach (var other in _nodes.Where(n => n != node && !n.HasExited))
            await WaitUntilSeenUpAsync(other, count);
        return await WaitUntilSeenUpAsync(node, count);
    }

    private Task<JsonElement> WaitUntilSeenUpAsync(HostProcess node, int count) =>
        WaitForAsync(node, s =>
        {
            var members = s.GetProperty("members").EnumerateArray().ToList();
            return members.Count == count && members.All(m =>
                m.GetProperty("status").GetString() == "Up" && m.GetProperty("reachable").GetBoolean() && m.GetProperty("node").ValueKind == JsonValueKind.Object);
        }, $"{count} members up");

    /// <summary>Polls <c>status --cluster</c> on <paramref name="node"/> until <paramref name="condition"/> holds; fails (with the node's output) after <see cref="FormTimeout"/>.</summary>
    public async Task<JsonElement> WaitForAsync(HostProcess node, Func<JsonElement, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        var result = await Eventually.ValueAsync(async () =>
        {
            if (node.HasExited)
                throw new InvalidOperationException($"node pid {node.ProcessId} exited while waiting for {what}\n{node.Output}");
            try
            {
                last = await RequestAsync(node, """{"command":"status","cluster":true}""");
                using var reply = JsonDocument.Parse(last);
                return reply.RootElement.GetProperty("ok").GetBoolean() && condition(reply.RootElement.GetProperty("result"))
                    ? reply.RootElement.GetProperty("result").Clone()
                    : (JsonElement?)null;
            }
            catch (Exception e) when (e is SocketException or IOException or JsonException or KeyNotFoundException or InvalidOperationException)
            {
                last = e.Message;
                return null;
            }
        }, found => found is not null, FormTimeout, TimeSpan.FromMilliseconds(200));
        if (result is not { } found)
            throw new TimeoutException($"no {what} within {FormTimeout.TotalSeconds}s; last answer: {last}\n{node.Output}");
        output.WriteLine($"{what}: after {clock.Elapsed.TotalSeconds:0.0}s");
        return found;
    }

    /// <summary>One request line to the node's control socket; the reply line.</summary>
    public static async Task<string> RequestAsync(HostProcess node, string request)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(node.ControlSocket), deadline.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes(request + "\n"), SocketFlags.None, deadline.Token);
        var reply = new MemoryStream();
        var buffer = new byte[16384];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
            reply.Write(buffer, 0, read);
        return Encoding.UTF8.GetString(reply.ToArray()).Trim();
    }

    /// <summary>The listener's endpoint on <paramref name="node"/> as its own status has it.</summary>
    public static async Task<System.Net.IPEndPoint> EndPointOfAsync(HostProcess node, string listener) =>
        (await node.StatusAsync()).Listener(listener).Bound;

    public async ValueTask DisposeAsync()
    {
        // SIGTERM to all first, so they drain side by side, then wait for each.
        foreach (var node in _nodes) node.Terminate();
        foreach (var node in _nodes) await node.DisposeAsync();
        Certificates.Dispose();
    }
}
