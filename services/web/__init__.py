"""The staff web application (German, server-rendered). It talks only to the services' HTTP APIs with
the signed-in user's token, which stays in the server-side session."""
