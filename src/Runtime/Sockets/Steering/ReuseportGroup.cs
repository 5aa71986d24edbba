using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.Runtime.Sockets;

/// <summary>
/// This process's model of one kernel reuseport group (the sockets sharing one address and port), so that steering
/// programs can name members by position, and the procedure that retires a member without resetting a connection.
/// <para>
/// The model (net/core/sock_reuseport.c): the group is an array. A TCP socket joins at the end when it calls listen()
/// (a UDP socket when it binds), so positions follow listen() order. When a member leaves, the last member moves
/// into its slot and the array shrinks by one; nobody else moves. A member leaves when its kernel socket stops
/// listening: the last file descriptor of it is closed, or it is shut down. Closing one of several descriptors of the
/// same socket (another process holds a copy after an upgrade) changes nothing. With tcp_migrate_req=1 the
/// kernel parks a closed listener in a hidden section at the far end of the array until its requests are migrated,
/// but the listening positions change exactly as without it.
/// </para>
/// <para>
/// Tell the model every change (<see cref="Add"/> right after listen(), <see cref="Remove"/> right after close) and
/// re-apply the steering (<see cref="ApplySteering"/>) after each: a program built for the old membership names
/// positions that now hold other sockets, or no socket (then the kernel falls back to its hash over all members).
/// Retiring a member without resetting a connection: <see cref="MarkRetiring"/>, <see cref="ApplySteering"/>, keep
/// accepting on it while its <see cref="ListenerDrain"/> says it drains, close the members <see cref="ClosesNow"/> names,
/// <see cref="Remove"/> each, and steer again. Not thread-safe: one owner (a group actor) makes every change.
/// </para>
/// </summary>
public sealed class ReuseportGroup
{
    private readonly List<Socket> members = [];
    private readonly HashSet<Socket> retiring = [];
    private FlowIdLocation? flowId;
    private FlowBucketTable<Socket>? buckets;

    /// <summary>The members in the kernel's order: <c>Members[i]</c> is the socket at position i.</summary>
    public IReadOnlyList<Socket> Members => members;

    /// <summary>Where the datagrams' flow id sits, when the group routes by it (<see cref="RouteByFlowId"/>); null otherwise.</summary>
    public FlowIdLocation? FlowId => flowId;

    /// <summary>
    /// Makes the group flow-sticky (UDP, opt in): from now on its program routes every datagram by the id at
    /// <paramref name="location"/> over a table of <paramref name="bucketCount"/> buckets dealt to the accepting members
    /// (<see cref="FlowBucketTable{TMember}"/>), so an id keeps its socket while members join, retire and close (those
    /// that retire hand over only their own flows; those that join take an even share). Call once, before or after the
    /// members join; then <see cref="ApplySteering"/> as always.
    /// </summary>
    public void RouteByFlowId(FlowIdLocation location, int bucketCount)
    {
        if (flowId is not null)
        {
            throw new InvalidOperationException($"The group already routes by the {flowId}.");
        }

        buckets = new FlowBucketTable<Socket>(bucketCount, Accepting);
        flowId = location;
    }

    /// <summary>The number of members.</summary>
    public int Count => members.Count;

    /// <summary>The members that get new connections: all but the retiring ones, in position order.</summary>
    public IReadOnlyList<Socket> Accepting => members.Where(m => !retiring.Contains(m)).ToList();

    /// <summary>
    /// Records that <paramref name="listening"/> has just joined the group (TCP: listen() returned; UDP: bind()
    /// returned): it takes the last position. Sockets must be added in the order they joined.
    /// </summary>
    public void Add(Socket listening)
    {
        ArgumentNullException.ThrowIfNull(listening);
        if (members.Contains(listening))
        {
            throw new InvalidOperationException($"The socket on {listening.LocalEndPoint} is already a member of this group.");
        }

        if (listening.LocalEndPoint is not IPEndPoint endPoint)
        {
            throw new InvalidOperationException("Only a bound (and, for TCP, listening) socket joins a reuseport group; this one is not bound.");
        }

        if (members.Count > 0 && !endPoint.Equals(members[0].LocalEndPoint))
        {
            throw new InvalidOperationException(
                $"The socket on {endPoint} cannot be in the same reuseport group as the sockets on {members[0].LocalEndPoint}.");
        }

        members.Add(listening);
        buckets?.Include(listening);
    }

    /// <summary>The position of <paramref name="member"/> in the group; throws when it is not a member.</summary>
    public int PositionOf(Socket member)
    {
        int position = members.IndexOf(member);
        return position >= 0 ? position : throw new InvalidOperationException("The socket is not a member of this reuseport group.");
    }

    /// <summary>
    /// Records that <paramref name="member"/> has left the group (its socket was closed or shut down): the last member
    /// moves into its position. Returns the member that moved, or null when the one that left was the last.
    /// </summary>
    public Socket? Remove(Socket member)
    {
        int position = PositionOf(member);
        int last = members.Count - 1;
        if (buckets is not null && buckets.CountOf(member) > 0)
        {
            var staying = Accepting.Where(m => m != member).ToList();
            if (staying.Count > 0)
            {
                buckets.Exclude(member, staying);
            }
            else
            {
                buckets = new FlowBucketTable<Socket>(buckets.Owners.Count, []);
            }
        }

        Socket? moved = position == last ? null : members[last];
        members[position] = members[last];
        members.RemoveAt(last);
        retiring.Remove(member);
        return moved;
    }


    /// <summary>Marks <paramref name="member"/> as retiring; call <see cref="ApplySteering"/> to make the kernel follow.</summary>
    public void MarkRetiring(Socket member)
    {
        PositionOf(member);
        if (retiring.Count == members.Count - 1 && !retiring.Contains(member))
        {
            throw new InvalidOperationException(
                $"Cannot retire the last accepting member of the reuseport group on {member.LocalEndPoint}: no socket would take its new connections.");
        }

        if (retiring.Add(member))
        {
            buckets?.Exclude(member, Accepting);
        }
    }

    /// <summary>
    /// The program that steers every new connection to the accepting members, or null when every member accepts
    /// (then the kernel's own hash should spread them: no program is needed). A flow-sticky group always has one.
    /// </summary>
    public ReuseportSteeringProgram? BuildProgram()
    {
        if (flowId is { } location && buckets is not null && members.Count > 0)
        {
            return ReuseportSteeringProgram.FlowSticky(members.Count, location, buckets.Owners.Select(o => PositionOf(o!)).ToList());
        }

        if (retiring.Count == 0)
        {
            return null;
        }

        var accepting = Enumerable.Range(0, members.Count).Where(i => !retiring.Contains(members[i])).ToList();
        return ReuseportSteeringProgram.Create(members.Count, accepting);
    }

    /// <summary>
    /// Makes the kernel follow the model: attaches <see cref="BuildProgram"/>'s program to the group, or detaches the
    /// group's program when every member accepts. Returns the program attached (null when detached).
    /// </summary>
    public ReuseportSteeringProgram? ApplySteering()
    {
        if (members.Count == 0)
        {
            return null;
        }

        var program = BuildProgram();
        if (program is null)
        {
            ReuseportSteering.Detach(members[0]);
        }
        else
        {
            ReuseportSteering.Attach(members[0], program);
        }

        return program;
    }

    /// <summary>
    /// Which retiring members to close now, in the order to close them. <paramref name="drain"/> says, per member, null
    /// when it serves, or how its drain stands (see <see cref="ListenerDrain.Check"/>): a member retires whether or not
    /// it could be steered away from (the last accepting socket of a port cannot). A member that is due (drained, or out
    /// of time) waits for the other retiring members, so that they close together: those at the end of the group first,
    /// last position first (such a close moves nobody, so the steering program stays right), then at most one member
    /// further in, whose close moves the last member into its slot. After that one, re-apply the steering and let the
    /// members still retiring drain again (<see cref="ListenerDrain.SteeringChanged"/>: the old program could still queue
    /// connections on them). With <paramref name="closeEvery"/> (shutdown, or the group is another process's to steer)
    /// every member that is due closes, without waiting for the others.
    /// </summary>
    public IReadOnlyList<Socket> ClosesNow(Func<Socket, DrainCheck?> drain, bool closeEvery = false)
    {
        ArgumentNullException.ThrowIfNull(drain);
        var checks = members.Select(m => drain(m)).ToList();
        bool Due(int i) => checks[i] is DrainCheck.Drained or DrainCheck.Overdue;
        int retiringCount = checks.Count(c => c is not null);
        int dueCount = Enumerable.Range(0, members.Count).Count(Due);
        if (closeEvery)
        {
            return Enumerable.Range(0, members.Count).Where(Due).Reverse().Select(i => members[i]).ToList();
        }

        if (dueCount == 0 || dueCount < retiringCount)
        {
            return [];
        }

        var closes = new List<Socket>();
        int end = members.Count;
        while (end > 0 && Due(end - 1))
        {
            closes.Add(members[--end]);
        }

        // One further in (the retiring member nearest the end): its close moves the last member into its slot.
        for (int i = end - 1; i >= 0; i--)
        {
            if (Due(i))
            {
                closes.Add(members[i]);
                break;
            }
        }

        return closes;
    }
}
