namespace SampleHandlers;

/// <summary>A public type that implements no handler contract.</summary>
public sealed class NotAHandler
{
    /// <summary>Something to have.</summary>
    public string Text => "not a handler";
}
