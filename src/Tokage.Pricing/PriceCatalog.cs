using System.Text.RegularExpressions;

namespace Tokage.Pricing;

/// <summary>How a (provider, model) pair found its price.</summary>
public enum Resolution
{
    /// <summary>The provider's own entry for the model (<c>anthropic</c> + <c>claude-sonnet-4-5</c>, or <c>gemini</c> + <c>gemini/gemini-2.5-pro</c>).</summary>
    Exact,

    /// <summary>An entry of that exact model name under another provider naming.</summary>
    Model,

    /// <summary>A dated variant (<c>-2024-08-06</c>, <c>-20250929</c>, <c>@20250929</c>) priced as its base, which exists while the dated entry does not.</summary>
    DatedToBase,

    /// <summary>
    /// A provider's resource or routing name read down to the model it names: a Vertex AI resource path, a Bedrock ARN,
    /// a cross-region inference profile without a price of its own, an OpenRouter id, a version written with dots.
    /// </summary>
    Normalized,
}

public sealed record ResolvedPrice(PricedModel Model, Resolution How);

/// <summary>
/// Finds the price of a (provider, model) pair as applications and instrumentations name them. In order:
/// the provider's own entry for the model (a provider prefix on the model, <c>openai/gpt-4o</c>, names the
/// provider); an entry of that exact model name; a dated variant's base. Nothing found means unpriced, never $0.
/// </summary>
public sealed partial class PriceCatalog
{
    private readonly Dictionary<string, PricedModel> byKey = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<(string Family, string Model), PricedModel> byFamily = [];

    public PriceCatalog(IEnumerable<PricedModel> models)
    {
        foreach (var model in models)
        {
            byKey.TryAdd(model.Key, model);
            var family = ProviderNames.Family(model.Provider);
            var bare = Bare(model.Key);
            byFamily.TryAdd((family, bare.ToLowerInvariant()), model);
        }
    }

    public int Count => byKey.Count;

    public ResolvedPrice? Resolve(string provider, string model)
    {
        if (ResolveAsNamed(provider, model.Trim()) is { } found)
        {
            return found;
        }

        foreach (var (family, name) in Normalizations(provider, model.Trim()))
        {
            if (ResolveAsNamed(family, name) is { } normalized)
            {
                return normalized with { How = Resolution.Normalized };
            }
        }

        return null;
    }

    /// <summary>
    /// The names a provider's resource or routing form may stand for, most specific first (the model is reported as
    /// sent; only its price is found this way). Each step is one the provider documents:
    /// Vertex AI <c>projects/…/publishers/&lt;publisher&gt;/models/&lt;model&gt;</c>; Bedrock ARNs
    /// (<c>…:inference-profile/&lt;id&gt;</c>, <c>…::foundation-model/&lt;id&gt;</c>) and cross-region profile prefixes
    /// (<c>us.</c>, <c>eu.</c>, <c>apac.</c>, <c>global.</c>, <c>jp.</c>, <c>au.</c>, <c>us-gov.</c>; LiteLLM prices most profiles
    /// themselves, which are tried first); OpenRouter's <c>vendor/model</c> under <c>openrouter/</c>; and Anthropic's
    /// versions written with dots (<c>claude-sonnet-4.5</c>).
    /// </summary>
    private static IEnumerable<(string Provider, string Model)> Normalizations(string provider, string model)
    {
        var names = new List<(string, string)>();
        void Add(string p, string m)
        {
            if (!names.Contains((p, m)))
            {
                names.Add((p, m));
            }
        }

        var name = model;
        if (VertexResource().Match(name) is { Success: true } vertex)
        {
            var publisher = vertex.Groups["publisher"].Value;
            name = vertex.Groups["model"].Value;
            Add(publisher == "google" ? "vertex_ai" : provider, publisher == "google" ? name : $"vertex_ai/{name}");
            Add(provider, name);
        }

        if (BedrockArn().Match(name) is { Success: true } arn)
        {
            name = arn.Groups["id"].Value;
            Add("bedrock", name);
        }

        if (ProviderNames.Family(provider) == "openrouter" || !name.StartsWith("openrouter/", StringComparison.Ordinal) && name.Count(c => c == '/') == 1)
        {
            Add("", $"openrouter/{name}");
        }

        if (BedrockProfile().Match(name) is { Success: true } profile)
        {
            Add("bedrock", profile.Groups["id"].Value);
            name = profile.Groups["id"].Value;
        }

        // OpenRouter and others write Anthropic's versions with dots: claude-sonnet-4.5 is claude-sonnet-4-5.
        var slash = name.LastIndexOf('/');
        var bare = slash >= 0 ? name[(slash + 1)..] : name;
        if (bare.StartsWith("claude-", StringComparison.OrdinalIgnoreCase) && DottedVersion().IsMatch(bare))
        {
            Add("anthropic", DottedVersion().Replace(bare, "$1-$2"));
        }

        return names;
    }

    private ResolvedPrice? ResolveAsNamed(string provider, string model)
    {
        var name = model;
        var family = ProviderNames.Family(provider);
        if (name.IndexOf('/') is > 0 and var slash && ProviderNames.IsKnown(name[..slash]))
        {
            // "openai/gpt-4o", "bedrock/anthropic.claude-…": the prefix names the provider.
            if (byKey.TryGetValue(name, out var prefixed))
            {
                return new(prefixed, Resolution.Exact);
            }

            family = ProviderNames.Family(name[..slash]);
            name = name[(slash + 1)..];
        }

        if (Find(family, name) is { } found)
        {
            return found;
        }

        var match = DatedSuffix().Match(name);
        return match.Success && Find(family, name[..match.Index]) is { } based
            ? based with { How = Resolution.DatedToBase }
            : null;
    }

    private ResolvedPrice? Find(string family, string name)
    {
        if (byFamily.TryGetValue((family, name.ToLowerInvariant()), out var exact))
        {
            return new(exact, Resolution.Exact);
        }

        return byKey.TryGetValue(name, out var sameName) ? new(sameName, Resolution.Model) : null;
    }

    /// <summary>The model name without LiteLLM's provider prefix (<c>gemini/gemini-2.5-pro</c> → <c>gemini-2.5-pro</c>).</summary>
    private static string Bare(string key) =>
        key.IndexOf('/') is > 0 and var slash && ProviderNames.IsKnown(key[..slash]) ? key[(slash + 1)..] : key;

    [GeneratedRegex(@"(-\d{4}-\d{2}-\d{2}|-\d{8}|@\d{8})$")]
    private static partial Regex DatedSuffix();

    [GeneratedRegex(@"^(?:projects/[^/]+/locations/[^/]+/)?publishers/(?<publisher>[^/]+)/models/(?<model>[^/]+)$")]
    private static partial Regex VertexResource();

    [GeneratedRegex(@"^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:(?:inference-profile|application-inference-profile|foundation-model)/(?<id>.+)$")]
    private static partial Regex BedrockArn();

    [GeneratedRegex(@"^(?:global|us|eu|apac|jp|au|us-gov|ca|sa)\.(?<id>[a-z0-9-]+\..+)$")]
    private static partial Regex BedrockProfile();

    [GeneratedRegex(@"(\d)\.(\d)")]
    private static partial Regex DottedVersion();
}

/// <summary>
/// Provider names across conventions (OpenTelemetry's <c>gen_ai.provider.name</c> and older <c>gen_ai.system</c>,
/// LiteLLM's <c>litellm_provider</c> and model prefixes) to one family name.
/// </summary>
public static class ProviderNames
{
    private static readonly Dictionary<string, string> Families = new(StringComparer.OrdinalIgnoreCase)
    {
        ["openai"] = "openai", ["openai.chat"] = "openai", ["openai.responses"] = "openai", ["text-completion-openai"] = "openai",
        ["azure"] = "azure", ["azure.ai.openai"] = "azure", ["az.ai.openai"] = "azure", ["azure_ai"] = "azure", ["azure.ai.inference"] = "azure", ["az.ai.inference"] = "azure",
        ["anthropic"] = "anthropic",
        ["aws.bedrock"] = "bedrock", ["bedrock"] = "bedrock", ["bedrock_converse"] = "bedrock", ["aws_bedrock"] = "bedrock",
        ["gcp.gemini"] = "gemini", ["gemini"] = "gemini", ["google"] = "gemini", ["google.gemini"] = "gemini", ["googleai"] = "gemini",
        ["gcp.vertex_ai"] = "vertex_ai", ["vertex_ai"] = "vertex_ai", ["vertexai"] = "vertex_ai", ["gcp.gen_ai"] = "vertex_ai",
        ["mistral_ai"] = "mistral", ["mistral"] = "mistral", ["x_ai"] = "xai", ["xai"] = "xai", ["deepseek"] = "deepseek",
        ["openrouter"] = "openrouter", ["groq"] = "groq", ["cohere"] = "cohere", ["cohere_chat"] = "cohere", ["perplexity"] = "perplexity", ["ibm.watsonx.ai"] = "watsonx", ["watsonx"] = "watsonx",
        // The Vercel AI SDK's provider ids (ai.model.provider, and gen_ai.system on its spans).
        ["anthropic.messages"] = "anthropic", ["google.generative-ai"] = "gemini", ["google.vertex"] = "vertex_ai", ["google.vertex.chat"] = "vertex_ai",
        ["amazon-bedrock"] = "bedrock", ["azure-openai"] = "azure", ["azure.chat"] = "azure", ["azure.responses"] = "azure",
        ["openai.completion"] = "openai", ["mistral.chat"] = "mistral", ["xai.chat"] = "xai", ["groq.chat"] = "groq", ["deepseek.chat"] = "deepseek",
    };

    public static string Family(string provider)
    {
        var name = provider.Trim();
        if (Families.TryGetValue(name, out var family))
        {
            return family;
        }

        // LiteLLM splits Vertex AI by publisher: vertex_ai-language-models, vertex_ai-anthropic_models, …
        return name.StartsWith("vertex_ai", StringComparison.OrdinalIgnoreCase) ? "vertex_ai" : name.ToLowerInvariant();
    }

    public static bool IsKnown(string provider) => Families.ContainsKey(provider.Trim());
}
