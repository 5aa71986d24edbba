using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace ShardRuntime.EndToEnd.Tests.Support;

/// <summary>
/// One service of a compose file as <c>docker-compose config</c> prints it (normalised: anchors merged, paths absolute),
/// the parts the specs check. Reads the short and the long forms of each part, so that the output of Compose v1
/// (Debian 12) and of Compose v2 read alike.
/// </summary>
internal sealed partial record ComposeService(
    string Name,
    string? Image,
    ComposeService.BuildSpec? Build,
    IReadOnlyList<string> DependsOn,
    IReadOnlyDictionary<string, string> Environment,
    IReadOnlyList<ComposeService.Mount> Mounts,
    IReadOnlyList<ComposeService.Port> Ports,
    TimeSpan? StopGracePeriod)
{
    /// <summary>An image built from <see cref="Dockerfile"/> (relative to <see cref="Context"/>).</summary>
    public sealed record BuildSpec(string Context, string Dockerfile);

    /// <summary>A host path (or volume) mounted at <see cref="Target"/> in the container.</summary>
    public sealed record Mount(string Source, string Target, bool ReadOnly);

    /// <summary>A container port published on a port of the host.</summary>
    public sealed record Port(int Published, int Target);

    /// <summary>Every service under <c>services:</c> of the compose file <paramref name="yaml"/>, in file order.</summary>
    public static IReadOnlyList<ComposeService> ReadAll(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents.Single().RootNode;
        if (Child(root, "services") is not YamlMappingNode services)
            throw new InvalidDataException($"no services: mapping in\n{yaml}");
        return [.. services.Children.Select(kv => Read(Text(kv.Key), (YamlMappingNode)kv.Value))];
    }

    private static ComposeService Read(string name, YamlMappingNode service) => new(
        name,
        Child(service, "image") is YamlScalarNode image ? image.Value : null,
        Child(service, "build") switch
        {
            null => null,
            YamlScalarNode context => new BuildSpec(Text(context), "Dockerfile"),
            YamlMappingNode build => new BuildSpec(Text(Child(build, "context")), Child(build, "dockerfile") is { } file ? Text(file) : "Dockerfile"),
            var other => throw new InvalidDataException($"{name}: build is neither a path nor a mapping: {other}"),
        },
        Child(service, "depends_on") switch
        {
            null => [],
            YamlMappingNode byName => [.. byName.Children.Keys.Select(Text)],
            YamlSequenceNode names => [.. names.Select(Text)],
            var other => throw new InvalidDataException($"{name}: depends_on is neither a list nor a mapping: {other}"),
        },
        Child(service, "environment") switch
        {
            null => new Dictionary<string, string>(),
            YamlMappingNode variables => variables.Children.ToDictionary(kv => Text(kv.Key), kv => Text(kv.Value)),
            YamlSequenceNode assignments => assignments.Select(Text).Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""),
            var other => throw new InvalidDataException($"{name}: environment is neither a list nor a mapping: {other}"),
        },
        Child(service, "volumes") is YamlSequenceNode volumes ? [.. volumes.Select(ReadMount)] : [],
        Child(service, "ports") is YamlSequenceNode ports ? [.. ports.Select(ReadPort)] : [],
        Child(service, "stop_grace_period") is { } period ? ParseDuration(Text(period)) : null);

    private static Mount ReadMount(YamlNode volume) => volume switch
    {
        // source:target[:mode], mode a comma-separated list such as "ro" or "ro,z"
        YamlScalarNode { Value: { } shortForm } => shortForm.Split(':') is var parts && parts.Length >= 2
            ? new Mount(parts[0], parts[1], parts.Length > 2 && parts[2].Split(',').Contains("ro"))
            : throw new InvalidDataException($"volume '{shortForm}' is not source:target[:mode]"),
        YamlMappingNode longForm => new Mount(
            Text(Child(longForm, "source")),
            Text(Child(longForm, "target")),
            Child(longForm, "read_only") is { } readOnly && Text(readOnly) == "true"),
        _ => throw new InvalidDataException($"volume {volume} is neither a string nor a mapping"),
    };

    private static Port ReadPort(YamlNode port) => port switch
    {
        // [host-ip:]published:target[/protocol]
        YamlScalarNode { Value: { } shortForm } => shortForm.Split('/')[0].Split(':') is var parts && parts.Length >= 2
            ? new Port(Number(parts[^2]), Number(parts[^1]))
            : throw new InvalidDataException($"port '{shortForm}' publishes nothing (no published:target)"),
        YamlMappingNode longForm => new Port(
            Child(longForm, "published") is { } published ? Number(Text(published)) : throw new InvalidDataException($"port {port} publishes nothing"),
            Number(Text(Child(longForm, "target")))),
        _ => throw new InvalidDataException($"port {port} is neither a string nor a mapping"),
    };

    /// <summary>A Compose duration: "60s", "1m30s", "1.5s", "500ms" (Compose v2 prints "1m0s").</summary>
    private static TimeSpan ParseDuration(string text)
    {
        var match = DurationPattern().Match(text);
        if (!match.Success)
            throw new InvalidDataException($"'{text}' is not a duration such as 60s or 1m30s");
        var total = TimeSpan.Zero;
        for (var i = 0; i < match.Groups["value"].Captures.Count; i++)
        {
            var value = double.Parse(match.Groups["value"].Captures[i].Value, CultureInfo.InvariantCulture);
            total += match.Groups["unit"].Captures[i].Value switch
            {
                "h" => TimeSpan.FromHours(value),
                "m" => TimeSpan.FromMinutes(value),
                "s" => TimeSpan.FromSeconds(value),
                "ms" => TimeSpan.FromMilliseconds(value),
                "us" => TimeSpan.FromMicroseconds(value),
                _ => TimeSpan.FromTicks((long)(value / 100)),
            };
        }
        return total;
    }

    private static YamlNode? Child(YamlMappingNode mapping, string key) =>
        mapping.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string Text(YamlNode? node) => node switch
    {
        YamlScalarNode scalar => scalar.Value ?? "",
        null => throw new InvalidDataException("a value is missing"),
        _ => throw new InvalidDataException($"expected a single value, got {node}"),
    };

    private static int Number(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new InvalidDataException($"'{text}' is not a port number");

    [GeneratedRegex(@"^(?:(?<value>\d+(?:\.\d+)?)(?<unit>h|ms|m|s|us|ns))+$")]
    private static partial Regex DurationPattern();
}
