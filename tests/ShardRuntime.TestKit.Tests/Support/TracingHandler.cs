using System.Text;
using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.TestKit.Tests;

/// <summary>
/// A handler around another that writes down every call it gets (what it was presented, what it consumed, the close
/// reason), the same way under the fake and under the runtime, so the two traces can be compared. Thread-safe to read:
/// the runtime calls the handler on an I/O loop while the test reads the trace.
/// </summary>
internal sealed class TracingHandler(IConnectionHandler inner) : IConnectionHandler
{
    private readonly List<string> _trace = new();

    /// <summary>The calls so far, one line each.</summary>
    public IReadOnlyList<string> Trace
    {
        get
        {
            lock (_trace) return _trace.ToList();
        }
    }

    public void OnConnected(IConnectionContext context)
    {
        Add("connected");
        inner.OnConnected(context);
    }

    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        var presented = Escape(data);
        var consumed = inner.OnReceived(context, data);
        Add($"received '{presented}' -> {consumed}");
        return consumed;
    }

    public void OnInputEnded(IConnectionContext context, int unconsumed)
    {
        Add($"input-ended {unconsumed}");
        inner.OnInputEnded(context, unconsumed);
    }

    public void OnRequestTimedOut(IConnectionContext context, int unconsumed)
    {
        Add($"request-timed-out {unconsumed}");
        inner.OnRequestTimedOut(context, unconsumed);
    }

    public void OnMessage(IConnectionContext context, object message)
    {
        Add($"message {message}");
        inner.OnMessage(context, message);
    }

    public void OnClosed(IConnectionContext context, ConnectionCloseReason reason)
    {
        Add($"closed {reason}");
        inner.OnClosed(context, reason);
    }

    /// <summary>Writes down what the client did (its FIN), so that the trace shows which calls came before it and which after.</summary>
    public void Mark(string clientEvent) => Add($"client: {clientEvent}");

    private void Add(string line)
    {
        lock (_trace) _trace.Add(line);
    }

    private static string Escape(ReadOnlySpan<byte> data) =>
        Encoding.Latin1.GetString(data).Replace("\r", "\\r").Replace("\n", "\\n");
}

/// <summary>Makes a <see cref="TracingHandler"/> around each handler of <paramref name="inner"/> and keeps the last one made.</summary>
internal sealed class TracingFactory(string name, Func<IConnectionHandler> inner) : IConnectionHandlerFactory
{
    private volatile TracingHandler? _last;

    public string Name => name;

    /// <summary>The handler of the latest connection, or null before the first.</summary>
    public TracingHandler? Last => _last;

    public IConnectionHandler Create(IConnectionContext context) => _last = new TracingHandler(inner());
}
