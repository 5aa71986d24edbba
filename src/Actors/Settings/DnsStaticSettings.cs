using Akka.Configuration;
using Akka.Configuration.Hocon;
using ShardRuntime.Runtime.Dns;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// The <c>dns-static</c> block of a listener whose handler is <c>dns-static</c>: its zone, read and checked when the
/// settings are read (a bad record fails the start or the reload naming its full key). Equal when the block's text is:
/// a <c>reload</c> that changed the records makes the listener's settings differ, so the change is applied.
/// </summary>
public sealed class DnsStaticSettings : IEquatable<DnsStaticSettings>
{
    /// <summary>The key of the block in a listener.</summary>
    public const string Key = "dns-static";

    private readonly string _text;

    private DnsStaticSettings(DnsStaticOptions options, string text)
    {
        Options = options;
        _text = text;
    }

    /// <summary>The zone, as the handler takes it.</summary>
    public DnsStaticOptions Options { get; }

    /// <summary>Reads the block <paramref name="block"/> found at <paramref name="path"/> (the full key of the block).</summary>
    internal static DnsStaticSettings Create(Config block, string path)
    {
        var r = new ConfigReader(block, path);
        var zone = r.GetString("zone", allowEmpty: true);
        var ttl = r.GetDuration("ttl", TimeSpan.Zero);
        var maxUdpPayload = r.GetInt("max-udp-payload", 512, 65507);
        var records = new List<KeyValuePair<string, IEnumerable<KeyValuePair<string, IReadOnlyList<string>>>>>();
        var recordsValue = block.GetValue("records");
        if (recordsValue is not null && !recordsValue.IsObject())
            throw new ShardRuntimeConfigurationException(r.KeyOf("records"), "must be a block of names, such as { \"host.example.\" { A = [\"192.0.2.1\"] } }");
        foreach (var (name, types) in recordsValue?.GetObject().Items ?? [])
        {
            var nameKey = $"{path}.{DnsStaticOptions.RecordKey(name)}";
            if (!types.IsObject())
                throw new ShardRuntimeConfigurationException(nameKey, "must be a block of record types, such as { A = [\"192.0.2.1\"], TXT = [\"text\"] }");
            var byType = types.GetObject().Items
                .Select(t => KeyValuePair.Create(t.Key, Values(t.Value, $"{nameKey}.{t.Key}")))
                .ToList();
            records.Add(KeyValuePair.Create(name, (IEnumerable<KeyValuePair<string, IReadOnlyList<string>>>)byType));
        }
        try
        {
            var options = DnsStaticOptions.FromText(zone, ttl, maxUdpPayload, records);
            // Compiling the zone checks what FromText leaves to it (names outside the zone, lengths).
            _ = new Runtime.Handlers.DnsStaticHandlerFactory(options);
            return new DnsStaticSettings(options, block.Root.ToString());
        }
        catch (DnsStaticOptionsException e)
        {
            throw new ShardRuntimeConfigurationException($"{path}.{e.Key}", e.Reason, e);
        }
    }

    private static IReadOnlyList<string> Values(HoconValue value, string key)
    {
        if (value.IsArray())
            return value.GetArray().Select(v => v.IsString() ? v.GetString() : throw new ShardRuntimeConfigurationException(key, "must be a list of strings")).ToList();
        if (value.IsString()) return [value.GetString()];
        throw new ShardRuntimeConfigurationException(key, "must be a list of strings, such as [\"192.0.2.1\"]");
    }

    /// <inheritdoc />
    public bool Equals(DnsStaticSettings? other) => other is not null && _text == other._text;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as DnsStaticSettings);

    /// <inheritdoc />
    public override int GetHashCode() => _text.GetHashCode(StringComparison.Ordinal);
}
