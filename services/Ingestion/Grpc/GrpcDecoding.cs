using Google.Protobuf;
using Grpc.Core;

namespace Tokage.Ingestion.Grpc;

/// <summary>
/// gRPC methods as the generated code declares them, but a request message that does not decode is answered
/// INVALID_ARGUMENT saying why. With the generated marshallers grpc-dotnet answers it UNKNOWN ("Exception was thrown
/// by handler"): the parse error escapes before any handler or interceptor could catch it. A service opts in with
/// <c>[BindServiceMethod]</c> and a <c>BindService</c> that adds its methods made here.
/// </summary>
internal static class GrpcDecoding
{
    public static Method<TRequest, TResponse> Method<TRequest, TResponse>(
        MethodType type, string service, string name, MessageParser<TRequest> requests, MessageParser<TResponse> responses)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        new(type, service, name, Marshaller(requests), Marshaller(responses));

    private static Marshaller<T> Marshaller<T>(MessageParser<T> parser)
        where T : class, IMessage<T>, new()
    {
        var type = new T().Descriptor.FullName;
        return new(Serialize, context => Deserialize(parser, type, context));
    }

    private static void Serialize<T>(T message, SerializationContext context)
        where T : class, IMessage<T>
    {
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }

    private static T Deserialize<T>(MessageParser<T> parser, string type, DeserializationContext context)
        where T : class, IMessage<T>
    {
        try
        {
            return parser.ParseFrom(context.PayloadAsReadOnlySequence());
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"The message does not decode as {type}: {ex.Message}"));
        }
    }
}
