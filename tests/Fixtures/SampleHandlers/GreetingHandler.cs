using System.Text;
using SampleHandlers.PrivateDependency;
using ShardRuntime.Runtime.Connections;

namespace SampleHandlers;

/// <summary>Writes the greeting when connected, then echoes. Also usable as a handler type on its own (public parameterless constructor).</summary>
public sealed class GreetingHandler : IConnectionHandler
{
    private readonly byte[] _greeting;

    /// <summary>Creates a handler with the standard greeting.</summary>
    public GreetingHandler()
        : this(Greeting)
    {
    }

    /// <summary>Creates a handler with the given greeting.</summary>
    public GreetingHandler(string greeting) => _greeting = Encoding.ASCII.GetBytes(greeting);

    /// <summary>"hello v1!\n" or "hello v2!\n"; built with the private dependency, so using it loads that.</summary>
    public static string Greeting => Punctuation.Exclaim("hello " + SampleVersion.Text);

    /// <inheritdoc />
    public void OnConnected(IConnectionContext context) => context.Write(_greeting);

    /// <inheritdoc />
    public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
    {
        context.Write(data);
        return data.Length;
    }
}
