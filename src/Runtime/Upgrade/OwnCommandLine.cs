namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// This process's own command line, for starting a successor the way nginx re-executes itself: the same program (so the
/// binaries on disk now) with the same arguments.
/// </summary>
public static class OwnCommandLine
{
    /// <summary>
    /// /proc/self/cmdline without its last <paramref name="dropLast"/> words, the first word made absolute
    /// (<c>dotnet</c> becomes the running host's <see cref="Environment.ProcessPath"/>) and an assembly file a
    /// <c>dotnet</c> host runs made absolute too, in case the successor's working directory differs; e.g.
    /// <c>[/usr/share/dotnet/dotnet, /srv/app/MyApp.dll, --port, 8080]</c>. At least the program stays.
    /// </summary>
    /// <param name="dropLast">Words to leave off the end (the host leaves off Main's arguments to put its own).</param>
    public static IReadOnlyList<string> Read(int dropLast = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(dropLast);
        var words = File.ReadAllText("/proc/self/cmdline").Split('\0').ToList();
        if (words.Count > 0 && words[^1].Length == 0) words.RemoveAt(words.Count - 1);
        var program = words.Take(Math.Max(1, words.Count - dropLast)).ToList();
        program[0] = Environment.ProcessPath ?? program[0];
        for (var i = 1; i < program.Count; i++)
        {
            if (!program[i].StartsWith('-') && File.Exists(program[i])) program[i] = Path.GetFullPath(program[i]);
        }
        return program;
    }
}
