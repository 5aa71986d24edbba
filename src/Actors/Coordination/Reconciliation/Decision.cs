namespace ShardRuntime.Actors.Coordination.Reconciliation;

/// <summary>What the <see cref="Reconciler"/> decided: a refusal with its reason (nothing may change), or a plan.</summary>
internal abstract record Decision
{
    private Decision() { }

    /// <summary>The desired state cannot be honoured; <paramref name="Reason"/> says why (the operator reads it).</summary>
    public sealed record Refused(string Reason) : Decision;

    /// <summary>The plan that makes the node match the desired state.</summary>
    public sealed record Planned(Plan Plan) : Decision;
}
