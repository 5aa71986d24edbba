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
    public static string? FindError(string text) => new Scanner(text).FindError();

    /// <summary>One pass over the text: where it is (index, line, column), the brackets still open, a separator waiting for its value.</summary>
    private sealed class Scanner(string text)
    {
        private readonly Stack<(char Bracket, int Line, int Column)> _open = new();
        private int _line = 1;
        private int _column;
        private int _i;
        private (int Line, int Column)? _pendingValue; // a '=' or ':' that still waits for its value

        public string? FindError()
        {
            while (_i < text.Length)
            {
                var c = text[_i];
                _column++;
                if (SkipBlank(c)) continue;
                if (_pendingValue is { } separator && c is '}' or ']' or ',' or '=')
                    return NoValue(separator);
                _pendingValue = null;
                if (Token(c) is { } error) return error;
            }
            return AtEnd();
        }

        /// <summary>Steps over a line feed, other white space or a comment (to the end of its line). False for anything else.</summary>
        private bool SkipBlank(char c)
        {
            if (c == '\n')
            {
                _line++;
                _column = 0;
                _i++;
                return true;
            }
            if (char.IsWhiteSpace(c))
            {
                _i++;
                return true;
            }
            if (c == '#' || (c == '/' && _i + 1 < text.Length && text[_i + 1] == '/'))
            {
                while (_i < text.Length && text[_i] != '\n') _i++;
                _column = 0;
                return true;
            }
            return false;
        }

        /// <summary>Steps over the token that starts with <paramref name="c"/>; the problem it has, or null.</summary>
        private string? Token(char c)
        {
            switch (c)
            {
                case '{' or '[':
                    _open.Push((c, _line, _column));
                    _i++;
                    return null;
                case '}' or ']':
                    return Close(c);
                case '"':
                    return QuotedString();
                case '=' or ':':
                    _pendingValue = (_line, _column);
                    _i++;
                    return null;
                default:
                    _i++;
                    return null;
            }
        }

        private string? Close(char c)
        {
            var expected = c == '}' ? '{' : '[';
            if (_open.Count == 0)
                return $"line {_line}, column {_column}: '{c}' closes nothing";
            var (bracket, openLine, openColumn) = _open.Pop();
            if (bracket != expected)
                return $"line {_line}, column {_column}: '{c}' does not close the '{bracket}' opened at line {openLine}, column {openColumn}";
            _i++;
            return null;
        }

        private string? QuotedString()
        {
            var (startLine, startColumn) = (_line, _column);
            if (_i + 2 < text.Length && text[_i + 1] == '"' && text[_i + 2] == '"')
            {
                var end = text.IndexOf("\"\"\"", _i + 3, StringComparison.Ordinal);
                if (end < 0) return $"line {startLine}, column {startColumn}: the \"\"\" string is never closed";
                Advance(text, _i, end + 3, ref _line, ref _column);
                _i = end + 3;
                return null;
            }
            _i++;
            while (true)
            {
                if (_i >= text.Length || text[_i] == '\n')
                    return $"line {startLine}, column {startColumn}: the string is not closed on its line";
                if (text[_i] == '\\') _i += 2;
                else if (text[_i++] == '"') break;
            }
            _column += _i - (text.LastIndexOf('\n', _i - 1) + 1) - _column;
            return null;
        }

        private string? AtEnd()
        {
            if (_pendingValue is { } dangling)
                return NoValue(dangling);
            if (_open.Count > 0)
            {
                var (bracket, openLine, openColumn) = _open.Pop();
                return $"line {openLine}, column {openColumn}: '{bracket}' is never closed";
            }
            return null;
        }

        private static string NoValue((int Line, int Column) separator) =>
            $"line {separator.Line}, column {separator.Column}: '=' (or ':') is not followed by a value";
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
