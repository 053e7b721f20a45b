"""The enforcement teams' web view (HTTPS, one token per team), a client of the server's API."""
