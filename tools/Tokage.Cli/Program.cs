using Tokage.Cli;

return await Commands.Build(Console.Out).Parse(args).InvokeAsync();
