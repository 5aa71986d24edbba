namespace ShardRuntime.Actors.Settings;

/// <summary>
/// A structural check of HOCON text before it reaches Akka's parser, which is lenient: it accepts unclosed braces,
/// swallows the rest of a file into an unterminated string, and on some unbalanced input
/// (<c>a = [1, 2 } } }</c>) loops forever. The check finds unbalanced or mismatched braces and brackets,
/// unterminated strings and a separator without a value, and names the line and column.
/// </summary>
public static class HoconSyntax
{
    /// <summary>Returns the first problem as "line L, column C: ...", or null when the structure is sound.</summary>
    public static string? FindError(string text)
    {
        var open = new Stack<(char Bracket, int Line, int Column)>();
        var line = 1;
        var column = 0;
        var i = 0;
        (int Line, int Column)? pendingValue = null; // a '=' or ':' that still waits for its value

        while (i < text.Length)
        {
            var c = text[i];
            column++;
            if (c == '\n')
            {
                line++;
                column = 0;
                i++;
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            if (c == '#' || (c == '/' && i + 1 < text.Length && text[i + 1] == '/'))
            {
                while (i < text.Length && text[i] != '\n') i++;
                column = 0;
                continue;
            }

            if (pendingValue is { } separator && c is '}' or ']' or ',' or '=')
                return $"line {separator.Line}, column {separator.Column}: '=' (or ':') is not followed by a value";
            pendingValue = null;

            switch (c)
            {
                case '{' or '[':
                    open.Push((c, line, column));
                    i++;
                    break;
                case '}' or ']':
                {
                    var expected = c == '}' ? '{' : '[';
                    if (open.Count == 0)
                        return $"line {line}, column {column}: '{c}' closes nothing";
                    var (bracket, openLine, openColumn) = open.Pop();
                    if (bracket != expected)
                        return $"line {line}, column {column}: '{c}' does not close the '{bracket}' opened at line {openLine}, column {openColumn}";
                    i++;
                    break;
                }
                case '"':
                {
                    var (startLine, startColumn) = (line, column);
                    if (i + 2 < text.Length && text[i + 1] == '"' && text[i + 2] == '"')
                    {
                        var end = text.IndexOf("\"\"\"", i + 3, StringComparison.Ordinal);
                        if (end < 0) return $"line {startLine}, column {startColumn}: the \"\"\" string is never closed";
                        Advance(text, i, end + 3, ref line, ref column);
                        i = end + 3;
                        break;
                    }
                    i++;
                    while (true)
                    {
                        if (i >= text.Length || text[i] == '\n')
                            return $"line {startLine}, column {startColumn}: the string is not closed on its line";
                        if (text[i] == '\\') i += 2;
                        else if (text[i++] == '"') break;
                    }
                    column += i - (text.LastIndexOf('\n', i - 1) + 1) - column;
                    break;
                }
                case '=' or ':':
                    pendingValue = (line, column);
                    i++;
                    break;
                default:
                    i++;
                    break;
            }
        }

        if (pendingValue is { } dangling)
            return $"line {dangling.Line}, column {dangling.Column}: '=' (or ':') is not followed by a value";
        if (open.Count > 0)
        {
            var (bracket, openLine, openColumn) = open.Pop();
            return $"line {openLine}, column {openColumn}: '{bracket}' is never closed";
        }
        return null;
    }

    private static void Advance(string text, int from, int to, ref int line, ref int column)
    {
        for (var j = from; j < to; j++)
        {
            if (text[j] == '\n')
            {
                line++;
                column = 0;
            }
            else if (j > from)
            {
                column++;
            }
        }
    }
}
