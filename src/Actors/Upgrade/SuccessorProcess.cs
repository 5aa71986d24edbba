using System.Diagnostics;
using Akka.Actor;

namespace ShardRuntime.Actors.Upgrade;

/// <summary>
/// A successor process this node started for an upgrade, until it connects to the upgrade socket: its pid, and its exit
/// reported to the predecessor actor (the process's Exited event runs outside the actor).
/// </summary>
internal sealed class SuccessorProcess(Process process)
{
    /// <summary>Its pid (0 once it cannot be read).</summary>
    public int ProcessId { get; } = SafeId(process);

    /// <summary>Whether <paramref name="pid"/> is this process.</summary>
    public bool Is(int pid) => ProcessId != 0 && ProcessId == pid;

    /// <summary>Tells <paramref name="owner"/> <see cref="Exited"/> once the process exits (at once if it did already).</summary>
    public void ReportExitTo(IActorRef owner)
    {
        var pid = ProcessId;
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => owner.Tell(new Exited(pid, SafeExitCode(process)));
        if (process.HasExited) owner.Tell(new Exited(pid, SafeExitCode(process)));
    }

    /// <summary>Kills it; false when it had exited already.</summary>
    public bool Kill()
    {
        try
        {
            process.Kill();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static int SafeId(Process process)
    {
        try
        {
            return process.Id;
        }
        catch (InvalidOperationException)
        {
            return 0;
        }
    }

    private static int SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return -1;
        }
    }

    /// <summary>Sender: the process's Exited event. Receiver: the predecessor actor. The successor exited with <paramref name="ExitCode"/>.</summary>
    public sealed record Exited(int ProcessId, int ExitCode);
}
