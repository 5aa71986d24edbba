namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// A handler assembly could not be loaded, its type not found or not constructed or initialised. Whatever was
/// loaded for the attempt has been unloaded; a reload that throws this leaves the running generation serving.
/// </summary>
public sealed class HandlerLoadException : Exception
{
    /// <summary>Creates the exception for <paramref name="spec"/> with a reason an operator can act on.</summary>
    public HandlerLoadException(HandlerAssemblySpec spec, string reason, Exception? innerException = null)
        : base($"Cannot load handler '{spec.TypeName}' from '{spec.AssemblyPath}': {reason}", innerException)
    {
        Spec = spec;
        Reason = reason;
    }

    /// <summary>What was being loaded.</summary>
    public HandlerAssemblySpec Spec { get; }

    /// <summary>Why it failed, without the spec (the <see cref="Exception.Message"/> names both).</summary>
    public string Reason { get; }
}
