package agent

import (
	"context"
	"net/http"
	"time"

	"github.com/silt-io/silt/internal/acl"
)

// The console (/ui, /api/v1/) and the Iceberg catalog (/v1/) show every
// topic's configuration, groups and records to whoever reaches the HTTP
// port. Without the authorizer that is the Kafka port's rule too; with it
// (Config.Authorizer) they would be a way around the ACLs, so then they
// ask for HTTP Basic credentials, checked against the SCRAM credentials as
// SASL PLAIN checks them, and serve only super users (Config.SuperUsers):
// the pages are not split by topic, so no narrower ACL could say what they
// may show. A refusal comes after the same delay as a failed SASL login,
// and reads alike for an unknown user and a wrong password. /healthz,
// /readyz and /metrics stay open for probes and scrapers, and the
// internal RPC has its own signature (agent/commit).
//
// Basic credentials travel in the clear over plain HTTP: with the
// authorizer on, keep the HTTP port on a private network or behind a
// proxy that terminates TLS.

// guardedPrefixes are the routes the guard covers.
var guardedPrefixes = []string{"/ui", "/ui/", "/api/v1/", "/v1/"}

// guardHTTP serves next to super users only when the authorizer is on,
// and to everyone when it is off.
func (a *Agent) guardHTTP(next http.Handler) http.Handler {
	if !a.authz.on {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="silt", charset="UTF-8"`)
			http.Error(w, "authentication required: a super user's name and SCRAM password", http.StatusUnauthorized)
			return
		}
		if _, err := a.plainAuth([]byte("\x00" + user + "\x00" + password)); err != nil {
			select { // as a failed SASL login waits
			case <-time.After(a.security.cfg.FailedAuthDelay):
			case <-r.Context().Done():
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="silt", charset="UTF-8"`)
			http.Error(w, "authentication failed", http.StatusUnauthorized)
			return
		}
		principal := "User:" + user
		if !a.authz.superUsers[principal] {
			a.log.Info("authorization denied", "principal", principal, "host", r.RemoteAddr,
				"operation", "console", "resource", acl.ResourceCluster.String()+":"+acl.ClusterName, "path", r.URL.Path)
			http.Error(w, principal+" is not a super user: the console and the catalog serve super users only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, principal)))
	})
}

// principalKey keys the principal the guard let in, in its request's
// context: the console's Kafka requests (console_source.go) are made as it.
type principalKey struct{}

// principalOf is the principal a guarded request was let in as, or
// User:ANONYMOUS (a PLAINTEXT client's) when the guard is off.
func principalOf(ctx context.Context) string {
	if p, ok := ctx.Value(principalKey{}).(string); ok {
		return p
	}
	return anonymousPrincipal
}
