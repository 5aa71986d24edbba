using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace ShardRuntime.Micro;

/// <summary>
/// What BenchmarkDotNet's Allocated column is made of: the bytes allocated in the whole process during the memory
/// diagnoser's run (<c>GC.GetTotalAllocatedBytes(precise: true)</c> after a full collection, before and after) and the
/// operations of that run. Allocated is their quotient rounded to a whole byte, so "-" means under half a byte per
/// operation; this column says how many bytes that was.
/// </summary>
internal sealed class AllocatedTotalColumn : IColumn
{
    public string Id => nameof(AllocatedTotalColumn);

    public string ColumnName => "Allocated in run";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Metric;

    public int PriorityInCategory => 10;

    public bool IsNumeric => false;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Bytes allocated in the process during the memory diagnoser's run / operations of that run";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report is null || !report.Success) return "?";
        var bytes = report.GcStats.GetTotalAllocatedBytes(excludeAllocationQuantumSideEffects: false);
        return bytes is null ? "?" : $"{bytes.Value} B / {report.GcStats.TotalOperations} ops";
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;
}
