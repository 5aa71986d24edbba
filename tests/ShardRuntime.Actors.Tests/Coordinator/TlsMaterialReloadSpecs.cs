using ShardRuntime.Actors.Coordination;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ShardRuntime.Actors.Tests.Support;
using Xunit.Abstractions;
using CoordinatorProtocol = ShardRuntime.Actors.Coordination.Coordinator;

namespace ShardRuntime.Actors.Tests.Coordinator;

/// <summary>
/// A TLS listener's files at start and at <c>reload</c>: read off the coordinator, refused naming the key and the file
/// (the node does not start; a reload is refused and the material loaded before serves on), and swapped in for new
/// handshakes when they are good. The handshakes themselves are TlsHandshakeTests' (ShardRuntime.Runtime.Tests).
/// </summary>
public sealed class TlsMaterialReloadSpecs(ITestOutputHelper output) : TestKit(output: output)
{
    private readonly TlsTestFiles _files = new();

    private string Listener((string Certificate, string Key) files, string extra = "") =>
        $$"""web { endpoint = "127.0.0.1:0", handler = echo, shards = 1, tls { certificate = "{{files.Certificate}}", key = "{{files.Key}}" {{extra}} } }""";

    private IActorRef Coordinator(string listener) =>
        Sys.ActorOf(CoordinatorProtocol.Props(Specs.Settings(listener), Handlers.HandlerCatalog.WithBuiltIns(), null), "shard-runtime");

    [Fact]
    public async Task A_reload_must_swap_in_the_new_files_of_a_tls_listener_and_a_refused_file_must_leave_the_old_material_serving()
    {
        var served = _files.Server("web");
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings(Listener(served)));
        var before = Specs.Listener(coordinator, "web").Tls!;
        Assert.Equal(("CN=web", served.Certificate), (before.Subject, before.Certificate));

        // New contents under the same names (a renewed certificate): the reload takes them.
        var renewed = _files.Server("renewed");
        File.Copy(renewed.Certificate, served.Certificate, overwrite: true);
        File.Copy(renewed.Key, served.Key, overwrite: true);
        await coordinator.Ask<CoordinatorProtocol.Reloaded>(new CoordinatorProtocol.Reload("web"), Clients.Timeout);
        var after = Specs.Listener(coordinator, "web");
        Assert.Equal("CN=renewed", after.Tls!.Subject);
        Assert.True(after.Tls.LoadedAt >= before.LoadedAt);
        Assert.Equal(2, after.Generation);

        // A key that is not the certificate's: refused, naming the key and the file; CN=renewed keeps serving.
        File.Copy(_files.Server("stranger").Key, served.Key, overwrite: true);
        var refused = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<object>(new CoordinatorProtocol.Reload("web"), Clients.Timeout));
        Assert.Contains("shard-runtime.listeners.web.tls.key", refused.Reason);
        Assert.Contains(served.Key, refused.Reason);
        Assert.Contains("is not the private key of the certificate", refused.Reason);
        var kept = Specs.Listener(coordinator, "web");
        Assert.Equal(("CN=renewed", 2), (kept.Tls!.Subject, kept.Generation));
        Assert.Contains("shard-runtime.listeners.web.tls.key", kept.LastReloadFailure);
    }

    [Fact]
    public async Task A_fifo_named_as_the_certificate_must_refuse_the_reload_at_once_and_leave_the_coordinator_answering()
    {
        var served = _files.Server("web");
        var coordinator = Specs.StartCoordinator(Sys, Specs.Settings(Listener(served)));
        File.Delete(served.Certificate);
        SpecialFiles.Fifo(served.Certificate);

        var refused = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<object>(new CoordinatorProtocol.Reload("web"), Clients.Timeout));

        Assert.Contains("shard-runtime.listeners.web.tls.certificate", refused.Reason);
        Assert.Contains($"'{served.Certificate}' is a FIFO", refused.Reason);
        Assert.Equal("CN=web", Specs.Listener(coordinator, "web").Tls!.Subject);
    }

    [Fact]
    public async Task A_missing_certificate_must_fail_the_start_naming_the_key_and_the_file()
    {
        var missing = Path.Combine(_files.Directory, "missing.pem");
        var coordinator = Coordinator(Listener((missing, _files.Server("web").Key)));

        var failed = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));

        Assert.Contains("shard-runtime.listeners.web.tls.certificate", failed.Reason);
        Assert.Contains($"'{missing}' does not exist", failed.Reason);
    }

    [Fact]
    public async Task An_expired_certificate_must_be_served_with_a_warning_naming_the_key_and_the_file()
    {
        var expired = _files.Server("old", notBefore: DateTimeOffset.UtcNow.AddHours(-36), notAfter: DateTimeOffset.UtcNow.AddHours(-1));

        await EventFilter.Warning(contains: $"shard-runtime.listeners.web.tls.certificate: '{expired.Certificate}'").ExpectOneAsync(async () =>
        {
            var coordinator = Coordinator(Listener(expired));
            Assert.IsType<CoordinatorProtocol.Started>(await coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));
        });
    }

    [Fact]
    public async Task A_client_ca_that_is_not_pem_must_fail_the_start_naming_the_key_and_the_file()
    {
        var notPem = _files.Write("ca.txt", "not a certificate");
        var coordinator = Coordinator(Listener(_files.Server("web"), $", client-certificates = required, client-ca = \"{notPem}\""));

        var failed = await Assert.ThrowsAsync<CommandFailedException>(() => coordinator.Ask<object>(CoordinatorProtocol.WaitUntilStarted.Instance, Clients.Timeout));

        Assert.Contains("shard-runtime.listeners.web.tls.client-ca", failed.Reason);
        Assert.Contains($"'{notPem}' holds no PEM certificate", failed.Reason);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _files.Dispose();
    }
}
