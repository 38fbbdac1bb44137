using Microsoft.Extensions.Configuration;
using Tokage.AppHost.Engines;

namespace Tokage.AppHost.Tests;

public class EngineProviderTests
{
    private static IConfiguration Config(string? engines) => new ConfigurationBuilder()
        .AddInMemoryCollection(engines is null ? [] : [new(EngineProvider.ConfigurationKey, engines)])
        .Build();

    [Fact]
    public void Runtime_answering_means_containers()
    {
        var provider = EngineProvider.Choose(Config(null), isPublishMode: false, () => "docker");
        Assert.Equal(EngineProviderKind.Containers, provider.Kind);
        Assert.Contains("docker", provider.Reason);
    }

    [Fact]
    public void No_runtime_means_local_processes()
    {
        var provider = EngineProvider.Choose(Config("auto"), isPublishMode: false, () => null);
        Assert.Equal(EngineProviderKind.LocalProcesses, provider.Kind);
        Assert.Equal("no container runtime answered", provider.Reason);
    }

    [Fact]
    public void Configuration_overrides_the_probe_without_calling_it()
    {
        Func<string?> probe = () => throw new InvalidOperationException("must not probe");
        Assert.Equal(EngineProviderKind.LocalProcesses, EngineProvider.Choose(Config("local"), false, probe).Kind);
        Assert.Equal(EngineProviderKind.Containers, EngineProvider.Choose(Config("Containers"), false, probe).Kind);
    }

    [Fact]
    public void Publishing_always_describes_containers()
    {
        var provider = EngineProvider.Choose(Config("local"), isPublishMode: true, () => null);
        Assert.Equal(EngineProviderKind.Containers, provider.Kind);
    }

    [Fact]
    public void Unknown_setting_is_a_clear_error()
    {
        var error = Assert.Throws<InvalidOperationException>(() => EngineProvider.Choose(Config("kubernetes"), false, () => null));
        Assert.Contains("Tokage:Engines='kubernetes'", error.Message);
    }
}
