using Microsoft.Extensions.DependencyInjection;
using Tokage.Client;

namespace Microsoft.Extensions.AI;

/// <summary><c>UseTokage()</c> on Microsoft.Extensions.AI's builders.</summary>
public static class TokageBuilderExtensions
{
    /// <summary>Meters every call of the chat client (<paramref name="tokage"/>, else the registered <see cref="ITokage"/>).</summary>
    public static ChatClientBuilder UseTokage(this ChatClientBuilder builder, ITokage? tokage = null) =>
        builder.Use((inner, services) => new TokageChatClient(inner, tokage ?? services.GetRequiredService<ITokage>()));

    /// <summary>Meters every call of the embedding generator (<paramref name="tokage"/>, else the registered <see cref="ITokage"/>).</summary>
    public static EmbeddingGeneratorBuilder<TInput, TEmbedding> UseTokage<TInput, TEmbedding>(this EmbeddingGeneratorBuilder<TInput, TEmbedding> builder, ITokage? tokage = null)
        where TEmbedding : Embedding =>
        builder.Use((inner, services) => new TokageEmbeddingGenerator<TInput, TEmbedding>(inner, tokage ?? services.GetRequiredService<ITokage>()));
}
