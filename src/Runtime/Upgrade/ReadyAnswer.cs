namespace ShardRuntime.Runtime.Upgrade;

/// <summary>How the old process answered the successor's Ready (<see cref="UpgradeClient.SendReadyAsync"/>).</summary>
public enum ReadyAnswer
{
    /// <summary>The old process committed: it stops accepting and drains; the successor is in charge.</summary>
    Released,

    /// <summary>The old process went away without answering (it crashed or was killed): the successor is the only one left.</summary>
    PredecessorGone,
}
