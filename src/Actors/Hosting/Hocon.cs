using System.Globalization;
using System.Text;

namespace ShardRuntime.Actors.Hosting;

/// <summary>Writes option values as HOCON assignments; a null value writes nothing.</summary>
internal static class Hocon
{
    public static void Set(StringBuilder sb, string key, string? value)
    {
        if (value is null) return;
        sb.Append(key).Append(" = ").Append(Quote(value)).Append('\n');
    }

    public static void Set(StringBuilder sb, string key, int? value)
    {
        if (value is null) return;
        sb.Append(key).Append(" = ").Append(value.Value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    public static void Set(StringBuilder sb, string key, bool? value)
    {
        if (value is null) return;
        sb.Append(key).Append(" = ").Append(value.Value ? "on" : "off").Append('\n');
    }

    public static void Set(StringBuilder sb, string key, IEnumerable<string>? values)
    {
        if (values is null) return;
        sb.Append(key).Append(" = [").AppendJoin(", ", values.Select(Quote)).Append("]\n");
    }

    public static void Set(StringBuilder sb, string key, TimeSpan? value)
    {
        if (value is null) return;
        sb.Append(key).Append(" = ").Append(((long)value.Value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)).Append("ms\n");
    }

    public static string Quote(string value)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (char.IsControl(c)) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
