using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Net;
using ShardRuntime.LoadGen.Reporting;
using ShardRuntime.LoadGen.Run;

namespace ShardRuntime.LoadGen.Cli;

/// <summary>The command line of <c>shardruntime-loadgen</c>: options to <see cref="LoadOptions"/>, a run, a summary.</summary>
public static class LoadCommandLine
{
    /// <summary>Parses <paramref name="args"/>, runs the load and prints the summary; returns the exit code (<see cref="ExitCodes"/>).</summary>
    public static async Task<int> InvokeAsync(string[] args, TextWriter? output = null, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        output ??= Console.Out;
        error ??= Console.Error;

        var target = new Option<IPEndPoint>("--target")
        {
            Description = "Server to load, a loopback address and port: 127.0.0.1:8080, [::1]:8080 or localhost:8080",
            Required = true,
            HelpName = "address:port",
            CustomParser = ParseTarget,
        };
        var mode = new Option<string>("--mode")
        {
            Description = "churn: a new connection per request at --rate; keepalive: --connections long-lived connections; both; " +
                "udp: numbered datagrams at --rate from --flows sockets",
            DefaultValueFactory = _ => "churn",
        };
        mode.AcceptOnlyFromAmong("churn", "keepalive", "both", "udp");
        var protocol = new Option<string?>("--protocol")
        {
            Description = "http: GET with Host header, right reply = 200 and --expect-body; echo: unique payload, right reply = same bytes; " +
                "dns (udp): a query for --dns-name, right reply = same id and question, --dns-rcode [default: http, echo with --mode udp]",
        };
        protocol.AcceptOnlyFromAmong("http", "echo", "dns");
        var rate = new Option<int>("--rate") { Description = "Churn: new connections per second; udp: queries per second (open-loop)", DefaultValueFactory = _ => LoadOptions.DefaultRate };
        var maxInFlight = new Option<int>("--max-in-flight")
        {
            Description = "Churn, udp: attempts (queries) in flight at most; a start due while that many are in flight is skipped and counted",
            DefaultValueFactory = _ => LoadOptions.DefaultMaxInFlight,
        };
        var connections = new Option<int>("--connections") { Description = "Keep-alive: long-lived connections", DefaultValueFactory = _ => LoadOptions.DefaultConnections };
        var pipeline = new Option<int>("--pipeline") { Description = "Keep-alive: requests in flight per connection", DefaultValueFactory = _ => LoadOptions.DefaultPipeline };
        var duration = new Option<TimeSpan?>("--duration")
        {
            Description = $"Stop starting requests after this long (500ms, 10s, 2m; at most 1h) [default: {LoadOptions.DefaultDuration.TotalSeconds:0}s unless --count is given]",
            HelpName = "time",
            CustomParser = r => ParseDuration(r),
        };
        var count = new Option<long?>("--count") { Description = $"Stop after this many requests in total (at most {LoadOptions.MaxCount})" };
        var timeout = new Option<TimeSpan?>("--timeout")
        {
            Description = $"Bound on each connect and on each reply after its request was sent (at most 5m) [default: {LoadOptions.DefaultTimeout.TotalSeconds:0}s]",
            HelpName = "time",
            CustomParser = r => ParseDuration(r),
        };
        var expectBody = new Option<string>("--expect-body") { Description = "HTTP: the body of a right reply", DefaultValueFactory = _ => LoadOptions.DefaultExpectBody };
        var generationHeader = new Option<string?>("--generation-header")
        {
            Description = "HTTP: tally successful replies (and connections) by the value of this response header, e.g. X-Handler-Generation",
            HelpName = "name",
        };
        var path = new Option<string>("--path") { Description = "HTTP: request path", DefaultValueFactory = _ => LoadOptions.DefaultPath };
        var payloadBytes = new Option<int>("--payload-bytes") { Description = "Echo: bytes per request (at least 8; udp: 16 to 65507)", DefaultValueFactory = _ => LoadOptions.DefaultPayloadBytes };
        var flows = new Option<int>("--flows") { Description = "Udp: client sockets, each with its own source port", DefaultValueFactory = _ => LoadOptions.DefaultFlows, HelpName = "n" };
        var dnsName = new Option<string>("--dns-name") { Description = "Dns: the name to ask for", DefaultValueFactory = _ => LoadOptions.DefaultDnsName };
        var dnsType = new Option<string>("--dns-type") { Description = "Dns: the type to ask for", DefaultValueFactory = _ => "A" };
        dnsType.AcceptOnlyFromAmong("A", "AAAA", "TXT", "a", "aaaa", "txt");
        var dnsRcode = new Option<int>("--dns-rcode")
        {
            Description = "Dns: the RCODE of a right reply, a name (NOERROR, NXDOMAIN, REFUSED, ...) or 0-15 [default: NOERROR]",
            HelpName = "rcode",
            CustomParser = ParseRcode,
        };
        var dnsExpectAddress = new Option<IPAddress?>("--dns-expect-address")
        {
            Description = "Dns, A or AAAA: a right reply's answer section holds this address",
            HelpName = "address",
            CustomParser = ParseAddress,
        };
        var sourceAddresses = new Option<int>("--source-addresses")
        {
            Description = "IPv4: connect from 127.0.0.1..127.0.0.N so churn has N x ~28k ephemeral ports (1: let the kernel pick)",
            DefaultValueFactory = _ => LoadOptions.DefaultSourceAddresses,
            HelpName = "n",
        };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the summary as JSON to this file", HelpName = "file" };
        var progress = new Option<bool>("--progress") { Description = "Print one line of counters per second" };
        var failOnErrors = new Option<bool>("--fail-on-errors") { Description = "Exit 1 if any request did not succeed" };

        var root = new RootCommand(
            "ShardRuntime load generator: connection churn and keep-alive load on a loopback server (http-ok or echo), " +
            "or numbered UDP datagrams (echo or DNS queries); counts succeeded, refused, reset, closed (EOF before a full reply), " +
            "timed_out (udp: lost), wrong_reply and other_error separately, and for udp duplicated, late and unmatched replies. " +
            "Exit codes: 0 ran, 1 failures (udp: also duplicates) with --fail-on-errors, 2 usage error.")
        {
            target, mode, protocol, rate, maxInFlight, connections, pipeline, duration, count, timeout,
            expectBody, generationHeader, path, payloadBytes, flows, dnsName, dnsType, dnsRcode, dnsExpectAddress,
            sourceAddresses, json, progress, failOnErrors,
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var parseError in parse.Errors)
                await error.WriteLineAsync($"error: {parseError.Message}").ConfigureAwait(false);
            await error.WriteLineAsync("Run with --help for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        if (parse.Action is not null)
        {
            // --help or --version: the root command has no action of its own.
            return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken).ConfigureAwait(false);
        }

        var loadMode = parse.GetValue(mode) switch
        {
            "keepalive" => LoadMode.KeepAlive,
            "both" => LoadMode.Both,
            "udp" => LoadMode.Udp,
            _ => LoadMode.Churn,
        };
        var options = new LoadOptions
        {
            Target = parse.GetValue(target)!,
            Mode = loadMode,
            Protocol = parse.GetValue(protocol) switch
            {
                "echo" => LoadProtocol.Echo,
                "dns" => LoadProtocol.Dns,
                "http" => LoadProtocol.Http,
                _ => loadMode == LoadMode.Udp ? LoadProtocol.Echo : LoadProtocol.Http,
            },
            Rate = parse.GetValue(rate),
            MaxInFlight = parse.GetValue(maxInFlight),
            Connections = parse.GetValue(connections),
            Pipeline = parse.GetValue(pipeline),
            Duration = parse.GetValue(duration),
            Count = parse.GetValue(count),
            Timeout = parse.GetValue(timeout) ?? LoadOptions.DefaultTimeout,
            ExpectBody = parse.GetValue(expectBody)!,
            GenerationHeader = parse.GetValue(generationHeader),
            Path = parse.GetValue(path)!,
            PayloadBytes = parse.GetValue(payloadBytes),
            Flows = parse.GetValue(flows),
            DnsName = parse.GetValue(dnsName)!,
            DnsType = parse.GetValue(dnsType)!.ToUpperInvariant() switch { "AAAA" => DnsQueryType.Aaaa, "TXT" => DnsQueryType.Txt, _ => DnsQueryType.A },
            DnsExpectRcode = parse.GetValue(dnsRcode),
            DnsExpectAddress = parse.GetValue(dnsExpectAddress),
            SourceAddresses = parse.GetValue(sourceAddresses),
        };
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
                await error.WriteLineAsync($"error: {problem}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        LoadReport report;
        try
        {
            var printProgress = parse.GetValue(progress);
            report = await LoadRun.RunAsync(
                options,
                printProgress ? snapshot => output.WriteLine(ReportWriter.FormatProgress(snapshot)) : null,
                interrupted.Token).ConfigureAwait(false);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        await output.WriteAsync(ReportWriter.FormatSummary(report)).ConfigureAwait(false);
        if (parse.GetValue(json) is { } file)
        {
            await using var stream = file.Create();
            ReportWriter.WriteJson(stream, report);
        }
        await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        return parse.GetValue(failOnErrors) && report.Problems > 0 ? ExitCodes.AttemptsFailed : ExitCodes.Ran;
    }

    private static IPEndPoint ParseTarget(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        if (text.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase))
            text = "127.0.0.1:" + text["localhost:".Length..];
        if (!IPEndPoint.TryParse(text, out var endPoint) || endPoint.Port == 0 || !HasPort(text))
        {
            result.AddError($"--target must be an IP address and port such as 127.0.0.1:8080 or [::1]:8080, got '{text}'");
            return new IPEndPoint(IPAddress.Loopback, 1);
        }
        if (!LoadOptions.IsLoopback(endPoint.Address))
            result.AddError($"--target {text} is not a loopback address: the load generator only sends to 127.0.0.0/8 or ::1");
        return endPoint;
    }

    private static int ParseRcode(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value.Trim() : "";
        if (Protocols.DnsCodec.ParseRcode(text) is { } rcode)
            return rcode;
        result.AddError($"--dns-rcode: expected an RCODE name (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ...) or a number 0-15, got '{text}'");
        return 0;
    }

    private static IPAddress? ParseAddress(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value.Trim() : "";
        if (IPAddress.TryParse(text, out var address))
            return address;
        result.AddError($"--dns-expect-address: expected an IPv4 or IPv6 address, got '{text}'");
        return null;
    }

    private static bool HasPort(string text) => text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Count(c => c == ':') == 1;

    /// <summary>"250ms", "10s", "2m", "1h", or a plain number of seconds.</summary>
    internal static TimeSpan? ParseDuration(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value.Trim() : "";
        var (number, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0)
            : text.EndsWith('m') ? (text[..^1], 60.0)
            : text.EndsWith('h') ? (text[..^1], 3600.0)
            : (text, 1.0);
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value <= 0 || value * unit > 86_400)
        {
            result.AddError($"{result.Parent?.ToString() ?? "duration"}: expected a positive time such as 500ms, 10s, 2m or 1h, got '{text}'");
            return null;
        }
        return TimeSpan.FromSeconds(value * unit);
    }
}
