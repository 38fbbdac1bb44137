using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace Tokage.Webhooks;

/// <summary>Where tenant-supplied URLs (a budget's webhook and Slack channels) may point.</summary>
public sealed class WebhookTargetsOptions
{
    public const string SectionName = "Tokage:Webhooks";

    /// <summary>
    /// Lets webhooks reach loopback, private and link-local addresses: for local development and tests, where the
    /// receiver runs on the same machine. Off in every deployment — a tenant's URL must not reach our own network.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>
    /// An egress proxy for webhook calls (e.g. <c>http://egress:3128</c>). Unset, webhooks never use a proxy, whatever
    /// <c>HTTP_PROXY</c>/<c>HTTPS_PROXY</c> say: the address guard must see the real target, not a proxy's address.
    /// Set, the proxy connects for us and must enforce the same rule itself (only the URL's host is checked here).
    /// </summary>
    public Uri? Proxy { get; set; }
}

/// <summary>
/// The guard against server-side request forgery through a tenant's webhook URL: only public unicast addresses are
/// reached. Loopback, private (RFC 1918, unique-local), link-local (where cloud metadata services answer), shared
/// (CGNAT), documentation, multicast and unspecified addresses are refused — checked on the address actually
/// connected to, so a DNS answer that changes after the URL was accepted cannot point the call inward.
/// </summary>
public static class WebhookTargets
{
    /// <summary>
    /// What is wrong with a URL a tenant gives as a webhook target, said after "'url' "; null when it may be one. It must
    /// be absolute http or https, and a literal address must be public unless the options allow private networks (a name
    /// is checked again when connecting).
    /// </summary>
    public static string? Problem(string? url, WebhookTargetsOptions options) =>
        !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") ? "must be an absolute http or https URL"
        : !options.AllowPrivateNetworks && RefusedHost(uri) is { } refused ? $"must reach a public address: {refused}"
        : null;

    /// <summary>Why a URL's host cannot be a webhook target, or null when it may be (a name is checked when connecting).</summary>
    public static string? RefusedHost(Uri url) =>
        url.IsLoopback || url.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            ? $"'{url.Host}' is this machine"
            : IPAddress.TryParse(url.IdnHost.Trim('[', ']'), out var address) && !IsPublic(address)
                ? $"{address} is not a public address"
                : null;

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 or >= 224 // this network, private, loopback, multicast and reserved
                || b[0] == 100 && b[1] is >= 64 and <= 127 // shared address space (CGNAT)
                || b[0] == 169 && b[1] == 254 // link-local, cloud metadata
                || b[0] == 172 && b[1] is >= 16 and <= 31
                || b[0] == 192 && b[1] == 168
                || b[0] == 192 && b[1] == 0 && b[2] is 0 or 2 // IETF protocol assignments, TEST-NET-1
                || b[0] == 198 && b[1] is 18 or 19 // benchmarking
                || b[0] == 198 && b[1] == 51 && b[2] == 100
                || b[0] == 203 && b[1] == 0 && b[2] == 113);
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return !(IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6Any)
                || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6UniqueLocal || address.IsIPv6Multicast
                || b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 // documentation
                || b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && !IsPublic(new IPAddress(b[12..]))); // NAT64 of an inward IPv4
        }

        return false;
    }

    /// <summary>
    /// A <see cref="SocketsHttpHandler.ConnectCallback"/> that resolves the host and connects to its public addresses
    /// only; a host with none fails the request with a message saying so.
    /// </summary>
    public static async ValueTask<Stream> ConnectPublicOnlyAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(IsPublic).ToArray();
        if (allowed.Length == 0)
        {
            throw new HttpRequestException(
                $"Webhook host '{host}' has no public address ({string.Join(", ", addresses.Take(3))}): webhooks may not reach loopback, private or link-local networks.");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The handler for webhook calls: no redirects (a 3xx cannot lead elsewhere), no proxy from the environment, and,
    /// unless allowed or an explicit egress proxy connects instead, public addresses only.
    /// </summary>
    public static SocketsHttpHandler Handler(WebhookTargetsOptions options) => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AllowAutoRedirect = false,
        UseProxy = options.Proxy is not null,
        Proxy = options.Proxy is { } proxy ? new WebProxy(proxy) : null,
        ConnectCallback = options.AllowPrivateNetworks || options.Proxy is not null ? null : ConnectPublicOnlyAsync,
    };
}

public static class WebhookTargetsExtensions
{
    /// <summary>Binds <see cref="WebhookTargetsOptions"/> from <c>Tokage:Webhooks</c>: services that accept or call tenants' webhook URLs.</summary>
    public static IServiceCollection AddWebhookTargets(this IServiceCollection services)
    {
        services.AddOptions<WebhookTargetsOptions>().BindConfiguration(WebhookTargetsOptions.SectionName);
        return services;
    }
}
