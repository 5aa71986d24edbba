using System.Diagnostics;

namespace ShardRuntime.Tests.Shared;

/// <summary>
/// Files that are not what a handler assembly should be, for the specs that name one: a FIFO with no writer (an open
/// without O_NONBLOCK blocks on it for good), a directory, and a sparse file bigger than a handler assembly may be.
/// Linked into the test projects that need them.
/// </summary>
internal static class SpecialFiles
{
    /// <summary>Makes a FIFO at <paramref name="path"/> (mkfifo(1)).</summary>
    public static string Fifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("mkfifo did not start");
        if (!mkfifo.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            mkfifo.Kill();
            throw new TimeoutException("mkfifo did not finish within 30s");
        }
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    /// <summary>A sparse file of <paramref name="bytes"/> bytes (no disk space taken) at <paramref name="path"/>.</summary>
    public static string Sparse(string path, long bytes)
    {
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        file.SetLength(bytes);
        return path;
    }

    /// <summary>A fresh directory under /tmp, deleted with its contents on dispose.</summary>
    public sealed class TempDirectory : IDisposable
    {
        public TempDirectory(string prefix) => Path = Directory.CreateTempSubdirectory(prefix).FullName;

        public string Path { get; }

        /// <summary>Copies the sample handler build in fixtures/<paramref name="variant"/> (next to the tests) here; the path of its SampleHandlers.dll.</summary>
        public string CopySampleHandlers(string variant = "v1")
        {
            var from = System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", variant);
            foreach (var file in Directory.GetFiles(from))
                File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)), overwrite: true);
            return System.IO.Path.Combine(Path, "SampleHandlers.dll");
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Path, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: /tmp is cleaned anyway.
            }
        }
    }
}
