using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Settings;

public sealed class HoconSyntaxSpecs
{
    [Theory]
    [InlineData("")]
    [InlineData("a = 1")]
    [InlineData("shard-runtime { listeners { http { endpoint = \"127.0.0.1:8080\", handler = http-ok } } }")]
    [InlineData("a = [1, 2, { b = \"}\" }]\n# a comment with { and \"\n// another }\nc = \"\"\"multi\n{ line \"\"\"")]
    [InlineData("a = \"escaped \\\" quote { \"")]
    [InlineData("endpoint = 127.0.0.1:8080")]
    [InlineData("url = \"http://x\"")]
    public void Sound_HOCON_must_pass(string text)
    {
        Assert.Null(HoconSyntax.FindError(text));
    }

    [Theory]
    [InlineData("shard-runtime { listeners { http { endpoint = \"127.0.0.1:0\", handler = http-ok", "line 1, column 34: '{' is never closed")]
    [InlineData("a = 1 }", "line 1, column 7: '}' closes nothing")]
    [InlineData("a = [1, 2 } } }", "line 1, column 11: '}' does not close the '[' opened at line 1, column 5")]
    [InlineData("a {\n  b = \"unterminated\n}", "line 2, column 7: the string is not closed on its line")]
    [InlineData("a = }", "line 1, column 3: '=' (or ':') is not followed by a value")]
    [InlineData("a = = 1", "line 1, column 3: '=' (or ':') is not followed by a value")]
    [InlineData("a =", "line 1, column 3: '=' (or ':') is not followed by a value")]
    [InlineData("a = \"\"\"never closed", "line 1, column 5: the \"\"\" string is never closed")]
    public void Broken_HOCON_must_be_named_with_line_and_column(string text, string error)
    {
        Assert.Equal(error, HoconSyntax.FindError(text));
    }
}
