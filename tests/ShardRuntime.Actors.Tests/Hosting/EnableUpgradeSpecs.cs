using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using ShardRuntime.Actors.Coordination;
using ShardRuntime.Actors.Hosting;
using ShardRuntime.Actors.Settings;

namespace ShardRuntime.Actors.Tests.Hosting;

/// <summary><see cref="ShardRuntimeOptions.EnableUpgrade"/>: the settings it stands for, and how it starts the app's successor.</summary>
public sealed class EnableUpgradeSpecs
{
    [Fact]
    public void EnableUpgrade_must_turn_the_upgrade_socket_on_and_default_to_the_apps_own_command()
    {
        var options = new ShardRuntimeOptions().EnableUpgrade();

        Assert.True(ShardRuntimeSettings.Create(options.ToConfig()).Upgrade.Enabled);
        var successor = options.UpgradeSuccessor!();
        Assert.Equal(Environment.ProcessPath, successor.FileName);
        // The same arguments as this process's command line, in order (files among them made absolute).
        var words = File.ReadAllText("/proc/self/cmdline").TrimEnd('\0').Split('\0');
        Assert.Equal(words.Skip(1).Select(w => File.Exists(w) ? Path.GetFullPath(w) : w), successor.ArgumentList);
    }

    [Fact]
    public async Task The_successor_must_be_started_with_the_upgrade_and_control_socket_in_its_environment()
    {
        var command = () => new ProcessStartInfo("/bin/sh", ["-c", $"echo \"${EmbeddedUpgrade.UpgradeFromVariable} ${EmbeddedUpgrade.ControlSocketVariable}\""])
        {
            RedirectStandardOutput = true,
        };

        using var process = EmbeddedUpgrade.Starter(command, "/run/app/control.sock")("/run/app/control-upgrade.sock");
        var printed = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("/run/app/control-upgrade.sock /run/app/control.sock", printed.Trim());
    }

    [Fact]
    public void EnableUpgrade_and_the_hosts_upgrade_options_together_must_be_refused_naming_both()
    {
        var options = new ShardRuntimeOptions { Upgrade = new UpgradeOptions() }.EnableUpgrade();

        var e = Assert.Throws<ArgumentException>(() => new AkkaConfigurationBuilder(new Microsoft.Extensions.DependencyInjection.ServiceCollection(), "x").WithShardRuntime(options));

        Assert.Contains("EnableUpgrade", e.Message);
        Assert.Contains("Upgrade", e.Message);
    }
}
