using SharpFuzz;
using ShardRuntime.Fuzz;

// One executable, one entry per target: `ShardRuntime.Fuzz <target>` runs the target under afl-fuzz (SharpFuzz's
// in-process fork server: input on stdin, every run in this process); `ShardRuntime.Fuzz <target> <file|dir>...` runs
// the given inputs once each, outside afl (to replay a crash or check a seed corpus), and says which failed.
var targets = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
{
    ["http-ok"] = HttpOkTarget.Run,
    ["control"] = ControlRequestTarget.Run,
    ["upgrade"] = UpgradeFrameTarget.Run,
    ["dns"] = DnsStaticTarget.Run,
};

if (args.Length == 0 || !targets.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: ShardRuntime.Fuzz <target> [input file or directory...]; targets: {string.Join(", ", targets.Keys)}");
    return 2;
}

if (args.Length == 1)
{
    Fuzzer.Run(stream =>
    {
        using var input = new MemoryStream();
        stream.CopyTo(input);
        target(input.ToArray());
    });
    return 0;
}

var failed = 0;
var files = args.Skip(1).SelectMany<string, string>(a => Directory.Exists(a) ? Directory.GetFiles(a).Order(StringComparer.Ordinal) : [a]).ToList();
foreach (var file in files)
{
    try
    {
        target(File.ReadAllBytes(file));
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"{file}: {e.GetType().Name}: {e.Message}");
        Console.WriteLine(e.StackTrace);
    }
}

Console.WriteLine($"{args[0]}: {files.Count} input(s), {failed} failed");
return failed == 0 ? 0 : 1;
