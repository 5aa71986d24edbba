namespace ShardRuntime.Actors.Settings;

/// <summary>
/// What <see cref="ShardRuntimeSettings.Check"/> found: the settings when nothing is wrong, the listeners that could be
/// read (also when something else is wrong), and every problem, each naming its key.
/// </summary>
/// <param name="Settings">The settings; null when <paramref name="Problems"/> is not empty.</param>
/// <param name="Listeners">The listeners that could be read, in the order of the configuration.</param>
/// <param name="Problems">Every unknown key and every malformed value found (the first of each listener and section).</param>
public sealed record ShardRuntimeSettingsCheck(
    ShardRuntimeSettings? Settings,
    IReadOnlyList<ListenerSettings> Listeners,
    IReadOnlyList<ShardRuntimeConfigurationException> Problems);
