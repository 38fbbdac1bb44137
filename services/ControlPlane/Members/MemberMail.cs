using Microsoft.Extensions.Options;

namespace Tokage.ControlPlane.Members;

/// <summary>Sends members their links (invitations, password resets).</summary>
public interface IMemberMail
{
    Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken);
}

/// <summary>
/// The mail drop: each message a file in <see cref="ControlPlaneOptions.MailDropDirectory"/> (the AppHost points it at
/// <c>.tokage/mail/</c> locally), named by time and recipient, so a person — or a test — reads it there. A deployment
/// replaces this with its mail provider. Without a directory, messages are only counted in the log, never their links.
/// </summary>
internal sealed class MailDrop(IOptions<ControlPlaneOptions> options, TimeProvider time, ILogger<MailDrop> logger) : IMemberMail
{
    public async Task SendAsync(string to, string subject, string body, CancellationToken cancellationToken)
    {
        if (options.Value.MailDropDirectory is not { Length: > 0 } directory)
        {
            logger.LogWarning("No mail is configured (Tokage:ControlPlane:MailDropDirectory): a message '{Subject}' was not delivered.", subject);
            return;
        }

        Directory.CreateDirectory(directory);
        var safe = string.Concat(to.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '@' ? c : '_'));
        var path = Path.Combine(directory, $"{time.GetUtcNow():yyyyMMdd'T'HHmmssfff}-{safe}-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(path, $"To: {to}\nSubject: {subject}\n\n{body}\n", cancellationToken);
        logger.LogInformation("Mail for a member dropped in {Directory}: {Subject}.", directory, subject);
    }
}
