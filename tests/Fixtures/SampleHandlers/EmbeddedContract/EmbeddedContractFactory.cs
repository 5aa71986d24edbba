using ShardRuntime.Runtime.Connections;

namespace SampleHandlers.EmbeddedContract;

/// <summary>Implements the embedded copy of the contract, not the host's.</summary>
public sealed class EmbeddedContractFactory : IConnectionHandlerFactory
{
    /// <inheritdoc />
    public string Name => "embedded-contract";

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new Handler();

    private sealed class Handler : IConnectionHandler
    {
        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data) => data.Length;
    }
}
