package incidentexporter // import "github.com/sre-copilot/incident-collector/exporter/incidentexporter"

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/config/configopaque"
)

// access is what a request's credentials allow.
type access int

const (
	accessNone access = iota
	accessRead
	accessWrite
)

// authRealm names the credentials a browser asks for (HTTP Basic).
const authRealm = `Basic realm="incidents"`

// tokenDigest is a token held as its SHA-256 digest, so that comparing a
// candidate takes the same time whatever its length or content.
type tokenDigest struct {
	digest [sha256.Size]byte
	write  bool
}

// tokens are the API's credentials. The values themselves are not kept:
// nothing can log or echo them.
type tokens []tokenDigest

func newTokens(read, write []configopaque.String) tokens {
	out := make(tokens, 0, len(read)+len(write))
	for _, t := range read {
		out = append(out, tokenDigest{digest: sha256.Sum256([]byte(t))})
	}
	for _, t := range write {
		out = append(out, tokenDigest{digest: sha256.Sum256([]byte(t)), write: true})
	}
	return out
}

// access checks the request's token: a Bearer token, or the password of
// HTTP Basic auth (any user name, so that a browser can log in). Every
// token is compared, whichever matches, so that timing does not tell how
// many there are or which one matched.
func (ts tokens) access(req *http.Request) access {
	candidate, ok := credential(req)
	if !ok {
		return accessNone
	}
	d := sha256.Sum256([]byte(candidate))
	granted := accessNone
	for i := range ts {
		match := subtle.ConstantTimeCompare(d[:], ts[i].digest[:]) == 1
		switch {
		case match && ts[i].write:
			granted = accessWrite
		case match && granted == accessNone:
			granted = accessRead
		}
	}
	return granted
}

// credential is the token a request presents, if any.
func credential(req *http.Request) (string, bool) {
	auth := req.Header.Get("Authorization")
	if scheme, token, found := strings.Cut(auth, " "); found && strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(token)
		return token, token != ""
	}
	if _, password, found := req.BasicAuth(); found && password != "" {
		return password, true
	}
	return "", false
}
