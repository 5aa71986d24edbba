using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using ShardRuntime.Runtime.Sockets;

namespace ShardRuntime.Runtime.Upgrade;

/// <summary>
/// One message of the upgrade protocol as it goes over the wire: a 4-byte big-endian length, then this object as
/// UTF-8 JSON. A <see cref="UpgradeFrameType.Batch"/> frame carries its sockets' descriptors (SCM_RIGHTS) on the
/// first sendmsg of the frame, in the order of <see cref="Labels"/>.
/// </summary>
internal sealed class UpgradeFrame
{
    /// <summary>The largest frame accepted (without its prefix); 32 labels take a few kilobytes.</summary>
    public const int MaxLength = 1 << 20;

    /// <summary>Bytes of the big-endian length in front of every frame.</summary>
    public const int PrefixLength = 4;

    public UpgradeFrameType Type { get; set; }

    /// <summary>Hello: the successor's pid.</summary>
    public int? ProcessId { get; set; }

    /// <summary>Batch and Ack: the batch number, from 1.</summary>
    public int? Batch { get; set; }

    /// <summary>Ack: how many sockets of the batch the successor adopted.</summary>
    public int? Count { get; set; }

    /// <summary>Done: how many sockets were passed in all.</summary>
    public int? Total { get; set; }

    /// <summary>Done: the sender's process generation (1 for a process that bound its sockets itself).</summary>
    public int? Generation { get; set; }

    /// <summary>Ready: the inodes of the passed sockets the successor does not serve (their listener is gone from its configuration).</summary>
    public List<long>? Declined { get; set; }

    /// <summary>
    /// Released: how long (ms) the old process keeps its copies of the sockets, not accepting, watching the successor
    /// (its stability period); it closes the upgrade connection once it closed them. Absent: it lets go at once.
    /// </summary>
    public long? HoldMilliseconds { get; set; }

    /// <summary>Refused and Abort: why.</summary>
    public string? Reason { get; set; }

    /// <summary>Batch: what each passed socket is.</summary>
    public List<LabelFrame>? Labels { get; set; }

    public static UpgradeFrame Hello(int processId) => new() { Type = UpgradeFrameType.Hello, ProcessId = processId };

    public static UpgradeFrame Refused(string reason) => new() { Type = UpgradeFrameType.Refused, Reason = reason };

    public static UpgradeFrame Abort(string reason) => new() { Type = UpgradeFrameType.Abort, Reason = reason };

    public static UpgradeFrame ForBatch(int batch, IEnumerable<SocketLabel> labels) =>
        new() { Type = UpgradeFrameType.Batch, Batch = batch, Labels = labels.Select(LabelFrame.From).ToList() };

    public static UpgradeFrame Ack(int batch, int count) => new() { Type = UpgradeFrameType.Ack, Batch = batch, Count = count };

    public static UpgradeFrame Done(int total, int generation) => new() { Type = UpgradeFrameType.Done, Total = total, Generation = generation };

    public static UpgradeFrame Ready(IEnumerable<long> declined) => new() { Type = UpgradeFrameType.Ready, Declined = declined.ToList() };

    public static UpgradeFrame Released(TimeSpan hold) =>
        new() { Type = UpgradeFrameType.Released, HoldMilliseconds = hold > TimeSpan.Zero ? (long)hold.TotalMilliseconds : null };

    /// <summary>This frame as it goes over the wire: the length prefix, then the JSON.</summary>
    public byte[] Encode()
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(this, UpgradeJsonContext.Default.UpgradeFrame);
        byte[] bytes = new byte[PrefixLength + json.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, json.Length);
        json.CopyTo(bytes, PrefixLength);
        return bytes;
    }

    /// <summary>
    /// Reads the frame at the start of <paramref name="bytes"/> (what has arrived of the stream so far). False when the
    /// frame is not complete yet (read more, then call again with the same start); true with the frame and the number
    /// of bytes it took (prefix included) otherwise.
    /// </summary>
    /// <exception cref="UpgradeException">The bytes are not an upgrade frame; the message says what was wrong.</exception>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out UpgradeFrame? frame, out int consumed)
    {
        frame = null;
        consumed = 0;
        if (bytes.Length < PrefixLength)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadInt32BigEndian(bytes);
        if (length is <= 0 or > MaxLength)
        {
            throw new UpgradeException($"The peer sent a frame of {length} bytes; frames are 1 to {MaxLength} bytes. Not an upgrade peer?");
        }

        if (bytes.Length - PrefixLength < length)
        {
            return false;
        }

        try
        {
            frame = JsonSerializer.Deserialize(bytes.Slice(PrefixLength, length), UpgradeJsonContext.Default.UpgradeFrame)
                ?? throw new UpgradeException("The peer sent a null frame.");
        }
        catch (JsonException ex)
        {
            throw new UpgradeException($"The peer sent a frame that is not upgrade JSON: {ex.Message}", ex);
        }

        CheckLabels(frame);
        consumed = PrefixLength + length;
        return true;
    }

    /// <summary>Every label is there and names its listener and address (a null would become a label with a null name).</summary>
    private static void CheckLabels(UpgradeFrame frame)
    {
        for (var i = 0; i < (frame.Labels?.Count ?? 0); i++)
        {
            var problem = frame.Labels![i] switch
            {
                null => "is missing",
                { Listener: null or "" } => "has no listener",
                { Address: null } => "has no address",
                _ => null,
            };
            if (problem is not null)
            {
                throw new UpgradeException($"The peer sent a {frame.Type} frame whose label {i} {problem}.");
            }
        }
    }

    /// <summary>A label as JSON has it: the endpoint split into address and port.</summary>
    internal sealed class LabelFrame
    {
        public string Listener { get; set; } = "";

        public string Address { get; set; } = "";

        public int Port { get; set; }

        public TransportProtocol Protocol { get; set; }

        public int ShardIndex { get; set; }

        public long Inode { get; set; }

        public int Position { get; set; } = -1;

        public bool Pinned { get; set; }

        public static LabelFrame From(SocketLabel label) => new()
        {
            Listener = label.Listener,
            Address = label.EndPoint.Address.ToString(),
            Port = label.EndPoint.Port,
            Protocol = label.Protocol,
            ShardIndex = label.ShardIndex,
            Inode = label.Inode,
            Position = label.Position,
            Pinned = label.Pinned,
        };

        public SocketLabel ToLabel()
        {
            if (!IPAddress.TryParse(Address, out var address) || Port is < 0 or > IPEndPoint.MaxPort)
            {
                throw new UpgradeException(
                    $"Socket label of listener '{Listener}' has a malformed endpoint '{Address}' port {Port.ToString(CultureInfo.InvariantCulture)}.");
            }

            return new SocketLabel(Listener, new IPEndPoint(address, Port), Protocol, ShardIndex, Inode, Position, Pinned);
        }
    }
}

/// <summary>The kinds of <see cref="UpgradeFrame"/>, in the order an upgrade uses them.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<UpgradeFrameType>))]
internal enum UpgradeFrameType
{
    /// <summary>Server to a peer of another user, then the server closes: the reason.</summary>
    Refused,

    /// <summary>Successor to server, first: who it is.</summary>
    Hello,

    /// <summary>Server to successor: labels plus the descriptors of one batch.</summary>
    Batch,

    /// <summary>Successor to server: the batch was adopted.</summary>
    Ack,

    /// <summary>Server to successor: every socket was passed.</summary>
    Done,

    /// <summary>Successor to server: it accepts on the sockets (but the declined ones); the old process may stop accepting and drain.</summary>
    Ready,

    /// <summary>Server to successor, after Ready: the old process has committed and stops accepting; the successor is in charge.</summary>
    Released,

    /// <summary>Either side: the upgrade is abandoned, with the reason; the old process keeps its sockets.</summary>
    Abort,
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(UpgradeFrame))]
internal sealed partial class UpgradeJsonContext : JsonSerializerContext
{
}
