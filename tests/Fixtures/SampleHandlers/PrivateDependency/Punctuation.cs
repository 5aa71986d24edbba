namespace SampleHandlers.PrivateDependency;

/// <summary>Something SampleHandlers needs from a private dependency at run time (a method, so it is not inlined at compile time).</summary>
public static class Punctuation
{
    /// <summary>Ends <paramref name="text"/> with an exclamation mark and a line feed.</summary>
    public static string Exclaim(string text) => text + "!\n";
}
