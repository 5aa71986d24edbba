using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ShardRuntime.Actors.ControlSocket;

/// <summary>
/// One parsed request: the command's name and the whole request object, whose other members the command reads
/// through <see cref="GetString"/> and <see cref="GetInt32"/>. Every problem is a <see cref="ControlRequestException"/>
/// that names the member.
/// </summary>
internal sealed class ControlRequest
{
    private const int MaxDepth = 8;
    private readonly JsonElement _root;

    private ControlRequest(string command, JsonElement root)
    {
        Command = command;
        _root = root;
    }

    public string Command { get; }

    /// <summary>Parses one request line (UTF-8 JSON, without its newline).</summary>
    public static ControlRequest Parse(ReadOnlyMemory<byte> utf8Json)
    {
        // The JSON reader checks structure, not the UTF-8 inside strings: reading such a string later would throw.
        var invalid = FirstInvalidUtf8(utf8Json.Span);
        if (invalid >= 0)
            throw new ControlRequestException(string.Create(CultureInfo.InvariantCulture, $"the request is not UTF-8 (byte {invalid})"));

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(utf8Json, new JsonDocumentOptions { MaxDepth = MaxDepth });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ControlRequestException($"malformed JSON: {e.Message}");
        }
        catch (ArgumentException e)
        {
            // Invalid UTF-8 surfaces as an ArgumentException from some code paths of the reader.
            throw new ControlRequestException($"malformed JSON: {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
            throw new ControlRequestException($"the request must be a JSON object, got {Describe(root.ValueKind)}");

        var request = new ControlRequest("", root);
        return new ControlRequest(request.GetString(ControlJson.CommandField), root);
    }

    /// <summary>Whether the request has the member at all (an optional one), null counting as absent.</summary>
    public bool Has(string field) => _root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>A required, non-empty string member.</summary>
    public string GetString(string field)
    {
        var value = Get(field);
        if (value.ValueKind != JsonValueKind.String)
            throw new ControlRequestException($"field '{field}' must be a string, got {Describe(value.ValueKind)}");
        var text = Text(field, value);
        if (string.IsNullOrWhiteSpace(text))
            throw new ControlRequestException($"field '{field}' must not be empty");
        return text;
    }

    /// <summary>A required integer member within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int GetInt32(string field, int min = int.MinValue, int max = int.MaxValue)
    {
        var value = Get(field);
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
            throw new ControlRequestException($"field '{field}' must be an integer, got {Describe(value)}");
        if (number < min || number > max)
        {
            throw new ControlRequestException(string.Create(CultureInfo.InvariantCulture,
                $"field '{field}' must be between {min} and {max}, got {number}"));
        }
        return (int)number;
    }

    /// <summary>An optional boolean member: false when absent.</summary>
    public bool GetFlag(string field)
    {
        if (!Has(field)) return false;
        var value = Get(field);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ControlRequestException($"field '{field}' must be true or false, got {Describe(value)}"),
        };
    }

    /// <summary>A required array of non-empty strings.</summary>
    public IReadOnlyList<string> GetStrings(string field)
    {
        var value = Get(field);
        if (value.ValueKind != JsonValueKind.Array)
            throw new ControlRequestException($"field '{field}' must be an array of strings, got {Describe(value)}");
        var items = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            var text = item.ValueKind == JsonValueKind.String ? Text(field, item) : null;
            if (string.IsNullOrWhiteSpace(text))
                throw new ControlRequestException($"field '{field}' must hold non-empty strings, got {Describe(item)}");
            items.Add(text);
        }
        return items;
    }

    /// <summary>A string member's text; an escaped surrogate without its pair (<c>"\ud800"</c>) is refused, naming the member.</summary>
    private static string Text(string field, JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            throw new ControlRequestException($"field '{field}' is not valid Unicode: {e.Message}");
        }
    }

    /// <summary>The offset of the first byte that does not begin a valid UTF-8 sequence, or -1.</summary>
    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        for (var offset = 0; offset < bytes.Length;)
        {
            if (Rune.DecodeFromUtf8(bytes[offset..], out _, out var length) != OperationStatus.Done) return offset;
            offset += length;
        }
        return -1;
    }

    private JsonElement Get(string field) =>
        _root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : throw new ControlRequestException($"missing field '{field}'");

    private static string Describe(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number ? $"the number {value.GetRawText()}" : Describe(value.ValueKind);

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}

/// <summary>A request the control socket cannot carry out as written; the message names the member at fault.</summary>
internal sealed class ControlRequestException(string message) : Exception(message);
