using System.Collections.Concurrent;
using System.Net;

namespace Tokage.BillingPipeline.Tests;

/// <summary>A real local HTTP endpoint that records what it gets and answers 500 to its first <c>failFirst</c> requests.</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener listener = new();
    private readonly Task loop;
    private int remainingFailures;

    public WebhookReceiver(int failFirst = 0)
    {
        remainingFailures = failFirst;
        var port = ChildProcess.FreePort();
        Url = $"http://127.0.0.1:{port}/hook/";
        listener.Prefixes.Add(Url);
        listener.Start();
        loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public ConcurrentQueue<(string? Signature, string Body, int Answered)> Received { get; } = new();

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream);
            var body = await reader.ReadToEndAsync();
            var status = Interlocked.Decrement(ref remainingFailures) >= 0 ? 500 : 200;
            Received.Enqueue((context.Request.Headers["Tokage-Signature"], body, status));
            context.Response.StatusCode = status;
            context.Response.Close();
        }
    }

    public void Dispose()
    {
        listener.Close();
        loop.Wait(TimeSpan.FromSeconds(5));
    }
}
