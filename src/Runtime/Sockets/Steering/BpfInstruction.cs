using System.Runtime.InteropServices;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// One classic BPF instruction, laid out exactly as the kernel's <c>struct sock_filter</c>
/// (<c>__u16 code; __u8 jt; __u8 jf; __u32 k;</c>, 8 bytes), so an array of them can be handed to setsockopt as is.
/// </summary>
/// <param name="Code">Instruction class, size, mode and operation, OR-ed (<c>BPF_LD | BPF_H | BPF_ABS</c>, ...).</param>
/// <param name="JumpTrue">For conditional jumps: how many instructions to skip when the condition holds.</param>
/// <param name="JumpFalse">For conditional jumps: how many instructions to skip when it does not.</param>
/// <param name="K">The constant operand: an offset, an immediate, a jump distance or a return value.</param>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct BpfInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K)
{
    /// <summary>BPF_LD: load into the accumulator A.</summary>
    public const ushort Ld = 0x00;

    /// <summary>BPF_LDX: load into the index register X.</summary>
    public const ushort Ldx = 0x01;

    /// <summary>BPF_ALU: arithmetic on A.</summary>
    public const ushort Alu = 0x04;

    /// <summary>BPF_JMP: jumps.</summary>
    public const ushort Jmp = 0x05;

    /// <summary>BPF_RET: end the program with a value.</summary>
    public const ushort Ret = 0x06;

    /// <summary>BPF_MISC: register moves (TAX, TXA).</summary>
    public const ushort Misc = 0x07;

    /// <summary>BPF_W: 32-bit load.</summary>
    public const ushort SizeWord = 0x00;

    /// <summary>BPF_H: 16-bit load (network byte order, converted to host order by the kernel).</summary>
    public const ushort SizeHalf = 0x08;

    /// <summary>BPF_B: 8-bit load.</summary>
    public const ushort SizeByte = 0x10;

    /// <summary>BPF_ABS: load at offset K.</summary>
    public const ushort Abs = 0x20;

    /// <summary>BPF_IND: load at offset X + K.</summary>
    public const ushort Ind = 0x40;

    /// <summary>BPF_LEN (with BPF_LD | BPF_W): load the packet's length from the data pointer on (for a reuseport program: the UDP payload's length).</summary>
    public const ushort Len = 0x80;

    /// <summary>BPF_MUL.</summary>
    public const ushort Mul = 0x20;

    /// <summary>BPF_AND.</summary>
    public const ushort And = 0x50;

    /// <summary>BPF_LSH.</summary>
    public const ushort Lsh = 0x60;

    /// <summary>BPF_RSH.</summary>
    public const ushort Rsh = 0x70;

    /// <summary>BPF_XOR (kernel 3.7+).</summary>
    public const ushort Xor = 0xa0;

    /// <summary>BPF_MOD (kernel 3.7+).</summary>
    public const ushort Mod = 0x90;

    /// <summary>BPF_JA: unconditional jump by K.</summary>
    public const ushort Ja = 0x00;

    /// <summary>BPF_JEQ: jump on A == K.</summary>
    public const ushort Jeq = 0x10;

    /// <summary>BPF_JGE: jump on A &gt;= K (unsigned).</summary>
    public const ushort Jge = 0x30;

    /// <summary>BPF_K: the operand is the constant K.</summary>
    public const ushort Constant = 0x00;

    /// <summary>BPF_X: the operand is the index register X.</summary>
    public const ushort IndexRegister = 0x08;

    /// <summary>BPF_A (for BPF_RET): return the accumulator.</summary>
    public const ushort Accumulator = 0x10;

    /// <summary>BPF_TAX (for BPF_MISC): X = A.</summary>
    public const ushort Tax = 0x00;

    /// <summary>
    /// SKF_NET_OFF: loads at <c>SkfNetOff + n</c> read byte n of the network (IP) header, wherever the packet's data
    /// pointer stands. Needed here because the kernel hands a reuseport program the packet with its data pointer
    /// already past the transport header (see <see cref="ReuseportSteeringProgram"/>).
    /// </summary>
    public const int SkfNetOff = -0x100000;

    /// <summary>The kernel's limit on the length of a classic BPF program (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = 4096;

    /// <summary>A statement (no jump targets).</summary>
    public static BpfInstruction Statement(ushort code, uint k) => new(code, 0, 0, k);

    /// <summary>A conditional jump: skip <paramref name="jumpTrue"/> or <paramref name="jumpFalse"/> instructions.</summary>
    public static BpfInstruction Jump(ushort code, uint k, byte jumpTrue, byte jumpFalse) => new(code, jumpTrue, jumpFalse, k);

    /// <summary>The instruction in the notation of <c>bpf_asm</c>/<c>tcpdump -d</c>'s raw form: <c>{ 0x28, 0, 0, 0xfff00000 }</c>.</summary>
    public override string ToString() => $"{{ 0x{Code:x2}, {JumpTrue}, {JumpFalse}, 0x{K:x8} }}";
}
