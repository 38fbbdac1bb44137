using Microsoft.EntityFrameworkCore;
using Tokage.ControlPlane.Data;
using static Tokage.ControlPlane.Apis.ApiErrors;

namespace Tokage.ControlPlane.Apis;

/// <summary>A tenant's users, teams (with members) and projects: the names its events carry.</summary>
public static class DirectoryApi
{
    public static RouteGroupBuilder MapDirectoryApi(this RouteGroupBuilder admin)
    {
        var tenant = admin.MapGroup("/tenants/{tenant}");
        tenant.MapPost("/users", CreateUserAsync).WithTags("Users");
        tenant.MapGet("/users", (string tenant, ControlPlaneDbContext db, CancellationToken ct) =>
            InTenantAsync(db, tenant, ct, async () => Results.Ok(new { users = (await db.Users.OrderBy(u => u.ExternalId).ToListAsync(ct)).Select(UserDto.From) })))
            .WithTags("Users");

        tenant.MapPost("/teams", CreateTeamAsync).WithTags("Teams");
        tenant.MapGet("/teams", ListTeamsAsync).WithTags("Teams");
        tenant.MapPost("/teams/{team}/members", AddMemberAsync).WithTags("Teams");
        tenant.MapDelete("/teams/{team}/members/{userId}", RemoveMemberAsync).WithTags("Teams");

        tenant.MapPost("/projects", CreateProjectAsync).WithTags("Projects");
        tenant.MapGet("/projects", (string tenant, ControlPlaneDbContext db, CancellationToken ct) =>
            InTenantAsync(db, tenant, ct, async () => Results.Ok(new { projects = (await db.Projects.OrderBy(p => p.Name).ToListAsync(ct)).Select(ProjectDto.From) })))
            .WithTags("Projects");
        return admin;
    }

    private static Task<IResult> CreateUserAsync(string tenant, CreateUserRequest request, ControlPlaneDbContext db, TimeProvider time, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.UserId) || request.UserId.Length > 200)
        {
            return Task.FromResult(ApiErrors.Invalid("user_id", "'user_id' (the user_id your events carry) is required, at most 200 characters."));
        }

        return InTenantAsync(db, tenant, ct, async found =>
        {
            var user = new User
            {
                Id = Guid.CreateVersion7(), TenantId = found.Id, ExternalId = request.UserId, Email = request.Email,
                DisplayName = request.DisplayName, CreatedAt = time.GetUtcNow(),
            };
            db.Users.Add(user);
            return await SaveAsync(db, ct, $"User '{user.ExternalId}'", () => Results.Created($"/v1/tenants/{found.Id}/users/{user.Id}", UserDto.From(user)));
        });
    }

    private static Task<IResult> CreateTeamAsync(string tenant, CreateTeamRequest request, ControlPlaneDbContext db, TimeProvider time, CancellationToken ct)
    {
        if (ApiErrors.CheckName(request.Name, "name") is { } error)
        {
            return Task.FromResult(ApiErrors.Invalid("name", error));
        }

        return InTenantAsync(db, tenant, ct, async found =>
        {
            var team = new Team { Id = Guid.CreateVersion7(), TenantId = found.Id, Name = request.Name!, CreatedAt = time.GetUtcNow() };
            db.Teams.Add(team);
            return await SaveAsync(db, ct, $"Team '{team.Name}'", () => Results.Created($"/v1/tenants/{found.Id}/teams/{team.Id}", new TeamDto(team.Id.ToString(), team.Name, [], team.CreatedAt)));
        });
    }

    private static Task<IResult> ListTeamsAsync(string tenant, ControlPlaneDbContext db, CancellationToken ct) =>
        InTenantAsync(db, tenant, ct, async () =>
        {
            var teams = await db.Teams.OrderBy(t => t.Name).ToListAsync(ct);
            var members = await db.TeamMembers.Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m.TeamId, u.ExternalId }).ToListAsync(ct);
            return Results.Ok(new
            {
                teams = teams.Select(t => new TeamDto(t.Id.ToString(), t.Name,
                    [.. members.Where(m => m.TeamId == t.Id).Select(m => m.ExternalId).Order(StringComparer.Ordinal)], t.CreatedAt)),
            });
        });

    private static Task<IResult> AddMemberAsync(string tenant, string team, AddMemberRequest request, ControlPlaneDbContext db, CancellationToken ct) =>
        InTenantAsync(db, tenant, ct, async found =>
        {
            var teamRow = await db.Teams.FirstOrDefaultAsync(t => t.Name == team || t.Id.ToString() == team, ct);
            var user = await db.Users.FirstOrDefaultAsync(u => u.ExternalId == request.UserId, ct);
            if (teamRow is null || user is null)
            {
                return ApiErrors.NotFound(teamRow is null ? $"Team '{team}'" : $"User '{request.UserId}'");
            }

            if (!await db.TeamMembers.AnyAsync(m => m.TeamId == teamRow.Id && m.UserId == user.Id, ct))
            {
                db.TeamMembers.Add(new TeamMember { TenantId = found.Id, TeamId = teamRow.Id, UserId = user.Id });
                await db.SaveChangesAsync(ct);
            }

            return Results.NoContent();
        });

    private static Task<IResult> RemoveMemberAsync(string tenant, string team, string userId, ControlPlaneDbContext db, CancellationToken ct) =>
        InTenantAsync(db, tenant, ct, async () =>
        {
            var removed = await db.TeamMembers
                .Where(m => db.Teams.Any(t => t.Id == m.TeamId && (t.Name == team || t.Id.ToString() == team))
                    && db.Users.Any(u => u.Id == m.UserId && u.ExternalId == userId))
                .ExecuteDeleteAsync(ct);
            return removed > 0 ? Results.NoContent() : ApiErrors.NotFound($"Member '{userId}' of team '{team}'");
        });

    private static Task<IResult> CreateProjectAsync(string tenant, CreateProjectRequest request, ControlPlaneDbContext db, TimeProvider time, CancellationToken ct)
    {
        if (ApiErrors.CheckName(request.Name, "name") is { } error)
        {
            return Task.FromResult(ApiErrors.Invalid("name", error));
        }

        if (request.Applications?.Select(a => ApiErrors.CheckName(a, "applications[]")).FirstOrDefault(e => e is not null) is { } appError)
        {
            return Task.FromResult(ApiErrors.Invalid("applications", appError));
        }

        return InTenantAsync(db, tenant, ct, async found =>
        {
            var project = new Project
            {
                Id = Guid.CreateVersion7(), TenantId = found.Id, Name = request.Name!, Description = request.Description,
                Applications = [.. (request.Applications ?? []).Distinct()], CreatedAt = time.GetUtcNow(),
            };
            db.Projects.Add(project);
            return await SaveAsync(db, ct, $"Project '{project.Name}'", () => Results.Created($"/v1/tenants/{found.Id}/projects/{project.Id}", ProjectDto.From(project)));
        });
    }

    private static async Task<IResult> SaveAsync(ControlPlaneDbContext db, CancellationToken ct, string what, Func<IResult> created)
    {
        try
        {
            await db.SaveChangesAsync(ct);
            return created();
        }
        catch (DbUpdateException ex) when (ApiErrors.IsUniqueViolation(ex))
        {
            return ApiErrors.Conflict($"{what} exists already.");
        }
    }
}
