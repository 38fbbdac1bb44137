using System.ClientModel;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenAI;
using Tokage.Client;

var builder = Host.CreateApplicationBuilder(args);
var config = builder.Configuration;
builder.Services.AddTokage(o => { o.ApiKey = config["TOKAGE_API_KEY"]!; o.Endpoint = new Uri(config["TOKAGE_ENDPOINT"]!); });
var openAi = new OpenAIClient(new ApiKeyCredential(config["OPENAI_API_KEY"]!), new() { Endpoint = new Uri(config["OPENAI_BASE_URL"] ?? "https://api.openai.com/v1") });
builder.Services.AddChatClient(openAi.GetChatClient("gpt-4o-mini").AsIChatClient()).UseTokage();

using var app = builder.Build();
await app.StartAsync();
using (TokageScope.Begin(customer: "acme", user: "u-1"))
{
    Console.WriteLine(await app.Services.GetRequiredService<IChatClient>().GetResponseAsync("Say hello."));
}

await app.StopAsync(); // sends what is still queued
