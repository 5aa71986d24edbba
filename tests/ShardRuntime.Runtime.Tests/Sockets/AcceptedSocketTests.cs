using System.Net;
using System.Net.Sockets;
using ShardRuntime.Runtime.Sockets;
using ShardRuntime.Runtime.Sockets.Readiness;

namespace ShardRuntime.Runtime.Tests.Sockets;

public sealed class AcceptedSocketTests
{
    private static Socket Listen(IPAddress address)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        listener.Bind(new IPEndPoint(address, 0));
        listener.Listen();
        SocketOptionsNative.SetNonBlocking(listener);
        return listener;
    }

    private static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    private static async Task<AcceptedSocket> AcceptAsync(Socket listener)
    {
        var (error, accepted) = await Eventually.ValueAsync(() =>
        {
            var error = AcceptedSocket.Accept(Fd(listener), out var accepted);
            return Task.FromResult((Error: error, Accepted: accepted));
        }, tried => tried.Error != SocketError.WouldBlock, Eventually.Timeout);
        Assert.True(error != SocketError.WouldBlock, "no connection to accept");
        Assert.Equal(SocketError.Success, error);
        return accepted!;
    }

    [Fact]
    public async Task Accept_must_say_would_block_on_an_empty_queue_and_give_the_connection_with_its_addresses()
    {
        using var listener = Listen(IPAddress.Loopback);
        Assert.Equal(SocketError.WouldBlock, AcceptedSocket.Accept(Fd(listener), out _));

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await AcceptAsync(listener);
        try
        {
            Assert.Equal(client.LocalEndPoint, accepted.RemoteEndPoint);
            Assert.Equal(listener.LocalEndPoint, accepted.LocalEndPoint);
            // What shards rely on instead of a setsockopt() per connection: Linux copies TCP_NODELAY from the listener.
            using (var view = new Socket(new SafeSocketHandle(accepted.Fd, ownsHandle: false)))
                Assert.True(view.NoDelay);

            client.Send("ping"u8);
            var buffer = new byte[8];
            var (n, error) = await Eventually.ValueAsync(() =>
            {
                var n = SocketIo.Receive(accepted.Fd, buffer, out var error);
                return Task.FromResult((Read: n, Error: error));
            }, tried => tried.Read >= 0 || tried.Error != SocketError.WouldBlock, Eventually.Timeout); // the accepted socket is non-blocking
            Assert.True(n >= 0, $"nothing received: {error}");
            Assert.Equal("ping"u8.ToArray(), buffer[..n]);

            // shutdown(SHUT_WR) is a FIN: the client reads the reply, then the end.
            Assert.Equal(4, SocketIo.Send(accepted.Fd, "pong"u8, out _));
            Assert.Equal(SocketError.Success, accepted.ShutdownSend());
            var received = new MemoryStream();
            var chunk = new byte[16];
            while ((n = await client.ReceiveAsync(chunk)) > 0) received.Write(chunk, 0, n);
            Assert.Equal("pong"u8.ToArray(), received.ToArray());
        }
        finally
        {
            accepted.Close();
        }
    }

    [Fact]
    public async Task An_abortive_close_must_reset_the_peer()
    {
        using var listener = Listen(IPAddress.Loopback);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await AcceptAsync(listener);

        accepted.SetAbortiveClose();
        accepted.Close();

        var e = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[4]));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
    }

    [Fact]
    public async Task Addresses_of_an_IPv6_connection_must_be_read_too()
    {
        if (!Socket.OSSupportsIPv6) return; // nothing to test without IPv6
        Socket listener;
        try
        {
            listener = Listen(IPAddress.IPv6Loopback);
        }
        catch (SocketException)
        {
            return; // ::1 is not configured here
        }
        using var listenerOwner = listener;
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await AcceptAsync(listener);
        try
        {
            Assert.Equal(client.LocalEndPoint, accepted.RemoteEndPoint);
            Assert.Equal(listener.LocalEndPoint, accepted.LocalEndPoint);
        }
        finally
        {
            accepted.Close();
        }
    }

    [Fact]
    public void A_bad_descriptor_must_be_reported_as_aborted_and_an_unknown_family_as_no_address()
    {
        // -1, not a closed descriptor's number: other tests running in parallel may have been given that number since.
        Assert.Equal(SocketError.OperationAborted, AcceptedSocket.Accept(-1, out _));
        Assert.Null(AcceptedSocket.Parse([1, 0, 0, 0])); // AF_UNIX
        Assert.Null(new AcceptedSocket(-1).RemoteEndPoint);
    }
}
