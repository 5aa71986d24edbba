using System.Runtime.InteropServices;

namespace ShardRuntime.Host.Node;

/// <summary>
/// SIGHUP reloads a node, as it reloads nginx. A node started under <c>nohup</c>, or by anything else that ignores
/// SIGHUP, inherits the signal ignored, and .NET keeps an ignored signal ignored when a handler is registered for it:
/// <c>kill -HUP</c> would then do nothing at all. <see cref="TakeBackIfIgnored"/> puts the default disposition back
/// before the node registers its handler, so that the registration takes effect (a hang-up then reloads instead of
/// being ignored; it still does not stop the node, which is what nohup is for).
/// </summary>
internal static partial class HangupSignal
{
    private const int SigHup = 1;
    private const nint SigDfl = 0;
    private const nint SigIgn = 1;

    /// <summary>Makes SIGHUP catchable again when the process inherited it ignored; true when it did.</summary>
    public static bool TakeBackIfIgnored()
    {
        if (sigaction(SigHup, 0, out var current) != 0 || current.Handler != SigIgn)
            return false; // the default, or a handler: the registration that follows takes it as it is
        return signal(SigHup, SigDfl) == SigIgn;
    }

    /// <summary>glibc's struct sigaction begins with the handler; the rest (mask, flags, restorer) is room only.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct SigAction
    {
        public nint Handler;
    }

    [LibraryImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static partial int sigaction(int signal, nint action, out SigAction previous);

    [LibraryImport("libc", EntryPoint = "signal", SetLastError = true)]
    private static partial nint signal(int signal, nint handler);
}
