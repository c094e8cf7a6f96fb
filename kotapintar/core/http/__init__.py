"""HTTP plumbing shared by API routers and pages: dependencies, error handlers, security, templating."""
