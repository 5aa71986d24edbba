using System.Net;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Sockets.BpfInstruction;

namespace ShardRuntime.Runtime.Tests.Steering;

/// <summary>
/// Runs a classic BPF program over a packet the way the kernel runs a reuseport program, for the instructions our
/// programs use: the packet starts at the IP header, the data pointer stands at <c>dataOffset</c> (past the transport
/// header), SKF_NET_OFF loads read relative to the IP header, and a load out of bounds ends the program with 0.
/// </summary>
internal static class ClassicBpfInterpreter
{
    public static uint Run(IReadOnlyList<BpfInstruction> program, byte[] packet, int dataOffset)
    {
        uint a = 0, x = 0;
        for (int pc = 0; pc < program.Count; pc++)
        {
            var insn = program[pc];
            int cls = insn.Code & 0x07;
            switch (cls)
            {
                case Ld or Ldx:
                {
                    int mode = insn.Code & 0xe0;
                    if (mode == Len && cls == Ld)
                    {
                        // skb->len with the data pointer past the transport header: the payload's length.
                        a = (uint)(packet.Length - dataOffset);
                        break;
                    }

                    int size = (insn.Code & 0x18) switch { SizeWord => 4, SizeHalf => 2, SizeByte => 1, _ => throw Unknown(insn) };
                    long offset = mode switch
                    {
                        Abs => unchecked((int)insn.K),
                        Ind => unchecked((int)insn.K) + (long)unchecked((int)x),
                        _ => throw Unknown(insn),
                    };
                    if (cls == Ldx)
                    {
                        throw Unknown(insn);
                    }

                    long start = offset >= SkfNetOff && offset < 0 ? offset - SkfNetOff : offset < 0 ? -1 : dataOffset + offset;
                    if (start < 0 || start + size > packet.Length)
                    {
                        return 0;
                    }

                    a = 0;
                    for (int i = 0; i < size; i++)
                    {
                        a = (a << 8) | packet[start + i];
                    }

                    break;
                }

                case Alu:
                    uint operand = (insn.Code & 0x08) == IndexRegister ? x : insn.K;
                    a = (insn.Code & 0xf0) switch
                    {
                        Mul => unchecked(a * operand),
                        Xor => a ^ operand,
                        And => a & insn.K,
                        Lsh => a << (int)insn.K,
                        Rsh => a >> (int)insn.K,
                        Mod => insn.K == 0 ? throw Unknown(insn) : a % insn.K,
                        _ => throw Unknown(insn),
                    };
                    break;
                case Jmp:
                    switch (insn.Code & 0xf0)
                    {
                        case Ja:
                            pc += (int)insn.K;
                            break;
                        case Jeq:
                            pc += a == insn.K ? insn.JumpTrue : insn.JumpFalse;
                            break;
                        case Jge:
                            pc += a >= insn.K ? insn.JumpTrue : insn.JumpFalse;
                            break;
                        default:
                            throw Unknown(insn);
                    }

                    break;
                case Ret:
                    return (insn.Code & 0x18) == Accumulator ? a : insn.K;
                case Misc when (insn.Code & 0xf8) == Tax:
                    x = a;
                    break;
                default:
                    throw Unknown(insn);
            }
        }

        throw new InvalidOperationException("The program ran off its end without a RET (the kernel's checker would refuse it).");
    }

    /// <summary>An IPv4 (header length <paramref name="ihlWords"/>*4) + TCP SYN packet from <paramref name="source"/>, no payload.</summary>
    public static (byte[] Packet, int DataOffset) Ipv4Syn(IPEndPoint source, int ihlWords = 5)
    {
        int ip = ihlWords * 4;
        int sourcePort = source.Port;
        var packet = new byte[ip + 20];
        packet[0] = (byte)(0x40 | ihlWords);
        packet[9] = 6;
        source.Address.GetAddressBytes().CopyTo(packet, 12);
        packet[ip] = (byte)(sourcePort >> 8);
        packet[ip + 1] = (byte)sourcePort;
        packet[ip + 2] = 0x1f;
        packet[ip + 3] = 0x90;
        packet[ip + 12] = 0x50;
        return (packet, packet.Length);
    }

    /// <summary>An IPv6 + TCP SYN packet from <paramref name="source"/>, no payload.</summary>
    public static (byte[] Packet, int DataOffset) Ipv6Syn(IPEndPoint source)
    {
        int sourcePort = source.Port;
        var packet = new byte[40 + 20];
        packet[0] = 0x60;
        packet[6] = 6;
        source.Address.GetAddressBytes().CopyTo(packet, 8);
        packet[40] = (byte)(sourcePort >> 8);
        packet[41] = (byte)sourcePort;
        packet[52] = 0x50;
        return (packet, packet.Length);
    }

    /// <summary>An IPv4 or IPv6 + UDP datagram from <paramref name="source"/> carrying <paramref name="payload"/>; the data offset is the payload's.</summary>
    public static (byte[] Packet, int DataOffset) Udp(IPEndPoint source, ReadOnlySpan<byte> payload)
    {
        bool v6 = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        int ip = v6 ? 40 : 20;
        var packet = new byte[ip + 8 + payload.Length];
        packet[0] = v6 ? (byte)0x60 : (byte)0x45;
        packet[v6 ? 6 : 9] = 17;
        source.Address.GetAddressBytes().CopyTo(packet, v6 ? 8 : 12);
        packet[ip] = (byte)(source.Port >> 8);
        packet[ip + 1] = (byte)source.Port;
        packet[ip + 4] = (byte)((8 + payload.Length) >> 8);
        packet[ip + 5] = (byte)(8 + payload.Length);
        payload.CopyTo(packet.AsSpan(ip + 8));
        return (packet, ip + 8);
    }

    private static NotSupportedException Unknown(BpfInstruction insn) => new($"The test interpreter does not run {insn}.");
}
