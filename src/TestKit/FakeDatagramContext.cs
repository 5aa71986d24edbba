using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using ShardRuntime.Actors.Listeners;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.TestKit;

/// <summary>
/// A UDP shard socket without a socket, to unit-test a datagram handler (<see cref="IDatagramHandler"/>): the test sends
/// datagrams from peers it names (<see cref="Receive(ReadOnlySpan{byte}, EndPoint)"/>), tells messages
/// (<see cref="Tell"/>) and stops the handler (<see cref="Stop"/>), and reads what was sent (<see cref="Sent"/>). It drives
/// the handler as ShardRuntime.Actors does: the sends a call queued go out after it; a call that throws is counted
/// (<see cref="HandlerFailures"/>), its sends are discarded and the handler goes on serving; <see cref="IDatagramContext.Reply"/>
/// outside <see cref="IDatagramHandler.OnDatagram"/> throws; <see cref="IDatagramHandler.OnStopped"/> is called once,
/// after which nothing more is delivered. Not thread-safe: use it from the test's thread.
/// </summary>
public sealed class FakeDatagramContext : IDatagramContext
{
    private readonly Dictionary<Type, object> _features = new();
    private readonly List<SentDatagram> _pending = new();
    private readonly List<SentDatagram> _sent = new();
    private EndPoint? _currentPeer;

    /// <inheritdoc />
    public string ListenerName { get; init; } = "test";

    /// <inheritdoc />
    public int ShardId { get; init; }

    /// <summary>The generation of the handler code; set it to what the test needs (the runtime counts 1, 2, ... per reload).</summary>
    public int HandlerGeneration { get; set; } = 1;

    /// <inheritdoc />
    public EndPoint? LocalEndPoint { get; init; } = new IPEndPoint(IPAddress.Loopback, 0);

    /// <summary>The handler being driven (null before <see cref="Start(IDatagramHandler)"/>, or when its factory threw).</summary>
    public IDatagramHandler? Handler { get; private set; }

    /// <summary>Whether <see cref="Stop"/> was called (and with it <see cref="IDatagramHandler.OnStopped"/>).</summary>
    public bool IsStopped { get; private set; }

    /// <summary>Calls of the handler that threw (the runtime counts them as handler failures of the listener).</summary>
    public int HandlerFailures { get; private set; }

    /// <summary>The last exception the handler threw, or null.</summary>
    public Exception? LastHandlerFailure { get; private set; }

    /// <summary>Every datagram sent since the start (or the last <see cref="TakeSent"/>), in order.</summary>
    public IReadOnlyList<SentDatagram> Sent => _sent;

    /// <summary>Makes the handler with <paramref name="factory"/>, as a shard does before its first datagram.</summary>
    public FakeDatagramContext Start(IDatagramHandlerFactory factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        EnsureNotStarted();
        try
        {
            Handler = factory.Create(this);
        }
        catch (Exception e)
        {
            Failed(e);
            throw new InvalidOperationException($"the factory {factory.GetType().Name} could not make a handler: {e.Message}", e);
        }
        return this;
    }

    /// <summary>Drives <paramref name="handler"/>.</summary>
    public FakeDatagramContext Start(IDatagramHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        EnsureNotStarted();
        Handler = handler;
        return this;
    }

    /// <summary>
    /// A datagram from <paramref name="peer"/>: the handler's <see cref="IDatagramHandler.OnDatagram"/> gets it, and what it
    /// sent goes out (unless it threw).
    /// </summary>
    public FakeDatagramContext Receive(ReadOnlySpan<byte> datagram, EndPoint peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        EnsureRunning();
        var address = peer.Serialize();
        _currentPeer = peer;
        try
        {
            Run(datagram, address, static (h, c, d, a) => h.OnDatagram(c, d, a));
        }
        finally
        {
            _currentPeer = null;
        }
        return this;
    }

    /// <summary>A datagram of <paramref name="text"/> as UTF-8 from <paramref name="peer"/>.</summary>
    public FakeDatagramContext Receive(string text, EndPoint peer) => Receive(Encoding.UTF8.GetBytes(text), peer);

    /// <summary>Another part of the program sent <paramref name="message"/> to the shard: the handler's <see cref="IDatagramHandler.OnMessage"/> gets it.</summary>
    public FakeDatagramContext Tell(object message)
    {
        ArgumentNullException.ThrowIfNull(message);
        EnsureRunning();
        Run(ReadOnlySpan<byte>.Empty, message, static (h, c, _, m) => h.OnMessage(c, m));
        return this;
    }

    /// <summary>The socket stops calling the handler (its shard retired, a reload, the node stopping): <see cref="IDatagramHandler.OnStopped"/>, once.</summary>
    public FakeDatagramContext Stop()
    {
        if (Handler is null) throw new InvalidOperationException("the fake datagram socket has no handler: call Start first");
        if (IsStopped) return this;
        IsStopped = true;
        try
        {
            Handler.OnStopped(this);
        }
        catch (Exception e)
        {
            Failed(e);
        }
        return this;
    }

    /// <summary>Returns the datagrams sent so far and forgets them.</summary>
    public IReadOnlyList<SentDatagram> TakeSent()
    {
        var sent = _sent.ToList();
        _sent.Clear();
        return sent;
    }

    /// <summary>Offers <paramref name="feature"/> to the handler's <see cref="GetFeature{T}"/>.</summary>
    public FakeDatagramContext SetFeature<T>(T feature) where T : class
    {
        _features[typeof(T)] = feature ?? throw new ArgumentNullException(nameof(feature));
        return this;
    }

    /// <summary>Offers the handler an <see cref="IDatagramActorFeature"/> whose <c>Self</c> is <paramref name="self"/> (a TestProbe's ref, say).</summary>
    public FakeDatagramContext SetActor(IActorRef self, ActorSystem system) =>
        SetFeature<IDatagramActorFeature>(new ActorFeature(self ?? throw new ArgumentNullException(nameof(self)),
            system ?? throw new ArgumentNullException(nameof(system))));

    /// <inheritdoc />
    public T? GetFeature<T>() where T : class => _features.TryGetValue(typeof(T), out var feature) ? (T)feature : null;

    /// <inheritdoc />
    public void Reply(ReadOnlySpan<byte> datagram)
    {
        var peer = _currentPeer ?? throw new InvalidOperationException(
            "Reply is only possible inside OnDatagram (there is no current peer): use SendTo");
        _pending.Add(new SentDatagram(peer, datagram.ToArray()));
    }

    /// <inheritdoc />
    public void SendTo(SocketAddress peer, ReadOnlySpan<byte> datagram)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (IsStopped) throw new InvalidOperationException("the handler was stopped: no more sends are possible");
        var any = peer.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        _pending.Add(new SentDatagram(new IPEndPoint(any, 0).Create(peer), datagram.ToArray()));
    }

    private void Run<TArg>(ReadOnlySpan<byte> datagram, TArg arg, SpanCallback<TArg> callback)
    {
        try
        {
            callback(Handler!, this, datagram, arg);
            _sent.AddRange(_pending);
        }
        catch (Exception e)
        {
            Failed(e);
        }
        finally
        {
            _pending.Clear();
        }
    }

    private delegate void SpanCallback<in TArg>(IDatagramHandler handler, IDatagramContext context, ReadOnlySpan<byte> datagram, TArg arg);

    private void Failed(Exception e)
    {
        HandlerFailures++;
        LastHandlerFailure = e;
    }

    private void EnsureNotStarted()
    {
        if (Handler is not null || HandlerFailures > 0)
            throw new InvalidOperationException("the fake datagram socket has a handler already: make a new FakeDatagramContext per handler");
    }

    private void EnsureRunning()
    {
        if (Handler is null) throw new InvalidOperationException("the fake datagram socket has no handler: call Start first");
        if (IsStopped) throw new InvalidOperationException("the handler was stopped: nothing more is delivered to it");
    }

    private sealed record ActorFeature(IActorRef Self, ActorSystem System) : IDatagramActorFeature;
}
