package agent

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions (key 18), versions 0-4.
//
// Behavior: lists every API in the table with its version range. A request
// at a version newer than silt serves is answered at v0 with
// UNSUPPORTED_VERSION and the list, so the client can retry at a version
// both sides know (KIP-511). No features are advertised.
func handleApiVersions(c *conn, req *request) reply {
	resp := kmsg.NewPtrApiVersionsResponse()
	if !supported(req.key, req.version) {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
	} else {
		resp.Version = req.version
	}
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey = a.key.Int16()
		k.MinVersion = a.minVersion
		k.MaxVersion = a.maxVersion
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return reply{resp: resp}
}
