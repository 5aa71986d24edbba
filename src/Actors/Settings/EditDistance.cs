namespace ShardRuntime.Actors.Settings;

/// <summary>How far apart two names are, to suggest the name that was meant (a configuration key, a handler name).</summary>
internal static class EditDistance
{
    /// <summary>The optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours count one each.</summary>
    public static int Between(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }

    /// <summary>The largest distance at which a name still counts as a misspelling of another: 1 for short names, up to 3.</summary>
    public static int Limit(string name) => Math.Max(1, Math.Min(3, name.Length / 4));

    /// <summary>The candidates nearest to <paramref name="name"/> within <see cref="Limit"/>, in their order; none when nothing is that near.</summary>
    public static IReadOnlyList<string> Nearest(string name, IEnumerable<string> candidates)
    {
        var near = candidates.Select(c => (Name: c, Distance: Between(name, c))).Where(c => c.Distance <= Limit(name)).ToList();
        return near.Count == 0 ? [] : near.Where(c => c.Distance == near.Min(n => n.Distance)).Select(c => c.Name).ToList();
    }
}
