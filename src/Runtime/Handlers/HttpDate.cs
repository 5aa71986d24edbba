using System.Buffers;
using System.Buffers.Text;

namespace ShardRuntime.Runtime.Handlers;

/// <summary>
/// The value of the HTTP <c>Date</c> header (IMF-fixdate, RFC 9110 section 5.6.7), cached per thread and
/// re-formatted in place when the second changes, so producing it never allocates after a thread's first use.
/// </summary>
internal static class HttpDate
{
    /// <summary>Length in bytes of an IMF-fixdate (<c>Sun, 06 Nov 1994 08:49:37 GMT</c>).</summary>
    public const int Length = 29;

    [ThreadStatic] private static byte[]? t_value;
    [ThreadStatic] private static long t_second;

    /// <summary>The current date; valid until the calling thread asks again.</summary>
    public static ReadOnlySpan<byte> Current
    {
        get
        {
            var now = DateTime.UtcNow;
            var second = now.Ticks / TimeSpan.TicksPerSecond;
            var value = t_value;
            if (value is null || second != t_second)
            {
                value ??= t_value = new byte[Length];
                Utf8Formatter.TryFormat(now, value, out _, new StandardFormat('R'));
                t_second = second;
            }

            return value;
        }
    }
}
