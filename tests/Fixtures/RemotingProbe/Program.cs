using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Remote.Transport.DotNetty;
using ShardRuntime.Actors.Coordination;

// remoting-probe TARGET LISTENER SHARDS [--tls CERT KEY] [--timeout SECONDS]
//   TARGET: a node address such as akka.tcp://shardruntime@127.0.0.1:4053 (akka.ssl.tcp://... with --tls)
// Sends Coordinator.ScaleTo(LISTENER, SHARDS) to TARGET/user/shard-runtime and waits for an answer.
// Prints "REPLY <type>: <message>" and exits 0 when the node answered, "NO REPLY within Ns" and exits 3 when it did not.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: remoting-probe TARGET LISTENER SHARDS [--tls CERT KEY] [--timeout SECONDS]");
    return 2;
}
var (target, listener, shards) = (args[0], args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
var timeout = TimeSpan.FromSeconds(10);
X509Certificate2? certificate = null;
for (var i = 3; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--tls":
            certificate = X509Certificate2.CreateFromPemFile(args[i + 1], args[i + 2]);
            i += 2;
            break;
        case "--timeout":
            timeout = TimeSpan.FromSeconds(double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture));
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

var config = ConfigurationFactory.ParseString($$"""
    akka.loglevel = INFO
    akka.actor.provider = remote
    akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0, enable-ssl = {{(certificate is null ? "off" : "on")}} }
    """);
var setup = BootstrapSetup.Create().WithConfig(config);
ActorSystemSetup actorSetup = certificate is null
    ? ActorSystemSetup.Create(setup)
    // The probe trusts whatever the node presents: what is tested is whether the node accepts the probe.
    : ActorSystemSetup.Create(setup, new DotNettySslSetup(certificate, suppressValidation: true, requireMutualAuthentication: true));
using var system = ActorSystem.Create("probe", actorSetup);
Console.WriteLine($"probe uid {Environment.GetEnvironmentVariable("USER") ?? "?"} pid {Environment.ProcessId}: ScaleTo({listener}, {shards}) to {target}");
try
{
    var coordinator = system.ActorSelection($"{target}/user/{Coordinator.ActorName}");
    var reply = await coordinator.Ask<object>(new Coordinator.ScaleTo(listener, shards), timeout);
    Console.WriteLine($"REPLY {reply.GetType().Name}: {reply}");
    return 0;
}
catch (AskTimeoutException)
{
    Console.WriteLine($"NO REPLY within {timeout.TotalSeconds}s");
    return 3;
}
finally
{
    await system.Terminate();
}
