using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.TestKit.Tests;

/// <summary>A handler whose OnReceived a spec writes inline; it counts its calls and keeps the close reasons it was given.</summary>
internal sealed class ScriptedHandler(ScriptedHandler.Receive onReceived) : IConnectionHandler
{
    public delegate int Receive(IConnectionContext context, ReadOnlySpan<byte> data);

    public int Calls { get; private set; }

    public List<ConnectionCloseReason> Closed { get; } = new();

    public Action<IConnectionContext, object>? OnMessageCalled { get; init; }

    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        Calls++;
        return onReceived(context, data);
    }

    public void OnMessage(IConnectionContext context, object message) => OnMessageCalled?.Invoke(context, message);

    public void OnClosed(IConnectionContext context, ConnectionCloseReason reason) => Closed.Add(reason);
}
