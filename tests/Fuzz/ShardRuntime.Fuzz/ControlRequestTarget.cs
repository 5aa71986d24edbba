using ShardRuntime.Actors.ControlSocket;

namespace ShardRuntime.Fuzz;

/// <summary>
/// The control socket's request reader: the input is what a client writes; the request line is the bytes up to the
/// first newline (as the connection reads it). It must become a command or a refusal
/// (<see cref="ControlRequestException"/>) that says what was wrong; any other exception is a finding.
/// </summary>
internal static class ControlRequestTarget
{
    public static void Run(byte[] input)
    {
        var newline = Array.IndexOf(input, (byte)'\n');
        var line = input.AsMemory(0, newline < 0 ? input.Length : newline);
        try
        {
            var (command, message) = ControlCommand.Parse(line);
            if (message is null || !ControlCommand.All.ContainsKey(command.Name))
            {
                throw new InvalidOperationException($"'{command.Name}' read into {message?.GetType().Name ?? "null"}");
            }
        }
        catch (ControlRequestException e) when (!string.IsNullOrWhiteSpace(e.Message))
        {
            // A refusal with a reason: the connection answers {"ok":false,"error":...}.
        }
    }
}
