package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
)

// Reasons for a 403; none of them says anything about the secret itself.
const (
	detailBadSecret    = "Invalid webhook secret"
	detailBadSignature = "Invalid webhook signature"
	detailBadTimestamp = "Invalid webhook signature timestamp"
	detailBadSource    = "Source address not allowed"
)

// secret is a shared secret held as its SHA-256 digest, so that comparing any
// candidate takes the same time whatever its length or content.
type secret struct {
	digest [sha256.Size]byte
	key    []byte // the raw value, for HMAC only
}

func newSecret(s configopaque.String) *secret {
	if s == "" {
		return nil
	}
	return &secret{digest: sha256.Sum256([]byte(s)), key: []byte(s)}
}

func (s *secret) matches(candidate string) bool {
	d := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(d[:], s.digest[:]) == 1
}

// checkSecret accepts the secret in X-Webhook-Secret, as a Bearer token or as
// the password of HTTP Basic auth (Alertmanager's basic_auth).
func (s *secret) checkSecret(req *http.Request) bool {
	ok := false
	// Every presented form is compared, so timing does not tell which one matched.
	if v := req.Header.Get("X-Webhook-Secret"); v != "" {
		ok = s.matches(v) || ok
	}
	auth := req.Header.Get("Authorization")
	if scheme, token, found := strings.Cut(auth, " "); found && strings.EqualFold(scheme, "Bearer") {
		ok = s.matches(strings.TrimSpace(token)) || ok
	}
	if _, password, found := req.BasicAuth(); found {
		ok = s.matches(password) || ok
	}
	return ok
}

// checkSignature verifies Grafana's HMAC-SHA256 of the body, or of
// "<timestamp>:<body>" when a timestamp header is configured. It returns the
// 403 detail, or "" when the signature holds.
func (s *secret) checkSignature(cfg *SignatureConfig, req *http.Request, body []byte, now time.Time) string {
	given := strings.TrimPrefix(strings.TrimSpace(req.Header.Get(cfg.signatureHeader())), "sha256=")
	sig, err := hex.DecodeString(given)
	if err != nil || len(sig) != sha256.Size {
		return detailBadSignature
	}
	mac := hmac.New(sha256.New, s.key)
	if cfg.TimestampHeader != "" {
		ts := strings.TrimSpace(req.Header.Get(cfg.TimestampHeader))
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return detailBadTimestamp
		}
		skew := now.Sub(time.Unix(sec, 0))
		if skew < 0 {
			skew = -skew
		}
		if skew > cfg.maxSkew() {
			return detailBadTimestamp
		}
		mac.Write([]byte(ts))
		mac.Write([]byte{':'})
	}
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sig) {
		return detailBadSignature
	}
	return ""
}

// sourceAllowed checks the peer address (not X-Forwarded-For, which anyone can
// send) against the allowed prefixes; no prefixes means every source.
func sourceAllowed(prefixes []netip.Prefix, remoteAddr string) bool {
	if len(prefixes) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
