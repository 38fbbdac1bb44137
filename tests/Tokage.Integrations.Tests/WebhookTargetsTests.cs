using Tokage.Webhooks;
using System.Net;
using System.Net.Sockets;
using Tokage.Integrations;

namespace Tokage.Integrations.Tests;

public sealed class WebhookTargetsTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.0.9")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.1.10")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("192.0.2.7")]
    [InlineData("198.18.0.1")]
    [InlineData("::1")]
    [InlineData("::")]
    [InlineData("fe80::1")]
    [InlineData("fd00::1")]
    [InlineData("ff02::1")]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    public void InwardAddressesAreNotPublic(string address) => Assert.False(WebhookTargets.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("203.0.114.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    public void PublicAddressesArePublic(string address) => Assert.True(WebhookTargets.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://localhost:9000/hook", "this machine")]
    [InlineData("http://api.localhost/hook", "this machine")]
    [InlineData("http://127.0.0.1/hook", "this machine")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address")]
    [InlineData("https://10.0.0.5:8443/hook", "10.0.0.5 is not a public address")]
    [InlineData("http://[fd12::5]/hook", "fd12::5 is not a public address")]
    public void UrlsThatNameAnInwardHostAreRefused(string url, string reason) =>
        Assert.Contains(reason, WebhookTargets.RefusedHost(new Uri(url)));

    [Theory]
    [InlineData("https://hooks.slack.com/services/T/B/X")]
    [InlineData("https://example.com/hook")]
    [InlineData("https://8.8.8.8/hook")]
    public void UrlsWithAPublicHostOrANameAreAccepted(string url) => Assert.Null(WebhookTargets.RefusedHost(new Uri(url)));

    [Fact]
    public async Task TheGuardedHandlerRefusesToConnectToALoopbackListener()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var guarded = new HttpClient(WebhookTargets.Handler(new WebhookTargetsOptions()));

        // A name, resolved at connect time, as a DNS answer pointing inward would be.
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.GetAsync($"http://localhost:{port}/"));
        Assert.Contains("no public address", refused.ToString());
        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task PrivateNetworksCanBeAllowedForLocalDevelopment()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var open = new HttpClient(WebhookTargets.Handler(new WebhookTargetsOptions { AllowPrivateNetworks = true })) { Timeout = TimeSpan.FromSeconds(5) };

        var request = open.GetAsync($"http://127.0.0.1:{port}/");
        using var accepted = await listener.AcceptTcpClientAsync();
        Assert.True(accepted.Connected);
        accepted.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => request);
    }

    [Fact]
    public void TheEnvironmentsProxyIsNeverUsedSoTheGuardSeesTheRealTarget()
    {
        // Were HTTP_PROXY honoured, the guard would check the proxy's address and the proxy would reach any target.
        using var handler = WebhookTargets.Handler(new WebhookTargetsOptions());
        Assert.False(handler.UseProxy);
        Assert.NotNull(handler.ConnectCallback);
    }

    [Fact]
    public async Task AnExplicitEgressProxyCarriesTheCall()
    {
        using var proxy = new TcpListener(IPAddress.Loopback, 0);
        proxy.Start();
        var port = ((IPEndPoint)proxy.LocalEndpoint).Port;
        using var client = new HttpClient(WebhookTargets.Handler(new WebhookTargetsOptions { Proxy = new Uri($"http://127.0.0.1:{port}") })) { Timeout = TimeSpan.FromSeconds(5) };

        var request = client.GetAsync("http://hooks.example.com/alert");
        using var accepted = await proxy.AcceptTcpClientAsync();
        using var reader = new StreamReader(accepted.GetStream());
        Assert.Equal("GET http://hooks.example.com/alert HTTP/1.1", await reader.ReadLineAsync());
        accepted.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => request);
    }
}
