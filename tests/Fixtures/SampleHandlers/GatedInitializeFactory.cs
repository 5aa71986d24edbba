using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Loading;

namespace SampleHandlers;

/// <summary>
/// A factory whose initialisation waits (at most two minutes) until the file named by the <see cref="AppContext"/> data
/// <see cref="GateKey"/> exists: a load that takes as long as a test wants, to show who waits for it and who does not.
/// </summary>
public sealed class GatedInitializeFactory : IInitializableHandlerFactory
{
    /// <summary>AppContext key holding the path of the file whose existence lets <see cref="Initialize"/> return.</summary>
    public const string GateKey = "SampleHandlers.GatedInitializeFactory.Gate";

    /// <inheritdoc />
    public string Name => "gated-initialize";

    /// <inheritdoc />
    public void Initialize()
    {
        var gate = AppContext.GetData(GateKey) as string ?? throw new InvalidOperationException($"AppContext data {GateKey} is not set");
        var giveUp = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!File.Exists(gate))
        {
            if (DateTime.UtcNow > giveUp) throw new TimeoutException($"{gate} did not appear within two minutes");
            Thread.Sleep(10);
        }
    }

    /// <inheritdoc />
    public IConnectionHandler Create(IConnectionContext context) => new GreetingHandler();
}
