using ShardRuntime.Runtime.Loading;

namespace ShardRuntime.Runtime.Tests.Loading;

/// <summary>What <see cref="RegularFile"/> reads and what it refuses, judged on the file the kernel opened.</summary>
public sealed class RegularFileTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("sr-regular-file-");

    private string Make(string relative, string text = "bytes")
    {
        var path = Path.Combine(_root.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_file_inside_an_allowed_directory_must_be_read_whole()
    {
        var path = Make("allowed/handler.dll", "the image");

        Assert.Equal("the image"u8.ToArray(), RegularFile.Read(path, 1024, [Path.Combine(_root.FullName, "allowed")]));
    }

    [Fact]
    public void A_dot_dot_escape_from_an_allowed_directory_must_be_refused_naming_the_real_path()
    {
        var outside = Make("outside/handler.dll");
        Directory.CreateDirectory(Path.Combine(_root.FullName, "allowed"));
        var escaping = Path.Combine(_root.FullName, "allowed", "..", "outside", "handler.dll");

        var e = Assert.Throws<IOException>(() => RegularFile.Read(escaping, 1024, [Path.Combine(_root.FullName, "allowed")]));

        Assert.Contains($"(really '{outside}') is outside the directories", e.Message);
    }

    [Fact]
    public void An_allowed_directory_that_is_a_symlink_must_count_as_its_target()
    {
        var path = Make("real/handler.dll");
        var alias = Path.Combine(_root.FullName, "alias");
        Directory.CreateSymbolicLink(alias, Path.Combine(_root.FullName, "real"));

        Assert.Equal("bytes"u8.ToArray(), RegularFile.Read(path, 1024, [alias]));
    }

    [Fact]
    public void A_file_bigger_than_the_bound_must_be_refused_with_both_sizes()
    {
        var path = Make("big.dll", new string('x', 2048));

        var e = Assert.Throws<IOException>(() => RegularFile.Read(path, 1024));

        Assert.Equal($"'{path}' is 2.0 KiB, more than the 1.0 KiB a handler assembly may have", e.Message);
    }

    [Theory]
    [InlineData(500L, "500 bytes")]
    [InlineData(1536L, "1.5 KiB")]
    [InlineData(64L * 1024 * 1024, "64 MiB")]
    [InlineData(4L * 1024 * 1024 * 1024, "4.0 GiB")]
    public void Sizes_must_read_as_an_operator_writes_them(long bytes, string expected) =>
        Assert.Equal(expected, RegularFile.FormatSize(bytes));

    [Fact]
    public void Check_must_pass_a_regular_file_and_a_link_to_one_and_name_a_directory_and_a_FIFO_without_opening_them()
    {
        var file = Path.Combine(_root.FullName, "handler.dll");
        File.WriteAllBytes(file, [1, 2, 3]);
        var link = Path.Combine(_root.FullName, "link.dll");
        File.CreateSymbolicLink(link, file);
        var fifo = Path.Combine(_root.FullName, "fifo.dll");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
            Assert.True(mkfifo.WaitForExit(TimeSpan.FromSeconds(30)) && mkfifo.ExitCode == 0, "mkfifo failed");

        Assert.Null(RegularFile.Check(file, RegularFile.MaxAssemblySize));
        Assert.Null(RegularFile.Check(link, RegularFile.MaxAssemblySize));
        Assert.Null(RegularFile.Check(Path.Combine(_root.FullName, "missing.dll"), RegularFile.MaxAssemblySize)); // the load says so
        Assert.Contains("is a directory, not a regular file", RegularFile.Check(_root.FullName, RegularFile.MaxAssemblySize));
        Assert.Contains("is a FIFO, not a regular file", RegularFile.Check(fifo, RegularFile.MaxAssemblySize)); // and returns: never opened
    }

    public void Dispose() => _root.Delete(recursive: true);
}
