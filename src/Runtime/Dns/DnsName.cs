namespace ShardRuntime.Runtime.Dns;

/// <summary>
/// Domain names as the zone looks them up: the wire form (length-prefixed labels, final zero), ASCII letters lowered,
/// each byte one char of a string key. Lowering only A-Z is DNS's case-insensitivity (RFC 4343); keeping the
/// length bytes keeps "a.b" and a label "a.b" apart.
/// </summary>
internal static class DnsName
{
    /// <summary>The lookup key of a configured name (absolute; a missing final dot is implied).</summary>
    /// <exception cref="DnsStaticOptionsException">The name is empty, has an empty or too long label, is too long, or is not ASCII.</exception>
    public static string KeyOf(string name, string optionKey)
    {
        if (string.IsNullOrEmpty(name))
            throw new DnsStaticOptionsException(optionKey, "a name may not be empty (the root is \".\")");
        if (name == ".")
            return "\0";

        var labels = (name.EndsWith('.') ? name[..^1] : name).Split('.');
        var key = new System.Text.StringBuilder(name.Length + 2);
        foreach (var label in labels)
        {
            if (label.Length is 0 or > DnsWire.MaxLabelLength)
                throw new DnsStaticOptionsException(optionKey, $"'{name}' has a label of {label.Length} characters (1 to {DnsWire.MaxLabelLength} allowed)");
            if (!label.All(c => c is > ' ' and < '\x7f'))
                throw new DnsStaticOptionsException(optionKey, $"'{name}' has a character other than printable ASCII (write an internationalised name in its xn-- form)");
            key.Append((char)label.Length).Append(label.ToLowerInvariant());
        }

        key.Append('\0');
        if (key.Length > DnsWire.MaxNameLength)
            throw new DnsStaticOptionsException(optionKey, $"'{name}' is {key.Length} bytes in wire form ({DnsWire.MaxNameLength} allowed)");
        return key.ToString();
    }

    /// <summary>
    /// Writes the lookup key of the uncompressed wire name <paramref name="wire"/> (already checked by the parser) into
    /// <paramref name="key"/>, which must be as long as <paramref name="wire"/>.
    /// </summary>
    public static void KeyOf(ReadOnlySpan<byte> wire, Span<char> key)
    {
        for (var i = 0; i < wire.Length; i++)
        {
            var b = wire[i];
            key[i] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b | 0x20 : b);
        }
    }
}
