using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ShardRuntime.Actors.Cluster;
using ShardRuntime.Actors.ControlSocket;

namespace ShardRuntime.Actors.Tests.Control;

using Coordinator = ShardRuntime.Actors.Coordination.Coordinator;

/// <summary>
/// Properties of the control socket's request reader (<see cref="ControlCommand.Parse"/>, what the control connection
/// reads a request line with): whatever arrives becomes a command or a refusal that names what was wrong, and the
/// requests the command-line tool writes (<see cref="ControlJson"/>) read back as the command they mean.
/// </summary>
public sealed class ControlRequestProperties
{
    private static readonly Gen<string> Names = Gen.Elements("http", "api", "dns-static", "ünï", "a b", "x\"y\\z", "line\u2028separator");

    [Property(MaxTest = 1000)]
    public Property Any_request_line_must_become_a_command_or_a_refusal_naming_the_problem() =>
        Prop.ForAll(Lines.ToArbitrary(), line =>
        {
            try
            {
                var (command, message) = ControlCommand.Parse(line);
                Assert.Contains(command.Name, ControlCommand.All.Keys);
                Assert.True(message is Coordinator.ICommand or ClusterListeners.ICommand, $"{command.Name} read into {message}");
            }
            catch (ControlRequestException e)
            {
                Assert.Matches("field '|missing field|malformed JSON|must be a JSON object|unknown command|not UTF-8", e.Message);
            }
        });

    [Property(MaxTest = 300)]
    public Property The_requests_the_tool_writes_must_read_back_as_the_command_they_mean() =>
        Prop.ForAll(Requests.ToArbitrary(), request =>
            {
                var (listener, shards, cluster, role) = request;
                Assert.Equal(
                    cluster ? new ClusterListeners.ScaleListener(listener, shards, role) : new Coordinator.ScaleTo(listener, shards),
                    Read(ControlJson.ScaleRequest(listener, shards, cluster, cluster ? role : null)));
                Assert.Equal(
                    cluster ? new ClusterListeners.RollingReload(role is null ? null : listener) : new Coordinator.Reload(role is null ? null : listener),
                    Read(ControlJson.ReloadRequest(role is null ? null : listener, cluster)));
                Assert.Equal(new ClusterListeners.RemoveListener(listener), Read(ControlJson.ListenerRemoveRequest(listener)));
                var set = Assert.IsType<ClusterListeners.SetListener>(
                    Read(ControlJson.ListenerSetRequest(listener, "shards = 2", shards, role is null ? null : [role], cluster)));
                Assert.Equal((listener, "shards = 2", shards, cluster), (set.Listener, set.Definition, set.Shards, set.Reload));
                Assert.Equal(role is null ? null : new[] { role }, set.Roles);
            });

    private static Gen<(string Listener, int Shards, bool Cluster, string? Role)> Requests =>
        from listener in Names
        from shards in Gen.Choose(0, 10_000)
        from cluster in ArbMap.Default.GeneratorFor<bool>()
        from role in Gen.Elements<string?>(null, "edge", "core")
        select (listener, shards, cluster, role);

    private static object Read(string line) => ControlCommand.Parse(Encoding.UTF8.GetBytes(line)).Message;

    /// <summary>Request lines: JSON-ish text from the protocol's vocabulary, mutated valid requests, and raw bytes.</summary>
    private static Gen<byte[]> Lines => Gen.OneOf(
        Gen.ListOf(Gen.Elements("{", "}", "[", "]", ":", ",", " ", "\"command\"", "\"status\"", "\"scale\"", "\"reload\"",
                "\"listener-set\"", "\"listener\"", "\"shards\"", "\"roles\"", "\"role\"", "\"cluster\"", "\"reload\"",
                "\"definition\"", "true", "null", "0", "-1", "1.5", "1e400", "99999999999", "\"\"", "\" \"", "\"\\u0000\"",
                "\"\\ud800\"", "\"x\""))
            .Select(tokens => Encoding.UTF8.GetBytes(string.Concat(tokens))),
        from request in Gen.Elements(
            ControlJson.StatusRequest(true), ControlJson.ScaleRequest("http", 4, true, "edge"), ControlJson.ReloadRequest("http"),
            ControlJson.ListenerSetRequest("api", "shards = 2", 2, ["edge"], true), ControlJson.UpgradeRequest())
        from at in Gen.Choose(0, 1000)
        from b in ArbMap.Default.GeneratorFor<byte>()
        let bytes = Encoding.UTF8.GetBytes(request)
        select (byte[])[.. bytes[..(at % bytes.Length)], b, .. bytes[(at % bytes.Length)..]],
        ArbMap.Default.GeneratorFor<byte[]>());
}
