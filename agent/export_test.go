package agent

// SetTestPrincipal makes each new connection to a the principal fn names
// for the client id of its first request, standing in for authentication
// in the authorization tests. It exists only in test builds.
func SetTestPrincipal(a *Agent, fn func(clientID string) string) {
	a.testPrincipal.Store(&fn)
}
