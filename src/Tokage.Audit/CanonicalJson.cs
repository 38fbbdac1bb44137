using System.Text;
using System.Text.Json;

namespace Tokage.Audit;

/// <summary>
/// The one byte form a record is hashed in: no whitespace, object members in ordinal order of their names at every
/// depth, strings and numbers as System.Text.Json writes them. The same value gives the same bytes wherever it was read
/// from (the database's jsonb, a sealed object), so anyone can recompute a hash.
/// </summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions Options = new() { Indented = false, SkipValidation = false };

    /// <summary>The canonical bytes of an object with <paramref name="members"/> (given in any order).</summary>
    public static byte[] Of(IEnumerable<KeyValuePair<string, JsonElement?>> members)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in members.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                writer.WritePropertyName(name);
                Write(writer, value);
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>A JSON value's canonical text (null for none).</summary>
    public static string? Text(JsonElement? value)
    {
        if (value is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            Write(writer, value);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter writer, JsonElement? value)
    {
        if (value is not { } element || element.ValueKind == JsonValueKind.Null)
        {
            writer.WriteNullValue();
            return;
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                // Written from the value, not the source's escapes: "\u00e9" and "é" hash alike.
                writer.WriteStringValue(element.GetString());
                break;
            default:
                // Numbers (their own digits: a price stays 0.0000025, never a float), true and false.
                element.WriteTo(writer);
                break;
        }
    }

    public static JsonElement Element(string value) => JsonSerializer.SerializeToElement(value);

    public static JsonElement Element(long value) => JsonSerializer.SerializeToElement(value);

    public static JsonElement? Parse(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
}
