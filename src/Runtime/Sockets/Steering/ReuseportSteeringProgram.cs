using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using static ShardRuntime.Runtime.Sockets.BpfInstruction;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// A classic BPF program for <c>SO_ATTACH_REUSEPORT_CBPF</c> that spreads new connections (and UDP datagrams) over
/// chosen positions of a reuseport group only, so the other members get nothing new and can be drained and closed.
/// <para>
/// What the kernel does with it (net/core/sock_reuseport.c, 6.x): for every packet that selects a listener (a TCP
/// SYN, a TCP ACK carrying a SYN cookie, every UDP datagram to an unconnected socket) it runs the program and takes
/// its return value as an index into the group's array of sockets; a value at or beyond the group's size falls back
/// to the default 4-tuple hash over all members. Before running it the kernel pulls the data pointer past the
/// transport header (hdr_len is the TCP header length, or 8 for UDP), so offset 0 is the payload, which a SYN does
/// not have: a load there fails, and a failing load ends a classic program with 0, i.e. position 0. This program
/// therefore reads the source port through SKF_NET_OFF, relative to the IP header, which the kernel has already
/// pulled into the linear part of the packet together with the transport header, so the loads cannot fail for TCP
/// or UDP.
/// </para>
/// <para>
/// The program: read the IP version; find the source port (IPv4: behind IHL*4 bytes; IPv6: behind the fixed 40,
/// extension headers are not followed, the 2 bytes read are then something else but still a number) and the source
/// address (IPv6: its last 32 bits); A = (address ^ port) * 0x9E3779B1 >> 16 (Knuth's multiplicative hash);
/// A = A mod n (n = number of accepting positions); a jump table maps 0..n-1 to the accepting positions, in the order
/// given. Every path ends in a RET of an accepting position, so the program never falls back to the kernel's hash,
/// which could pick a retiring socket. The mixing matters: Linux hands out connect() ports of one parity only
/// (even; bind() gets the odd ones), so a plain <c>port mod n</c> sent every connection of a Linux client to half
/// the positions (to one of two). The same client address and port map to the same socket for a SYN and for its
/// SYN-cookie ACK, as long as the program does not change in between.
/// </para>
/// <para>
/// A program is only right for the membership it was built for: the group keeps its sockets in listen() order and
/// moves the last one into the slot of one that closes, so rebuild and re-attach it whenever a member joins or
/// leaves (<see cref="ReuseportGroup"/> keeps that model).
/// </para>
/// </summary>
public sealed partial class ReuseportSteeringProgram
{
    private const uint IpVersion6 = 6;
    private const uint Ipv6HeaderLength = 40;

    private const uint Ipv4SourceOffset = 12;
    private const uint Ipv6SourceLowWord = 20;

    /// <summary>2^32 / golden ratio: multiplying by it spreads consecutive (and all-even) inputs evenly (Knuth's multiplicative hash).</summary>
    private const uint FibonacciMultiplier = 0x9E3779B1;

    /// <summary>Instructions before the jump table: the loads for IPv4 and IPv6, the mixing and the modulus.</summary>
    private const int PreambleLength = 18;

    private ReuseportSteeringProgram(ImmutableArray<int> acceptingPositions, int? groupSize, ImmutableArray<BpfInstruction> instructions)
    {
        AcceptingPositions = acceptingPositions;
        GroupSize = groupSize;
        Instructions = instructions;
    }

    /// <summary>The largest number of accepting positions one program can map (the kernel allows 4,096 instructions).</summary>
    public static int MaxAcceptingPositions => (MaxInstructions - PreambleLength - 1) / 2 + 1;

    /// <summary>The group positions that receive new connections, in the order residue 0, 1, ... maps to them.</summary>
    public ImmutableArray<int> AcceptingPositions { get; }

    /// <summary>The size of the group the positions were checked against, when the builder was told it.</summary>
    public int? GroupSize { get; }

    /// <summary>The program, as handed to the kernel.</summary>
    public ImmutableArray<BpfInstruction> Instructions { get; }

    /// <summary>
    /// Builds the program that sends every new connection to one of <paramref name="acceptingPositions"/> of a group of
    /// <paramref name="groupSize"/> sockets. Throws <see cref="ArgumentException"/> for an empty list, a position
    /// outside the group, or a position given twice.
    /// </summary>
    public static ReuseportSteeringProgram Create(int groupSize, IReadOnlyList<int> acceptingPositions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        return Build(acceptingPositions, groupSize);
    }

    /// <summary>
    /// Builds the program for <paramref name="acceptingPositions"/> without knowing the group's size; prefer
    /// <see cref="Create(int, IReadOnlyList{int})"/>, which also checks that every position exists.
    /// </summary>
    public static ReuseportSteeringProgram ForPositions(IReadOnlyList<int> acceptingPositions) => Build(acceptingPositions, null);

    /// <summary>
    /// The position this program picks for a connection from <paramref name="source"/> (for tests and logs; the kernel
    /// runs the instructions themselves). For IPv6 only the last 32 bits of the address count.
    /// </summary>
    public int PositionFor(IPEndPoint source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (AcceptingPositions.Length == 1)
        {
            return AcceptingPositions[0];
        }

        byte[] address = source.Address.GetAddressBytes();
        uint low = BinaryPrimitives.ReadUInt32BigEndian(address.AsSpan(address.Length - 4));
        uint mixed = unchecked((low ^ (uint)source.Port) * FibonacciMultiplier) >> 16;
        return AcceptingPositions[(int)(mixed % (uint)AcceptingPositions.Length)];
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"reuseport steering to positions [{string.Join(", ", AcceptingPositions)}]" +
        (GroupSize is { } size ? $" of {size.ToString(CultureInfo.InvariantCulture)}" : "") +
        (FlowId is { } flowId ? $" by {flowId} over {Buckets.Length.ToString(CultureInfo.InvariantCulture)} buckets" : "") +
        $" ({Instructions.Length} instructions)";

    private static ReuseportSteeringProgram Build(IReadOnlyList<int> acceptingPositions, int? groupSize)
    {
        ArgumentNullException.ThrowIfNull(acceptingPositions);
        if (acceptingPositions.Count == 0)
        {
            throw new ArgumentException(
                "A steering program needs at least one accepting position; with none, every new connection would have nowhere to go.",
                nameof(acceptingPositions));
        }

        if (acceptingPositions.Count > MaxAcceptingPositions)
        {
            throw new ArgumentException(
                $"{acceptingPositions.Count} accepting positions need more than the kernel's {MaxInstructions} classic BPF instructions " +
                $"(at most {MaxAcceptingPositions} positions).",
                nameof(acceptingPositions));
        }

        var seen = new HashSet<int>();
        foreach (int position in acceptingPositions)
        {
            if (position < 0 || position > ushort.MaxValue || (groupSize is { } size && position >= size))
            {
                string range = groupSize is { } s ? $"0..{s - 1} (the group has {s} sockets)" : $"0..{ushort.MaxValue}";
                throw new ArgumentException($"Accepting position {position} is outside the group: positions are {range}.", nameof(acceptingPositions));
            }

            if (!seen.Add(position))
            {
                throw new ArgumentException($"Accepting position {position} is given twice.", nameof(acceptingPositions));
            }
        }

        var positions = acceptingPositions.ToImmutableArray();
        return new ReuseportSteeringProgram(positions, groupSize, Emit(positions));
    }

    private static ImmutableArray<BpfInstruction> Emit(ImmutableArray<int> positions)
    {
        var code = ImmutableArray.CreateBuilder<BpfInstruction>(PreambleLength + 2 * positions.Length);
        if (positions.Length == 1)
        {
            // One target: no need to look at the packet at all.
            code.Add(Statement(Ret | Constant, (uint)positions[0]));
            return code.ToImmutable();
        }

        uint ip = unchecked((uint)SkfNetOff);
        code.Add(Statement(Ld | SizeByte | Abs, ip));                     // 0: A = first byte of the IP header
        code.Add(Statement(Alu | Rsh | Constant, 4));                     // 1: A = IP version
        code.Add(Jump(Jmp | Jeq | Constant, IpVersion6, 8, 0));           // 2: IPv6 -> 11
        code.Add(Statement(Ld | SizeByte | Abs, ip));                     // 3: IPv4: A = version/IHL byte
        code.Add(Statement(Alu | And | Constant, 0x0f));                  // 4: A = IHL
        code.Add(Statement(Alu | Lsh | Constant, 2));                     // 5: A = IPv4 header length in bytes
        code.Add(Statement(Misc | Tax, 0));                               // 6: X = A
        code.Add(Statement(Ld | SizeHalf | Ind, ip));                     // 7: A = source port
        code.Add(Statement(Misc | Tax, 0));                               // 8: X = source port
        code.Add(Statement(Ld | SizeWord | Abs, ip + Ipv4SourceOffset));  // 9: A = source address
        code.Add(Statement(Jmp | Ja, 3));                                 // 10: -> 14
        code.Add(Statement(Ld | SizeHalf | Abs, ip + Ipv6HeaderLength));  // 11: IPv6: A = source port
        code.Add(Statement(Misc | Tax, 0));                               // 12: X = source port
        code.Add(Statement(Ld | SizeWord | Abs, ip + Ipv6SourceLowWord)); // 13: A = last 32 bits of the source address
        code.Add(Statement(Alu | Xor | IndexRegister, 0));                // 14: A = address ^ port
        code.Add(Statement(Alu | Mul | Constant, FibonacciMultiplier));   // 15: mix every bit upwards (Knuth)
        code.Add(Statement(Alu | Rsh | Constant, 16));                    // 16: keep the well-mixed upper half
        code.Add(Statement(Alu | Mod | Constant, (uint)positions.Length)); // 17: A = residue 0..n-1

        // Jump table: residue i returns positions[i]; the last residue (and anything else) the last position.
        for (int i = 0; i < positions.Length - 1; i++)
        {
            code.Add(Jump(Jmp | Jeq | Constant, (uint)i, 0, 1));
            code.Add(Statement(Ret | Constant, (uint)positions[i]));
        }

        code.Add(Statement(Ret | Constant, (uint)positions[^1]));
        return code.ToImmutable();
    }
}
