using ShardRuntime.Host.Cli;
using ShardRuntime.Host.Node;

// The node and its command-line tool in one executable: no arguments (or `run`) starts a node,
// the other commands talk to a running node over its control socket.
return await CommandLine.InvokeAsync(args, (parse, token) => NodeRunner.RunAsync(
    new NodeLaunch(
        parse.GetValue(CommandLine.ConfigOption),
        parse.GetValue(CommandLine.ControlSocketOption),
        parse.GetValue(CommandLine.LogFormatOption) ?? "text",
        IsSuccessor: parse.GetResult(CommandLine.UpgradeFromOption) is not null,
        PredecessorSocket: parse.GetValue(CommandLine.UpgradeFromOption),
        ArgumentCount: args.Length),
    token));
