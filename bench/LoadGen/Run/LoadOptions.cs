using System.Net;
using System.Net.Sockets;

namespace ShardRuntime.LoadGen.Run;

/// <summary>
/// What one <see cref="LoadRun"/> does. The defaults here are the command line's defaults too. A run always stops by
/// itself: at <see cref="Duration"/> (at most <see cref="MaxDuration"/>), or after <see cref="Count"/> attempts (at
/// most <see cref="MaxCount"/>), whichever comes first; with neither set it runs for <see cref="DefaultDuration"/>.
/// </summary>
public sealed record LoadOptions
{
    public const int DefaultRate = 1000;
    public const int DefaultMaxInFlight = 1000;
    public const int DefaultConnections = 16;
    public const int DefaultPipeline = 1;
    public const int DefaultPayloadBytes = 64;
    public const string DefaultExpectBody = "OK";
    public const string DefaultPath = "/";
    public const int DefaultSourceAddresses = 16;
    public const int DefaultFlows = 4;
    public const string DefaultDnsName = "localhost.shardruntime.test.";
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Hard cap on <see cref="Duration"/>.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    /// <summary>Hard cap on <see cref="Count"/>.</summary>
    public const long MaxCount = 1_000_000_000;

    /// <summary>Largest echo payload.</summary>
    public const int MaxPayloadBytes = 1 << 20;

    /// <summary>Largest UDP echo payload (the largest IPv4 UDP payload).</summary>
    public const int MaxDatagramPayloadBytes = 65_507;

    /// <summary>UDP echo: the first 16 bytes carry the flow's query number and the send time.</summary>
    public const int MinDatagramPayloadBytes = 16;

    /// <summary>UDP: a flow numbers its queries with a 16-bit id (DNS), so fewer than 65536 may be outstanding.</summary>
    public const int MaxUdpInFlight = 65_535;

    /// <summary>Hard cap on <see cref="Timeout"/>.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The server; must be a loopback address (127.0.0.0/8 or ::1).</summary>
    public required IPEndPoint Target { get; init; }

    public LoadMode Mode { get; init; } = LoadMode.Churn;

    public LoadProtocol Protocol { get; init; } = LoadProtocol.Http;

    /// <summary>Churn: new connections per second; UDP: queries per second; paced open-loop.</summary>
    public int Rate { get; init; } = DefaultRate;

    /// <summary>Churn and UDP: at most this many attempts (queries) in flight; a start that finds none free is skipped and counted.</summary>
    public int MaxInFlight { get; init; } = DefaultMaxInFlight;

    /// <summary>Keep-alive: the number of long-lived connections.</summary>
    public int Connections { get; init; } = DefaultConnections;

    /// <summary>Keep-alive: requests in flight per connection.</summary>
    public int Pipeline { get; init; } = DefaultPipeline;

    /// <summary>Stop starting attempts after this long; null: <see cref="DefaultDuration"/> unless <see cref="Count"/> is set.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Stop after this many attempts in total (churn and keep-alive together).</summary>
    public long? Count { get; init; }

    /// <summary>Bound on a connect, and on the wait for a reply after its request was sent.</summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>HTTP: the body a right reply has.</summary>
    public string ExpectBody { get; init; } = DefaultExpectBody;

    /// <summary>HTTP: a response header whose values are tallied (e.g. X-Handler-Generation); null: none.</summary>
    public string? GenerationHeader { get; init; }

    /// <summary>HTTP: the request path.</summary>
    public string Path { get; init; } = DefaultPath;

    /// <summary>Echo: bytes per request, at least 8 (the sequence number); UDP: at least 16 (number and send time).</summary>
    public int PayloadBytes { get; init; } = DefaultPayloadBytes;

    /// <summary>
    /// IPv4 only: spread the connections' source addresses over 127.0.0.1 .. 127.0.0.N (a socket binds its source
    /// address with IP_BIND_ADDRESS_NO_PORT, the port is still picked at connect). Each source address has its own
    /// ~28k ephemeral ports, so churn does not run out of ports to TIME_WAIT (60 s). 1: no bind, the kernel picks.
    /// </summary>
    public int SourceAddresses { get; init; } = DefaultSourceAddresses;

    /// <summary>UDP: client sockets, each connected from its own source port; queries go to them in turn.</summary>
    public int Flows { get; init; } = DefaultFlows;

    /// <summary>DNS: the name asked for.</summary>
    public string DnsName { get; init; } = DefaultDnsName;

    /// <summary>DNS: the type asked for.</summary>
    public DnsQueryType DnsType { get; init; } = DnsQueryType.A;

    /// <summary>DNS: the RCODE a right reply has (0 NOERROR, 3 NXDOMAIN, ...).</summary>
    public int DnsExpectRcode { get; init; }

    /// <summary>DNS, A or AAAA: an address that a right reply's answer section holds; null: any answer (or none).</summary>
    public IPAddress? DnsExpectAddress { get; init; }

    /// <summary>The duration the run actually uses.</summary>
    public TimeSpan EffectiveDuration => Duration ?? (Count is null ? DefaultDuration : MaxDuration);

    /// <summary>Every problem with these options, one sentence each; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!IsLoopback(Target.Address))
            errors.Add($"--target {Target} is not a loopback address: the load generator only sends to 127.0.0.0/8 or ::1");
        if (Target.Port == 0)
            errors.Add("--target needs a port other than 0");
        if (Mode is not (LoadMode.Churn or LoadMode.KeepAlive or LoadMode.Both or LoadMode.Udp))
            errors.Add($"--mode {Mode} is not churn, keepalive, both or udp");
        if (Mode.HasFlag(LoadMode.Churn) || Mode == LoadMode.Udp)
        {
            if (Rate is < 1 or > 1_000_000)
                errors.Add($"--rate must be 1 to 1000000 per second, got {Rate}");
            int maxInFlight = Mode == LoadMode.Udp ? MaxUdpInFlight : 100_000;
            if (MaxInFlight < 1 || MaxInFlight > maxInFlight)
                errors.Add($"--max-in-flight must be 1 to {maxInFlight}, got {MaxInFlight}");
        }
        if (Mode.HasFlag(LoadMode.KeepAlive))
        {
            if (Connections is < 1 or > 100_000)
                errors.Add($"--connections must be 1 to 100000, got {Connections}");
            if (Pipeline is < 1 or > 1024)
                errors.Add($"--pipeline must be 1 to 1024, got {Pipeline}");
        }
        if (Mode == LoadMode.Udp)
            ValidateUdp(errors);
        else if (Protocol == LoadProtocol.Dns)
            errors.Add("--protocol dns needs --mode udp");
        if (SourceAddresses is < 1 or > 254)
            errors.Add($"--source-addresses must be 1 to 254, got {SourceAddresses}");
        if (Duration is { } duration && (duration <= TimeSpan.Zero || duration > MaxDuration))
            errors.Add($"--duration must be more than 0 and at most {MaxDuration}, got {duration}");
        if (Count is { } count && (count < 1 || count > MaxCount))
            errors.Add($"--count must be 1 to {MaxCount}, got {count}");
        if (Timeout <= TimeSpan.Zero || Timeout > MaxTimeout)
            errors.Add($"--timeout must be more than 0 and at most {MaxTimeout}, got {Timeout}");
        if (Protocol == LoadProtocol.Echo && Mode != LoadMode.Udp && (PayloadBytes < 8 || PayloadBytes > MaxPayloadBytes))
            errors.Add($"--payload-bytes must be 8 to {MaxPayloadBytes} (the first 8 carry the sequence number), got {PayloadBytes}");
        if (Protocol == LoadProtocol.Http)
        {
            if (!Path.StartsWith('/') || Path.Any(c => c <= ' ' || c >= 127))
                errors.Add($"--path must start with '/' and hold printable ASCII without spaces, got '{Path}'");
            if (GenerationHeader is { } header && (header.Length == 0 || header.Any(c => c <= ' ' || c >= 127 || c == ':')))
                errors.Add($"--generation-header must be a header name, got '{header}'");
            if (ExpectBody.Length > 1 << 20)
                errors.Add("--expect-body is longer than 1 MiB");
        }
        return errors;
    }

    private void ValidateUdp(List<string> errors)
    {
        if (Flows is < 1 or > 1024)
            errors.Add($"--flows must be 1 to 1024, got {Flows}");
        if (Protocol == LoadProtocol.Http)
            errors.Add("--protocol http needs a TCP mode; --mode udp takes --protocol echo or dns");
        if (Protocol == LoadProtocol.Echo && (PayloadBytes < MinDatagramPayloadBytes || PayloadBytes > MaxDatagramPayloadBytes))
            errors.Add($"--payload-bytes must be {MinDatagramPayloadBytes} to {MaxDatagramPayloadBytes} with --mode udp (the first 16 carry the number and send time), got {PayloadBytes}");
        if (Protocol != LoadProtocol.Dns)
            return;
        if (Protocols.DnsCodec.NameProblem(DnsName) is { } problem)
            errors.Add($"--dns-name '{DnsName}': {problem}");
        if (!Enum.IsDefined(DnsType))
            errors.Add($"--dns-type must be A, AAAA or TXT, got {DnsType}");
        if (DnsExpectRcode is < 0 or > 15)
            errors.Add($"--dns-rcode must be 0 to 15 (or a name such as NOERROR, NXDOMAIN), got {DnsExpectRcode}");
        if (DnsExpectAddress is { } address)
        {
            var family = DnsType switch
            {
                DnsQueryType.A => AddressFamily.InterNetwork,
                DnsQueryType.Aaaa => AddressFamily.InterNetworkV6,
                _ => AddressFamily.Unknown,
            };
            if (address.AddressFamily != family)
                errors.Add($"--dns-expect-address {address} does not fit --dns-type {DnsType.ToString().ToUpperInvariant()} (A takes an IPv4 address, AAAA an IPv6 one, TXT none)");
        }
    }

    /// <summary>True for 127.0.0.0/8, ::1 and their IPv4-mapped forms.</summary>
    public static bool IsLoopback(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
            return address.GetAddressBytes()[0] == 127;
        return address.Equals(IPAddress.IPv6Loopback);
    }
}
