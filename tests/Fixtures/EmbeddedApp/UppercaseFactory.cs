using System.Text;
using ShardRuntime.Runtime.Connections;

namespace EmbeddedApp;

/// <summary>A handler of the app's own: answers every byte upper-cased (ASCII). Known as <c>upper</c>.</summary>
public sealed class UppercaseFactory : IConnectionHandlerFactory
{
    public const string HandlerName = "upper";

    public string Name => HandlerName;

    public IConnectionHandler Create(IConnectionContext context) => new Handler();

    private sealed class Handler : IConnectionHandler
    {
        public int OnReceived(IConnectionContext context, ReadOnlySpan<byte> data)
        {
            Span<byte> upper = stackalloc byte[Math.Min(data.Length, 1024)];
            for (var offset = 0; offset < data.Length; offset += upper.Length)
            {
                var chunk = data.Slice(offset, Math.Min(upper.Length, data.Length - offset));
                Ascii.ToUpper(chunk, upper, out var written);
                context.Write(upper[..written]);
            }
            return data.Length;
        }

        public void OnInputEnded(IConnectionContext context, int unconsumed) => context.Close();
    }
}
