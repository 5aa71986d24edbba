using System.Net;
using ShardRuntime.Actors.Settings;
using ShardRuntime.Runtime.Upgrade;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>
/// A step of a <see cref="Plan"/> that takes a resource and may fail when executed (a port held by someone else, handler
/// code that did not load). The executor runs every acquire step of a plan before any commit step; when one fails it
/// releases what the others took and commits nothing, so a failed plan changes nothing.
/// </summary>
internal abstract record AcquireStep(ListenerId Listener)
{
    /// <summary>
    /// Take the inherited group <paramref name="Group"/> for the new incarnation <paramref name="Listener"/> instead of binding:
    /// its sockets leave the inherited ones and get <paramref name="Backlog"/> (listen() again only sets the backlog).
    /// </summary>
    public sealed record Adopt(ListenerId Listener, InheritedGroup Group, int Backlog) : AcquireStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"adopt {Group} for {Listener}";
    }

    /// <summary>
    /// Take the first handler generation of the new incarnation <paramref name="Listener"/>: a built-in handler from the
    /// catalog, or the user's code loaded beforehand (which fails when that load failed).
    /// </summary>
    public sealed record TakeHandlers(ListenerId Listener, ListenerSettings Settings) : AcquireStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"take handler {Settings.Handler} for {Listener}";
    }

    /// <summary>
    /// Bind <paramref name="Count"/> sockets on <paramref name="EndPoint"/>, all or none. On port 0 the first gets an
    /// ephemeral port and the others join it there.
    /// </summary>
    public sealed record Bind(ListenerId Listener, int Count, IPEndPoint EndPoint, TransportProtocol Protocol, int Backlog) : AcquireStep(Listener)
    {
        /// <inheritdoc />
        public override string ToString() => $"bind {Count} on {Coordinator.Describe(EndPoint, Protocol)} for {Listener}";
    }
}
