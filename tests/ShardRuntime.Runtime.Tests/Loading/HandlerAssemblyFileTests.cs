using System.Diagnostics;
using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Runtime.Tests.Loading;

public sealed class HandlerAssemblyFileTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("sr-assembly-file-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public void A_regular_file_and_a_link_to_one_must_have_no_problem()
    {
        var file = Path.Combine(_directory.FullName, "handler.dll");
        File.WriteAllBytes(file, [1, 2, 3]);
        var link = Path.Combine(_directory.FullName, "link.dll");
        File.CreateSymbolicLink(link, file);

        Assert.Null(HandlerAssemblyFile.FindProblem(file));
        Assert.Null(HandlerAssemblyFile.FindProblem(link));
    }

    [Fact]
    public void A_missing_file_a_directory_and_a_FIFO_must_each_be_named_as_what_they_are()
    {
        var fifo = Path.Combine(_directory.FullName, "handler.dll");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
            Assert.True(mkfifo.WaitForExit(TimeSpan.FromSeconds(30)) && mkfifo.ExitCode == 0, "mkfifo failed");

        Assert.Contains("does not exist", HandlerAssemblyFile.FindProblem(Path.Combine(_directory.FullName, "missing.dll")));
        Assert.Contains("is a directory", HandlerAssemblyFile.FindProblem(_directory.FullName));
        Assert.Contains("not a regular file", HandlerAssemblyFile.FindProblem(fifo)); // and returns: the FIFO is never opened
    }
}
