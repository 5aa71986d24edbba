namespace ShardRuntime.Runtime.Sockets.Udp;

/// <summary>How a <see cref="DatagramBatch.ReceiveTurn"/> ended.</summary>
public enum ReceiveTurnEnd
{
    /// <summary>The socket was found empty and the registration is armed: the next datagram wakes the owner.</summary>
    Armed,

    /// <summary>The turn's budget of batches was spent with datagrams perhaps still waiting; nothing is armed: run another turn.</summary>
    BudgetSpent,
}
