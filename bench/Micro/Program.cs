using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ShardRuntime.Micro;

/// <summary>
/// Runs the micro-benchmarks (BenchmarkDotNet's command line: <c>--filter '*'</c>, <c>--artifacts DIR</c>, ...). In
/// process (no generated project to build) and with few iterations, so that the whole run takes a few minutes:
/// allocations are exact whatever the iteration count, times are indicative on a shared machine.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithLaunchCount(1)
            .WithWarmupCount(3)
            .WithIterationCount(10)
            .WithId("micro");
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(new AllocatedTotalColumn())
            .HideColumns(Column.Job, Column.Toolchain, Column.LaunchCount, Column.WarmupCount, Column.IterationCount)
            .WithOptions(ConfigOptions.JoinSummary);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
