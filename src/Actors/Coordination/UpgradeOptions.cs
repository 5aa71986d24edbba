using System.Diagnostics;
using System.Net.Sockets;
using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Actors.Coordination;

/// <summary>How a node takes part in process upgrades.</summary>
public sealed class UpgradeOptions
{
    /// <summary>
    /// Listening sockets this process inherited, each with its label: from a predecessor through the upgrade socket
    /// (<c>run --upgrade-from</c>), or from systemd (LISTEN_FDS, labelled by FileDescriptorName=). The coordinator adopts
    /// them for the listeners of its configuration instead of binding, and closes its copies of the rest.
    /// </summary>
    public IReadOnlyList<(Socket Socket, SocketLabel Label)> Inherited { get; init; } = [];

    /// <summary>Where the inherited sockets came from, for logs ("predecessor pid 1234", "systemd").</summary>
    public string InheritedFrom { get; init; } = "";

    /// <summary>This process's generation: 1, or one more than the predecessor's.</summary>
    public int ProcessGeneration { get; init; } = 1;

    /// <summary>
    /// A successor takes over this node's control and upgrade socket paths only once its predecessor released the
    /// sockets (the host tells them to bind then); until then they are not bound.
    /// </summary>
    public bool DeferSocketFiles { get; init; }

    /// <summary>
    /// Starts a successor process that connects to the given upgrade socket path (<c>run --upgrade-from &lt;path&gt;</c>);
    /// null when this node cannot start one (then <see cref="Coordinator.Upgrade"/> is refused, but a successor started
    /// by hand is still served).
    /// </summary>
    public Func<string, Process>? StartSuccessor { get; init; }

    /// <summary>
    /// The options of a successor that received <paramref name="sockets"/> from the node at <paramref name="upgradeSocket"/>
    /// (process generation <paramref name="predecessorGeneration"/>): it adopts them, is one generation further, and binds
    /// its control and upgrade socket paths only once the predecessor let go.
    /// </summary>
    /// <param name="sockets">Every socket received, with its label.</param>
    /// <param name="predecessorGeneration">The predecessor's process generation.</param>
    /// <param name="upgradeSocket">The predecessor's upgrade socket, for logs.</param>
    /// <param name="startSuccessor">How this node in turn starts its own successor (null: it cannot).</param>
    public static UpgradeOptions FromPredecessor(
        IReadOnlyList<(Socket Socket, SocketLabel Label)> sockets, int predecessorGeneration, string upgradeSocket, Func<string, Process>? startSuccessor) =>
        new()
        {
            Inherited = sockets,
            InheritedFrom = $"the node at {upgradeSocket} (process generation {predecessorGeneration})",
            ProcessGeneration = predecessorGeneration + 1,
            DeferSocketFiles = true,
            StartSuccessor = startSuccessor,
        };
}
