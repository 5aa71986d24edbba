namespace ShardRuntime.Runtime.Tests.Loading;

/// <summary>
/// The Loading specs run one at a time and apart from every other test: they count collections and measure the
/// managed heap, and the sample factory counts its initialisations and disposals in process-wide AppContext data.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadingCollection
{
    public const string Name = "Loading";
}
