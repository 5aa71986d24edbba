using System.Buffers;
using ShardRuntime.Runtime.Connections;

namespace SampleHandlers;

/// <summary>An async-style handler from a user assembly: writes back what it reads in upper case, with its generation first.</summary>
public sealed class ShoutStreamHandler : IStreamConnectionHandler
{
    /// <inheritdoc />
    public async Task RunAsync(IStreamConnection connection)
    {
        await connection.Transport.Output.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"g{connection.HandlerGeneration}\n"));
        while (true)
        {
            var result = await connection.Transport.Input.ReadAsync();
            var bytes = result.Buffer.ToArray();
            for (var i = 0; i < bytes.Length; i++) bytes[i] = (byte)char.ToUpperInvariant((char)bytes[i]);
            await connection.Transport.Output.WriteAsync(bytes);
            connection.Transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return;
        }
    }
}

/// <summary>The factory of <see cref="ShoutStreamHandler"/>, named "shout-async".</summary>
public sealed class ShoutStreamFactory : IStreamConnectionHandlerFactory
{
    /// <inheritdoc />
    public string Name => "shout-async";

    /// <inheritdoc />
    public IStreamConnectionHandler Create(IStreamConnection connection) => new ShoutStreamHandler();
}
