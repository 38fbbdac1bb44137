using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Tokage.ControlPlane.Data;

namespace Tokage.ControlPlane.Members;

/// <summary>Invitation links: Identity's signed, security-stamp-bound tokens, with a lifetime of their own (days, not a reset's hours).</summary>
internal sealed class InvitationTokenProvider(
    Microsoft.AspNetCore.DataProtection.IDataProtectionProvider dataProtection,
    IOptions<InvitationTokenProviderOptions> options,
    ILogger<DataProtectorTokenProvider<Member>> logger)
    : DataProtectorTokenProvider<Member>(dataProtection, options, logger)
{
    public const string ProviderName = "Invitation";

    /// <summary>The purpose the tokens are made for.</summary>
    public const string Purpose = "invitation";
}

internal sealed class InvitationTokenProviderOptions : DataProtectionTokenProviderOptions
{
    public InvitationTokenProviderOptions()
    {
        Name = InvitationTokenProvider.ProviderName;
        TokenLifespan = TimeSpan.FromDays(7);
    }
}
