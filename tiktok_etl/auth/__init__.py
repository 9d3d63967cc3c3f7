"""Everything about OAuth tokens: the one token model, the due/expired rule, the encrypted
store, the refreshing provider and the login flows."""
