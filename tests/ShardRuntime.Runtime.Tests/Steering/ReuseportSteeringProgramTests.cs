using System.Net;
using System.Runtime.CompilerServices;
using ShardRuntime.Runtime.Sockets;
using static ShardRuntime.Runtime.Tests.Steering.ClassicBpfInterpreter;

namespace ShardRuntime.Runtime.Tests.Steering;

public sealed class ReuseportSteeringProgramTests
{
    private static readonly IPAddress V4Client = IPAddress.Parse("192.0.2.17");
    private static readonly IPAddress V6Client = IPAddress.Parse("2001:db8::1:2:3:4");

    [Fact]
    public void Instruction_must_have_the_layout_of_struct_sock_filter() =>
        Assert.Equal(8, Unsafe.SizeOf<BpfInstruction>());

    [Theory]
    [InlineData(new[] { 2 })]
    [InlineData(new[] { 0, 1, 2 })]
    [InlineData(new[] { 3, 0 })]
    [InlineData(new[] { 0, 2, 4, 5, 6, 7 })]
    public void Program_must_send_every_source_port_to_an_accepting_position_for_IPv4_and_IPv6(int[] accepting)
    {
        var program = ReuseportSteeringProgram.Create(8, accepting);
        var seen = new HashSet<uint>();
        for (int port = 0; port <= ushort.MaxValue; port++)
        {
            var v4Source = new IPEndPoint(V4Client, port);
            var v6Source = new IPEndPoint(V6Client, port);
            var (v4, v4Data) = Ipv4Syn(v4Source);
            var (v6, v6Data) = Ipv6Syn(v6Source);
            Assert.Equal((uint)program.PositionFor(v4Source), Run(program.Instructions, v4, v4Data));
            Assert.Equal((uint)program.PositionFor(v6Source), Run(program.Instructions, v6, v6Data));
            seen.Add(Run(program.Instructions, v4, v4Data));
        }

        Assert.Equal(accepting.Select(p => (uint)p).Order(), seen.Order());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void Program_must_spread_the_even_ports_a_Linux_client_connects_from_evenly(int accepting)
    {
        // Linux gives connect() only even ephemeral ports (bind() the odd ones): "port mod 2" would use one socket of two.
        var program = ReuseportSteeringProgram.Create(accepting, Enumerable.Range(0, accepting).ToList());
        var counts = new int[accepting];
        int total = 0;
        for (int port = 32768; port < 61000; port += 2)
        {
            var (packet, data) = Ipv4Syn(new IPEndPoint(IPAddress.Loopback, port));
            counts[Run(program.Instructions, packet, data)]++;
            total++;
        }

        double mean = (double)total / accepting;
        Assert.All(counts, c => Assert.InRange(c, mean * 0.9, mean * 1.1));
    }

    [Fact]
    public void Program_must_find_the_source_port_behind_IPv4_options()
    {
        var program = ReuseportSteeringProgram.Create(4, [1, 2, 3]);
        for (int port = 1000; port < 1100; port++)
        {
            var source = new IPEndPoint(V4Client, port);
            var (packet, data) = Ipv4Syn(source, ihlWords: 8);
            Assert.Equal((uint)program.PositionFor(source), Run(program.Instructions, packet, data));
        }
    }

    [Fact]
    public void Program_must_not_read_the_payload_which_a_SYN_does_not_have()
    {
        // Had it read at the data pointer, every SYN would fail the load and go to position 0, a retiring one here.
        var program = ReuseportSteeringProgram.Create(4, [1, 2, 3]);
        for (int port = 40000; port < 40100; port++)
        {
            var (packet, data) = Ipv4Syn(new IPEndPoint(V4Client, port));
            Assert.Equal(data, packet.Length);
            Assert.NotEqual(0u, Run(program.Instructions, packet, data));
        }
    }

    [Fact]
    public void Program_for_one_position_must_return_it_without_looking_at_the_packet()
    {
        var program = ReuseportSteeringProgram.Create(4, [3]);
        var only = Assert.Single(program.Instructions);
        Assert.Equal(3u, only.K);
        Assert.Equal(3u, Run(program.Instructions, [], 0));
    }

    [Fact]
    public void Program_must_fit_the_kernel_limit_for_the_most_positions_it_accepts()
    {
        int most = ReuseportSteeringProgram.MaxAcceptingPositions;
        var program = ReuseportSteeringProgram.Create(most, Enumerable.Range(0, most).ToList());
        Assert.InRange(program.Instructions.Length, most, BpfInstruction.MaxInstructions);
        Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.Create(most + 1, Enumerable.Range(0, most + 1).ToList()));
    }

    [Fact]
    public void Program_must_refuse_no_positions_a_position_outside_the_group_and_a_position_twice()
    {
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.Create(4, [])).Message);
        Assert.Contains("outside the group", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.Create(4, [4])).Message);
        Assert.Contains("outside the group", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.ForPositions([-1])).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => ReuseportSteeringProgram.Create(4, [1, 1])).Message);
    }
}
