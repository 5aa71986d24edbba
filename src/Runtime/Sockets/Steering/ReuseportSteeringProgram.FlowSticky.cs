using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Net;
using static ShardRuntime.Runtime.Sockets.BpfInstruction;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>The flow-sticky variant of the steering program (UDP, opt in): route by an id the datagram carries.</summary>
public sealed partial class ReuseportSteeringProgram
{
    /// <summary>The most buckets one flow-sticky program maps (two instructions each).</summary>
    public const int MaxBuckets = 1024;

    /// <summary>Where the id sits, for a flow-sticky program; null for a program that routes by the source address.</summary>
    public FlowIdLocation? FlowId { get; private init; }

    /// <summary>For a flow-sticky program: the position each bucket's flows go to (bucket b = hash(id) mod the count); empty otherwise.</summary>
    public ImmutableArray<int> Buckets { get; private init; } = [];

    /// <summary>
    /// Builds a program that routes each UDP datagram by the id bytes at <paramref name="flowId"/> of its payload, so
    /// that every datagram carrying the same id reaches the same socket whatever address or port it comes from (a QUIC
    /// client that migrates keeps its connection id). The id is hashed (words of it mixed by Knuth's multiplicative
    /// hash, the upper 16 bits kept) into one of <c>buckets.Count</c> buckets, and <paramref name="buckets"/>[b] is the
    /// group position bucket b goes to. The bucket table is what makes flows stay: a group that excludes a member only
    /// re-points that member's buckets (<see cref="FlowBucketTable{TMember}"/>), so every other flow keeps its socket,
    /// which a plain <c>hash mod members</c> would not.
    /// <para>
    /// A datagram too short to hold the whole id (the program compares the payload's length, BPF_LEN, with
    /// <see cref="FlowIdLocation.End"/> first, so no load can fail) is routed as a non-sticky program routes it: by its
    /// source address and port over the positions the buckets name (<see cref="AcceptingPositions"/>). Neither the
    /// kernel's hash nor position 0 is ever the fallback: both could pick a retiring socket.
    /// </para>
    /// </summary>
    public static ReuseportSteeringProgram FlowSticky(int groupSize, FlowIdLocation flowId, IReadOnlyList<int> buckets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        ArgumentNullException.ThrowIfNull(buckets);
        if (flowId.Length == 0)
        {
            throw new ArgumentException("A flow-sticky program needs a flow id location (offset, length).", nameof(flowId));
        }

        if (buckets.Count is 0 or > MaxBuckets)
        {
            throw new ArgumentException($"A flow-sticky program maps 1..{MaxBuckets} buckets; {buckets.Count} were given.", nameof(buckets));
        }

        foreach (int position in buckets)
        {
            if (position < 0 || position >= groupSize)
            {
                throw new ArgumentException(
                    $"Bucket position {position} is outside the group: positions are 0..{groupSize - 1} (the group has {groupSize} sockets).",
                    nameof(buckets));
            }
        }

        var accepting = buckets.Distinct().ToImmutableArray();
        var fallback = Build(accepting, groupSize);
        var table = buckets.ToImmutableArray();
        var code = EmitFlowSticky(flowId, table, fallback.Instructions);
        if (code.Length > MaxInstructions)
        {
            throw new ArgumentException(
                $"{table.Length} buckets over {accepting.Length} positions need {code.Length} instructions, more than the kernel's {MaxInstructions}.",
                nameof(buckets));
        }

        return new ReuseportSteeringProgram(accepting, groupSize, code) { FlowId = flowId, Buckets = table };
    }

    /// <summary>
    /// The position this program picks for a datagram from <paramref name="source"/> with <paramref name="payload"/>
    /// (for tests and logs; the kernel runs the instructions). For a program that is not flow-sticky the payload does
    /// not count.
    /// </summary>
    public int PositionFor(IPEndPoint source, ReadOnlySpan<byte> payload)
    {
        if (FlowId is not { } id || payload.Length < id.End)
        {
            return PositionFor(source);
        }

        return Buckets[BucketOf(payload.Slice(id.Offset, id.Length), Buckets.Length)];
    }

    /// <summary>The bucket an id falls into among <paramref name="bucketCount"/>, exactly as the program computes it.</summary>
    public static int BucketOf(ReadOnlySpan<byte> id, int bucketCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketCount, 1);
        uint hash = 0;
        int at = 0;
        foreach (int size in UnitSizes(id.Length))
        {
            uint unit = size switch
            {
                4 => BinaryPrimitives.ReadUInt32BigEndian(id[at..]),
                2 => BinaryPrimitives.ReadUInt16BigEndian(id[at..]),
                _ => id[at],
            };
            hash = unchecked((at == 0 ? unit : hash ^ unit) * FibonacciMultiplier);
            at += size;
        }

        return (int)((hash >> 16) % (uint)bucketCount);
    }

    /// <summary>The id is loaded in words, then a half-word, then a byte (classic BPF loads 4, 2 or 1 bytes).</summary>
    private static IEnumerable<int> UnitSizes(int length)
    {
        for (; length >= 4; length -= 4)
        {
            yield return 4;
        }

        if (length >= 2)
        {
            yield return 2;
            length -= 2;
        }

        if (length == 1)
        {
            yield return 1;
        }
    }

    private static ImmutableArray<BpfInstruction> EmitFlowSticky(FlowIdLocation flowId, ImmutableArray<int> buckets, ImmutableArray<BpfInstruction> fallback)
    {
        var code = ImmutableArray.CreateBuilder<BpfInstruction>();
        code.Add(Statement(Ld | SizeWord | Len, 0));                   // A = payload length (the kernel pulled past the UDP header)
        code.Add(Jump(Jmp | Jge | Constant, (uint)flowId.End, 1, 0)); // the whole id is there -> hash it
        int fallbackJump = code.Count;
        code.Add(Statement(Jmp | Ja, 0));                              // too short -> the source-address program (patched below)

        int at = 0;
        foreach (int size in UnitSizes(flowId.Length))
        {
            ushort width = size switch { 4 => SizeWord, 2 => SizeHalf, _ => SizeByte };
            code.Add(Statement((ushort)(Ld | width | Abs), (uint)(flowId.Offset + at))); // A = next unit of the id
            if (at > 0)
            {
                code.Add(Statement(Alu | Xor | IndexRegister, 0));      // A ^= hash so far
            }

            code.Add(Statement(Alu | Mul | Constant, FibonacciMultiplier));
            code.Add(Statement(Misc | Tax, 0));                        // X = hash so far
            at += size;
        }

        code.Add(Statement(Alu | Rsh | Constant, 16));                 // keep the well-mixed upper half
        code.Add(Statement(Alu | Mod | Constant, (uint)buckets.Length)); // A = bucket
        for (int i = 0; i < buckets.Length - 1; i++)
        {
            code.Add(Jump(Jmp | Jeq | Constant, (uint)i, 0, 1));
            code.Add(Statement(Ret | Constant, (uint)buckets[i]));
        }

        code.Add(Statement(Ret | Constant, (uint)buckets[^1]));
        code[fallbackJump] = Statement(Jmp | Ja, (uint)(code.Count - fallbackJump - 1));
        code.AddRange(fallback);
        return code.ToImmutable();
    }
}
