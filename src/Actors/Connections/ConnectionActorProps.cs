using Akka.Actor;

namespace ShardRuntime.Actors.Connections;

/// <summary>
/// How the actor of one connection is made: these Props carry the connection's <see cref="ConnectionState"/>, and every
/// <see cref="ConnectionActor"/> made from them (a restarted instance too) continues that very connection. A Props of
/// its own kind, as Akka's DynamicProps is, rather than <c>Props.CreateBy(producer).WithDeploy(deploy)</c>: one object
/// per connection actor where that makes three (two Props and a merged Deploy), and no producer object besides. Churn
/// pays for every object here.
/// </summary>
/// <remarks>
/// <see cref="Props.Type"/> reports <see cref="ActorBase"/>, as it does for any Props made without a type: Akka reads it
/// for telemetry events and for a mailbox the actor type requires, and a connection actor requires none (its mailbox
/// comes with the deploy, <see cref="ConnectionMailbox"/>).
/// </remarks>
internal sealed class ConnectionActorProps : Props
{
    private readonly ConnectionState _connection;

    /// <param name="connection">The connection the actor drives.</param>
    /// <param name="deploy">Its shard's deploy for connection actors: the connection mailbox and the shard's dispatcher.</param>
    public ConnectionActorProps(ConnectionState connection, Deploy deploy)
    {
        _connection = connection;
        Deploy = deploy;
    }

    /// <inheritdoc />
    // AK1000 wants actors made through Props; this is the Props, and NewActor is where Akka has it make one.
#pragma warning disable AK1000
    public override ActorBase NewActor() => new ConnectionActor(_connection);
#pragma warning restore AK1000

    /// <inheritdoc />
    protected override Props Copy() => new ConnectionActorProps(_connection, Deploy) { SupervisorStrategy = SupervisorStrategy };
}
