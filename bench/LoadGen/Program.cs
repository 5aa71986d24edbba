using ShardRuntime.LoadGen.Cli;

// Loopback load generator for ShardRuntime, nginx and Kestrel: see `shardruntime-loadgen --help`.
return await LoadCommandLine.InvokeAsync(args);
