using System.Reflection;
using System.Runtime.Loader;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// The collectible context of one handler generation. Resolution order for an assembly the handler needs:
/// <list type="number">
/// <item>shared with the host, by simple name and whatever version the handler was built against:
/// ShardRuntime.Runtime (always, so the handler's contract types are the host's), other ShardRuntime.* assemblies and
/// the spec's <see cref="HandlerAssemblySpec.SharedAssemblies"/> when the host can load them;</item>
/// <item>framework assemblies: always the host's, even when the handler's folder has copies (self-contained builds);</item>
/// <item>the handler's own: through <see cref="AssemblyDependencyResolver"/> when a .deps.json lies next to the
/// handler assembly, else a file named after the assembly in the handler's folder; read into memory, never locked;</item>
/// <item>anything else falls back to the default context (assemblies of the host application).</item>
/// </list>
/// </summary>
internal sealed class HandlerLoadContext : AssemblyLoadContext
{
    /// <summary>The contract: the handler's types must implement the host's copy of it.</summary>
    internal static readonly string ContractAssemblyName = typeof(HandlerLoadContext).Assembly.GetName().Name!;

    private static readonly HashSet<string> FrameworkAssemblies = FindFrameworkAssemblies();

    private readonly string _folder;
    private readonly AssemblyDependencyResolver? _resolver;
    private readonly HashSet<string> _shared;
    private readonly IReadOnlyList<string>? _allowedDirectories;

    public HandlerLoadContext(string name, string assemblyPath, IEnumerable<string> sharedAssemblies, IReadOnlyList<string>? allowedDirectories)
        : base(name, isCollectible: true)
    {
        _folder = Path.GetDirectoryName(assemblyPath)!;
        _allowedDirectories = allowedDirectories;
        // The resolver reads the .deps.json itself: only a regular file (a FIFO would block it).
        if (RegularFile.IsRegular(Path.ChangeExtension(assemblyPath, ".deps.json")))
        {
            _resolver = new AssemblyDependencyResolver(assemblyPath);
        }

        _shared = new HashSet<string>(sharedAssemblies, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Loads <paramref name="path"/> (and its .pdb when there is one) from memory, so the files stay unlocked. The .pdb
    /// and private dependencies are read as the assembly is (<see cref="RegularFile.Read"/>, within the allowed directories).
    /// </summary>
    public Assembly LoadFromBytes(string path, byte[] image)
    {
        using var assembly = new MemoryStream(image, writable: false);
        var symbolsPath = Path.ChangeExtension(path, ".pdb");
        if (!File.Exists(symbolsPath))
        {
            return LoadFromStream(assembly);
        }

        using var symbols = new MemoryStream(RegularFile.Read(symbolsPath, RegularFile.MaxAssemblySize, _allowedDirectories), writable: false);
        return LoadFromStream(assembly, symbols);
    }

    /// <inheritdoc />
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        var name = assemblyName.Name;
        if (name is null)
        {
            return null;
        }

        if (string.Equals(name, ContractAssemblyName, StringComparison.OrdinalIgnoreCase))
        {
            return typeof(HandlerLoadContext).Assembly;
        }

        if (_shared.Contains(name) || name.StartsWith("ShardRuntime.", StringComparison.OrdinalIgnoreCase))
        {
            var host = TryLoadFromHost(name);
            if (host is not null)
            {
                return host;
            }
        }

        if (FrameworkAssemblies.Contains(name))
        {
            return null;
        }

        var privatePath = _resolver?.ResolveAssemblyToPath(assemblyName) ?? Path.Combine(_folder, name + ".dll");
        return File.Exists(privatePath) ? LoadFromBytes(privatePath, RegularFile.Read(privatePath, RegularFile.MaxAssemblySize, _allowedDirectories)) : null;
    }

    /// <inheritdoc />
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver?.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }

    private static Assembly? TryLoadFromHost(string name)
    {
        try
        {
            return Default.LoadFromAssemblyName(new AssemblyName(name));
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null;
        }
    }

    private static HashSet<string> FindFrameworkAssemblies()
    {
        // The shared frameworks (Microsoft.NETCore.App, and ASP.NET Core's when the host uses it) sit side by side
        // under <dotnet>/shared/<framework>/<version>/: every trusted platform assembly under that root is framework.
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location) ?? "";
        var sharedRoot = Path.GetDirectoryName(Path.GetDirectoryName(runtimeDirectory)) ?? runtimeDirectory;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "mscorlib", "netstandard" };
        var trusted = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var path in trusted)
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (path.StartsWith(sharedRoot + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                || name.StartsWith("System.", StringComparison.OrdinalIgnoreCase))
            {
                names.Add(name);
            }
        }

        return names;
    }
}
