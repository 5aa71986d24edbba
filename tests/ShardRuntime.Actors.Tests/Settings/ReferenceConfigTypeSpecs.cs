using System.Text.RegularExpressions;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Settings;

/// <summary>
/// reference.conf names .NET types by string (the connection mailbox, the cluster serializer): each must resolve, or the
/// first actor that needs it fails at run time (a namespace renamed once left the mailbox's name behind, and every
/// connection actor failed to start).
/// </summary>
public sealed class ReferenceConfigTypeSpecs
{
    [Fact]
    public void Every_type_named_in_reference_conf_must_resolve()
    {
        var text = ReferenceConfigText();
        var names = Regex.Matches(text, "\"(ShardRuntime\\.[A-Za-z0-9_.]+, ShardRuntime\\.[A-Za-z0-9_.]+)\"").Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.NotEmpty(names);
        Assert.All(names, name => Assert.True(Type.GetType(name) is not null, $"reference.conf names {name}, which does not resolve"));
    }

    private static string ReferenceConfigText()
    {
        var assembly = typeof(ReferenceConfig).Assembly;
        var resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith("reference.conf", StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
