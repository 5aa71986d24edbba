using ShardRuntime.Runtime.Upgrade;

namespace ShardRuntime.Fuzz;

/// <summary>
/// The upgrade protocol's frame reader: the input is the byte stream a peer sends. Frames are read one after the other
/// until one is incomplete ("need more") or refused (<see cref="UpgradeException"/>). Each frame is used as a receiver
/// uses it (a batch's labels become socket labels, or a refusal) and must survive encoding and decoding again
/// unchanged. Any other exception is a finding.
/// </summary>
internal static class UpgradeFrameTarget
{
    public static void Run(byte[] input)
    {
        ReadOnlySpan<byte> rest = input;
        try
        {
            while (UpgradeFrame.TryDecode(rest, out var frame, out var consumed))
            {
                if (consumed <= 0 || consumed > rest.Length)
                {
                    throw new InvalidOperationException($"a frame took {consumed} of {rest.Length} bytes");
                }

                rest = rest[consumed..];
                Use(frame);
                var encoded = frame.Encode();
                if (!UpgradeFrame.TryDecode(encoded, out var again, out var length) || length != encoded.Length
                    || !again.Encode().AsSpan().SequenceEqual(encoded))
                {
                    throw new InvalidOperationException($"a {frame.Type} frame did not survive encoding and decoding");
                }
            }
        }
        catch (UpgradeException e) when (!string.IsNullOrWhiteSpace(e.Message))
        {
            // A refusal with a reason: the upgrade is abandoned and the old process keeps its sockets.
        }
    }

    private static void Use(UpgradeFrame frame)
    {
        _ = frame.ToString();
        foreach (var label in frame.Labels ?? [])
        {
            try
            {
                _ = label.ToLabel().ToString();
            }
            catch (UpgradeException e) when (!string.IsNullOrWhiteSpace(e.Message))
            {
                // The successor refuses the batch with this reason.
            }
        }
    }
}
