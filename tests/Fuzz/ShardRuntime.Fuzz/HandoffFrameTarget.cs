using ShardRuntime.Runtime.Handover;

namespace ShardRuntime.Fuzz;

/// <summary>
/// The handoff protocol's frame reader: the input is the byte stream a peer sends. Frames are read one after the other
/// until one is incomplete ("need more") or refused (<see cref="HandoverException"/>). Each frame is used as a receiver
/// uses it (a batch's labels become socket labels, or a refusal) and must survive encoding and decoding again
/// unchanged. Any other exception is a finding.
/// </summary>
internal static class HandoffFrameTarget
{
    public static void Run(byte[] input)
    {
        ReadOnlySpan<byte> rest = input;
        try
        {
            while (HandoverFrame.TryDecode(rest, out var frame, out var consumed))
            {
                if (consumed <= 0 || consumed > rest.Length)
                {
                    throw new InvalidOperationException($"a frame took {consumed} of {rest.Length} bytes");
                }

                rest = rest[consumed..];
                Use(frame);
                var encoded = frame.Encode();
                if (!HandoverFrame.TryDecode(encoded, out var again, out var length) || length != encoded.Length
                    || !again.Encode().AsSpan().SequenceEqual(encoded))
                {
                    throw new InvalidOperationException($"a {frame.Type} frame did not survive encoding and decoding");
                }
            }
        }
        catch (HandoverException e) when (!string.IsNullOrWhiteSpace(e.Message))
        {
            // A refusal with a reason: the handover is abandoned and the old process keeps its sockets.
        }
    }

    private static void Use(HandoverFrame frame)
    {
        _ = frame.ToString();
        foreach (var label in frame.Labels ?? [])
        {
            try
            {
                _ = label.ToLabel().ToString();
            }
            catch (HandoverException e) when (!string.IsNullOrWhiteSpace(e.Message))
            {
                // The successor refuses the batch with this reason.
            }
        }
    }
}
