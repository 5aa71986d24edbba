using System.Net;
using Akka.Configuration;

namespace ShardRuntime.Actors.Settings;

/// <summary>
/// Reads typed values from one HOCON block and turns every missing or malformed value into a
/// <see cref="ShardRuntimeConfigurationException"/> that names the full key. No defaults here: they live in reference.conf.
/// </summary>
internal readonly struct ConfigReader
{
    private readonly Config _config;
    private readonly string _path;

    public ConfigReader(Config config, string path)
    {
        _config = config;
        _path = path;
    }

    public string KeyOf(string key) => _path.Length == 0 ? key : _path + "." + key;

    public bool Has(string key) => _config.HasPath(key);

    private T Read<T>(string key, Func<Config, string, T> read, string expected)
    {
        if (!_config.HasPath(key))
            throw new ShardRuntimeConfigurationException(KeyOf(key), "is missing (it has no default in reference.conf either)");
        try
        {
            return read(_config, key);
        }
        catch (Exception e) when (e is not ShardRuntimeConfigurationException)
        {
            throw new ShardRuntimeConfigurationException(KeyOf(key), $"expected {expected}, got '{Raw(key)}'", e);
        }
    }

    private string Raw(string key)
    {
        try { return _config.GetValue(key)?.ToString() ?? ""; }
        catch { return "?"; }
    }

    public string GetString(string key, bool allowEmpty = false)
    {
        var value = Read(key, (c, k) => c.GetString(k), "a string");
        if (!allowEmpty && string.IsNullOrWhiteSpace(value))
            throw new ShardRuntimeConfigurationException(KeyOf(key), "must not be empty");
        return value ?? "";
    }

    public bool GetBool(string key) => Read(key, (c, k) =>
    {
        var raw = c.GetString(k)?.Trim().ToLowerInvariant();
        return raw switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw new FormatException("not a boolean"),
        };
    }, "on or off");

    public int GetInt(string key, int min, int max)
    {
        var value = Read(key, (c, k) =>
        {
            var raw = c.GetString(k);
            return int.Parse(raw, System.Globalization.CultureInfo.InvariantCulture);
        }, "an integer");
        if (value < min || value > max)
            throw new ShardRuntimeConfigurationException(KeyOf(key), $"must be between {min} and {max}, got {value}");
        return value;
    }

    public TimeSpan GetDuration(string key, TimeSpan min)
    {
        var value = Read(key, (c, k) =>
        {
            var raw = c.GetString(k);
            if (string.IsNullOrWhiteSpace(raw) || !char.IsDigit(raw.Trim()[0]))
                throw new FormatException("not a duration");
            return c.GetTimeSpan(k, null, allowInfinite: false);
        }, "a duration such as 500ms, 30s or 2m");
        if (value < min)
            throw new ShardRuntimeConfigurationException(KeyOf(key), $"must be at least {min}, got {value}");
        return value;
    }

    public long GetBytes(string key, long min, long max)
    {
        var value = Read(key, (c, k) => c.GetByteSize(k) ?? throw new FormatException("not a size"),
            "a size such as 4096, 64 KiB or 1 MiB");
        if (value < min || value > max)
            throw new ShardRuntimeConfigurationException(KeyOf(key), $"must be between {min} and {max} bytes, got {value}");
        return value;
    }

    public IReadOnlyList<string> GetStringList(string key) => Read(key, (c, k) =>
    {
        // A string is not a list (HOCON would not split it); [] and a list over a fallback read as lists.
        if (c.GetValue(k) is not { } value || value.IsString()) throw new FormatException("not a list");
        return (IReadOnlyList<string>)c.GetStringList(k).Select(v => v.Trim()).ToList();
    }, "a list such as [a, b]");

    public IPEndPoint GetEndPoint(string key)
    {
        var raw = GetString(key);
        var hasPort = raw.StartsWith('[') ? raw.Contains("]:", StringComparison.Ordinal) : raw.Count(c => c == ':') == 1;
        if (!hasPort || !IPEndPoint.TryParse(raw, out var endPoint))
            throw new ShardRuntimeConfigurationException(KeyOf(key),
                $"expected an address and port such as 127.0.0.1:8080 or [::1]:8080, got '{raw}'");
        return endPoint;
    }

    public TEnum GetEnum<TEnum>(string key) where TEnum : struct, Enum
    {
        var raw = GetString(key);
        if (Enum.TryParse<TEnum>(raw, ignoreCase: true, out var value) && !int.TryParse(raw, out _))
            return value;
        var names = string.Join(", ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()));
        throw new ShardRuntimeConfigurationException(KeyOf(key), $"expected one of {names}, got '{raw}'");
    }
}
