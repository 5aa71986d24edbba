using System.Reflection;
using System.Security.Cryptography;
using ShardRuntime.Runtime.Connections;
using ShardRuntime.Runtime.Datagrams;

namespace ShardRuntime.Runtime.Loading;

/// <summary>
/// Loads a handler generation from a user assembly into a new collectible context (see
/// <see cref="HandlerAssemblySpec"/> for what the type may be). Every call makes a new context, also for an
/// unchanged file, so a generation's types are its own.
/// </summary>
public static class HandlerLoader
{
    private static readonly Type FactoryContract = typeof(IConnectionHandlerFactory);
    private static readonly Type HandlerContract = typeof(IConnectionHandler);
    private static readonly Type StreamFactoryContract = typeof(IStreamConnectionHandlerFactory);
    private static readonly Type StreamHandlerContract = typeof(IStreamConnectionHandler);
    private static readonly Type DatagramFactoryContract = typeof(IDatagramHandlerFactory);
    private static readonly Type DatagramHandlerContract = typeof(IDatagramHandler);
    private static readonly Type[] Contracts =
        [FactoryContract, HandlerContract, StreamFactoryContract, StreamHandlerContract, DatagramFactoryContract, DatagramHandlerContract];

    /// <summary>
    /// Reads the assembly file into memory (the file is not kept open or mapped, so a build can overwrite it; see
    /// <see cref="RegularFile.Read"/> for what is refused), 
    /// loads it into a new collectible context, finds and checks the type, constructs it, and calls
    /// <see cref="IInitializableHandlerFactory.Initialize"/> when the factory has it.
    /// </summary>
    /// <param name="spec">The assembly and type.</param>
    /// <param name="generation">The number of the generation to create (1-based).</param>
    /// <returns>A generation with no connections yet, not retired.</returns>
    /// <exception cref="HandlerLoadException">
    /// The file is missing, not a regular file, bigger than <see cref="RegularFile.MaxAssemblySize"/>, outside the spec's
    /// <see cref="HandlerAssemblySpec.AllowedDirectories"/>, or not an assembly; the type is missing, implements no contract, implements a copy of
    /// the contract instead of the host's, cannot be constructed, or its construction or initialisation threw.
    /// The context of the attempt has been unloaded.
    /// </exception>
    public static HandlerGeneration Load(HandlerAssemblySpec spec, int generation)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(generation, 1);
        if (string.IsNullOrWhiteSpace(spec.AssemblyPath))
        {
            throw new HandlerLoadException(spec, "no assembly path is given.");
        }

        if (string.IsNullOrWhiteSpace(spec.TypeName))
        {
            throw new HandlerLoadException(spec, "no type name is given.");
        }

        var path = Path.GetFullPath(spec.AssemblyPath);
        DateTime timestamp;
        byte[] image;
        try
        {
            // Only a regular file of a bounded size, opened so that a FIFO cannot block (see RegularFile).
            image = RegularFile.Read(path, RegularFile.MaxAssemblySize, spec.AllowedDirectories);
            timestamp = File.GetLastWriteTimeUtc(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HandlerLoadException(spec, e.Message, e);
        }

        var context = new HandlerLoadContext($"handler {spec.TypeName} #{generation}", path, spec.SharedAssemblies, spec.AllowedDirectories);
        try
        {
            var factory = CreateFactory(spec, path, context, image);
            return new HandlerGeneration(
                generation, factory, context, spec with { AssemblyPath = path }, timestamp, Convert.ToHexStringLower(SHA256.HashData(image)));
        }
        catch (HandlerLoadException)
        {
            context.Unload();
            throw;
        }
        catch (Exception e)
        {
            context.Unload();
            throw new HandlerLoadException(spec, $"loading failed with {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static object CreateFactory(HandlerAssemblySpec spec, string path, HandlerLoadContext context, byte[] image)
    {
        Assembly assembly;
        try
        {
            assembly = context.LoadFromBytes(path, image);
        }
        catch (BadImageFormatException e)
        {
            throw new HandlerLoadException(spec, $"'{path}' is not a .NET assembly: {e.Message}", e);
        }
        catch (Exception e) when (e is FileLoadException or IOException)
        {
            throw new HandlerLoadException(spec, $"'{path}' cannot be loaded: {e.Message}", e);
        }

        var type = FindType(spec, assembly);
        if (FactoryContract.IsAssignableFrom(type))
        {
            return ConstructFactory<IConnectionHandlerFactory>(spec, type, static f => f.Name);
        }

        if (StreamFactoryContract.IsAssignableFrom(type))
        {
            return ConstructFactory<IStreamConnectionHandlerFactory>(spec, type, static f => f.Name);
        }

        if (DatagramFactoryContract.IsAssignableFrom(type))
        {
            return ConstructFactory<IDatagramHandlerFactory>(spec, type, static f => f.Name);
        }

        if (HandlerContract.IsAssignableFrom(type))
        {
            var constructor = PublicParameterlessConstructor(spec, type);
            var perConnection = new PerConnectionHandlerFactory(type, constructor);

            // One instance now, so a constructor that throws refuses the load instead of failing every connection.
            Construct(spec, type);
            return perConnection;
        }

        if (StreamHandlerContract.IsAssignableFrom(type))
        {
            var perStream = new PerConnectionStreamHandlerFactory(type, PublicParameterlessConstructor(spec, type));
            Construct(spec, type);
            return perStream;
        }

        if (DatagramHandlerContract.IsAssignableFrom(type))
        {
            var perSocket = new PerSocketDatagramHandlerFactory(type, PublicParameterlessConstructor(spec, type));
            Construct(spec, type);
            return perSocket;
        }

        var copied = CopiedContract(type);
        if (copied is not null)
        {
            throw new HandlerLoadException(spec, DuplicateContractReason(type, copied));
        }

        throw new HandlerLoadException(
            spec,
            $"type '{type.FullName}' implements neither {FactoryContract.FullName} nor {HandlerContract.FullName}. {DescribeCandidates(assembly)}");
    }

    private static Type FindType(HandlerAssemblySpec spec, Assembly assembly)
    {
        Type? type;
        try
        {
            type = assembly.GetType(spec.TypeName, throwOnError: false, ignoreCase: false);
        }
        catch (Exception e) when (e is TypeLoadException or FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            throw new HandlerLoadException(spec, $"type '{spec.TypeName}' cannot be loaded: {e.Message}", e);
        }

        if (type is null)
        {
            var otherCase = assembly.GetType(spec.TypeName, throwOnError: false, ignoreCase: true);
            var hint = otherCase is null ? "" : $" (names are case-sensitive: did you mean '{otherCase.FullName}'?)";
            throw new HandlerLoadException(
                spec, $"type '{spec.TypeName}' was not found in assembly '{assembly.GetName().Name}'{hint}. {DescribeCandidates(assembly)}");
        }

        if (!type.IsClass || type.IsAbstract || type.ContainsGenericParameters)
        {
            throw new HandlerLoadException(spec, $"type '{type.FullName}' must be a non-abstract, non-generic class.");
        }

        if (!type.IsVisible)
        {
            throw new HandlerLoadException(spec, $"type '{type.FullName}' must be public.");
        }

        return type;
    }

    private static ConstructorInfo PublicParameterlessConstructor(HandlerAssemblySpec spec, Type type) =>
        type.GetConstructor(Type.EmptyTypes)
        ?? throw new HandlerLoadException(spec, $"type '{type.FullName}' has no public parameterless constructor.");

    private static object Construct(HandlerAssemblySpec spec, Type type)
    {
        var constructor = PublicParameterlessConstructor(spec, type);
        try
        {
            return constructor.Invoke(BindingFlags.DoNotWrapExceptions, binder: null, parameters: null, culture: null);
        }
        catch (Exception e)
        {
            throw new HandlerLoadException(spec, $"the constructor of '{type.FullName}' threw {e.GetType().Name}: {e.Message}", e);
        }
    }

    /// <summary>Constructs and initialises a factory type; one whose initialisation fails is disposed before the refusal.</summary>
    private static T ConstructFactory<T>(HandlerAssemblySpec spec, Type type, Func<T, string> nameOf) where T : class
    {
        var factory = (T)Construct(spec, type);
        try
        {
            Initialize(spec, type, factory, () => nameOf(factory));
        }
        catch
        {
            DisposeQuietly(factory);
            throw;
        }

        return factory;
    }

    private static void Initialize(HandlerAssemblySpec spec, Type type, object factory, Func<string> nameOf)
    {
        try
        {
            (factory as IInitializableHandlerFactory)?.Initialize();
        }
        catch (Exception e)
        {
            throw new HandlerLoadException(spec, $"'{type.FullName}.Initialize()' threw {e.GetType().Name}: {e.Message}", e);
        }

        string? name;
        try
        {
            name = nameOf();
        }
        catch (Exception e)
        {
            throw new HandlerLoadException(spec, $"'{type.FullName}.Name' threw {e.GetType().Name}: {e.Message}", e);
        }

        if (string.IsNullOrWhiteSpace(name))
        {
            throw new HandlerLoadException(spec, $"'{type.FullName}.Name' is empty; a factory must name its handler.");
        }
    }

    private static void DisposeQuietly(object factory)
    {
        try
        {
            (factory as IDisposable)?.Dispose();
        }
        catch (Exception)
        {
            // The load is refused for the reason already being thrown; a failing Dispose must not hide it.
        }
    }

    /// <summary>An interface of <paramref name="type"/> named like a contract interface but not the host's type, or null.</summary>
    private static Type? CopiedContract(Type type) =>
        type.GetInterfaces().FirstOrDefault(i => Contracts.Any(c => i.FullName == c.FullName && i != c));

    private static string DuplicateContractReason(Type type, Type copied)
    {
        var host = FactoryContract.Assembly.GetName();
        var copy = copied.Assembly.GetName();
        var where = copied.Assembly == type.Assembly
            ? "compiled into the handler assembly itself"
            : string.IsNullOrEmpty(copied.Assembly.Location) ? "loaded from the handler's folder" : $"loaded from {copied.Assembly.Location}";
        return $"type '{type.FullName}' implements {copied.FullName} from assembly '{copy.Name}' {copy.Version} ({where}), "
            + $"not the host's {host.Name} {host.Version}: the handler carries its own copy of the handler contract, so its types "
            + $"are not the host's. Reference {host.Name} without shipping it (<Private>false</Private> and ExcludeAssets=\"runtime\"), "
            + "and do not compile the contract's sources into the handler assembly.";
    }

    private static string KindOf(Type type) =>
        FactoryContract.IsAssignableFrom(type) ? "factory"
        : HandlerContract.IsAssignableFrom(type) ? "handler"
        : StreamFactoryContract.IsAssignableFrom(type) ? "async factory"
        : StreamHandlerContract.IsAssignableFrom(type) ? "async handler"
        : DatagramFactoryContract.IsAssignableFrom(type) ? "datagram factory"
        : "datagram handler";

    private static string DescribeCandidates(Assembly assembly)
    {
        var candidates = ExportedTypes(assembly)
            .Where(t => t is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false })
            .Where(t => Contracts.Any(c => c.IsAssignableFrom(t)))
            .Select(t => $"{t.FullName} ({KindOf(t)})")
            .Order(StringComparer.Ordinal)
            .ToList();
        if (candidates.Count > 0)
        {
            return $"Exported types implementing the contract: {string.Join(", ", candidates)}.";
        }

        var copies = ExportedTypes(assembly).Where(t => CopiedContract(t) is not null).Select(t => t.FullName).ToList();
        return copies.Count > 0
            ? $"No exported type implements the host's contract; {string.Join(", ", copies)} implement a copy of it: the handler assembly carries its own copy of {HandlerLoadContext.ContractAssemblyName}."
            : "No exported type implements the contract.";
    }

    private static IEnumerable<Type> ExportedTypes(Assembly assembly)
    {
        try
        {
            return assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.OfType<Type>().Where(t => t.IsVisible);
        }
        catch (Exception e) when (e is TypeLoadException or FileNotFoundException or FileLoadException)
        {
            return [];
        }
    }
}
