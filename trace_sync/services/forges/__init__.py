"""Pull and merge requests on the forge a repo's remote lives on (GitHub, GitLab,
Gitea/Forgejo): the :class:`~trace_sync.services.forges.forge.Forge` interface,
what a remote URL says, drafts from the session, and the service."""
