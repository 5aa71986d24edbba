using ShardRuntime.Runtime.Connections;

namespace ShardRuntime.Runtime.Tests.Handlers;

/// <summary>
/// Drives a handler the way the connection actor does: keeps the bytes the handler did not consume and
/// presents them again, followed by the newly received ones; stops reading once the connection is closing.
/// </summary>
internal sealed class HandlerDriver
{
    private byte[] _unconsumed = [];

    public HandlerDriver(IConnectionHandler handler, FakeConnectionContext? context = null)
    {
        Handler = handler;
        Context = context ?? new FakeConnectionContext();
        Handler.OnConnected(Context);
    }

    public IConnectionHandler Handler { get; }

    public FakeConnectionContext Context { get; }

    public int Unconsumed => _unconsumed.Length;

    public void Receive(ReadOnlySpan<byte> received)
    {
        if (Context.IsClosing)
        {
            return;
        }

        var data = new byte[_unconsumed.Length + received.Length];
        _unconsumed.CopyTo(data, 0);
        received.CopyTo(data.AsSpan(_unconsumed.Length));
        var consumed = Handler.OnReceived(Context, data);
        Assert.InRange(consumed, 0, data.Length);
        _unconsumed = data[consumed..];
    }

    public void Receive(string received) => Receive(System.Text.Encoding.Latin1.GetBytes(received));

    public void EndInput() => Handler.OnInputEnded(Context, _unconsumed.Length);
}
