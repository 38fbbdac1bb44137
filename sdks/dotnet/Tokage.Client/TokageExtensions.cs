using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Tokage.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registering Tokage in an app's services.</summary>
public static class TokageServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ITokage"/> (a <see cref="TokageClient"/> that the host starts and stops, sending in the
    /// background), for <c>UseTokage()</c> on chat clients and embedding generators, and <see cref="TokageReservations"/>.
    /// </summary>
    public static IServiceCollection AddTokage(this IServiceCollection services, Action<TokageOptions> configure)
    {
        services.AddOptions<TokageOptions>().Configure(configure);
        services.TryAddSingleton<TokageClient>();
        services.TryAddSingleton<ITokage>(sp => sp.GetRequiredService<TokageClient>());
        services.AddHostedService(sp => sp.GetRequiredService<TokageClient>());
        services.TryAddSingleton(sp => new TokageReservations(sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<TokageOptions>>().Value));
        return services;
    }
}
