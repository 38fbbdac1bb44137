using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Tokage.Client;

/// <summary>
/// Meters every call through an <see cref="IChatClient"/>: after the response (or the stream's last update) its usage
/// goes to <see cref="ITokage"/>, which sends it in the background. The app's call is not delayed and never sees an
/// exception from metering; a stream that ends without usage is sent with <c>tokage.unpriced_reason=usage_missing</c>.
/// </summary>
public sealed class TokageChatClient(IChatClient innerClient, ITokage tokage) : DelegatingChatClient(innerClient)
{
    private ChatClientMetadata? metadata;

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        Meter(response.ResponseId, response.ModelId ?? options?.ModelId, response.Usage, options);
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? responseId = null, modelId = null;
        UsageDetails? usage = null;
        var started = false;
        try
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
            {
                started = true;
                responseId ??= update.ResponseId;
                modelId ??= update.ModelId;
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent reported)
                    {
                        usage ??= new UsageDetails();
                        usage.Add(reported.Details);
                    }
                }

                yield return update;
            }
        }
        finally
        {
            // Also when the app stops reading early: the call happened.
            if (started)
            {
                Meter(responseId, modelId ?? options?.ModelId, usage, options);
            }
        }
    }

    private void Meter(string? responseId, string? modelId, UsageDetails? usage, ChatOptions? options)
    {
        try
        {
            metadata ??= InnerClient.GetService<ChatClientMetadata>() ?? new ChatClientMetadata();
            tokage.Track(UsageEvents.From(responseId, metadata.ProviderName, modelId ?? metadata.DefaultModelId, usage, options?.AdditionalProperties));
        }
        catch (Exception)
        {
            // Metering never breaks the app's call; ITokage counts what it could not queue.
        }
    }
}

/// <summary>Meters every call through an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>, as <see cref="TokageChatClient"/> does for chat.</summary>
public sealed class TokageEmbeddingGenerator<TInput, TEmbedding>(IEmbeddingGenerator<TInput, TEmbedding> innerGenerator, ITokage tokage)
    : DelegatingEmbeddingGenerator<TInput, TEmbedding>(innerGenerator)
    where TEmbedding : Embedding
{
    /// <inheritdoc />
    public override async Task<GeneratedEmbeddings<TEmbedding>> GenerateAsync(
        IEnumerable<TInput> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var embeddings = await base.GenerateAsync(values, options, cancellationToken);
        try
        {
            var metadata = InnerGenerator.GetService<EmbeddingGeneratorMetadata>();
            var model = embeddings.FirstOrDefault()?.ModelId ?? options?.ModelId ?? metadata?.DefaultModelId;
            tokage.Track(UsageEvents.From(null, metadata?.ProviderName, model, embeddings.Usage, options?.AdditionalProperties));
        }
        catch (Exception)
        {
            // As for chat: never in the app's path.
        }

        return embeddings;
    }
}
