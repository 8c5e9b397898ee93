package alertwebhookreceiver // import "github.com/sre-copilot/incident-collector/receiver/alertwebhookreceiver"

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
)

// Reasons a sender is refused, as the auth_failures metric counts them, and
// the 403 detail of each; none says anything about the secret itself.
const (
	reasonSource        = "source"
	reasonSecret        = "secret"
	reasonSignature     = "signature"
	reasonTimestamp     = "timestamp"
	reasonAuthenticator = "authenticator" // a confighttp auth extension (401)
)

//nolint:gosec // G101: answers that name the secret, not secrets
const (
	detailBadSecret    = "Invalid webhook secret"
	detailBadSignature = "Invalid webhook signature"
	detailBadTimestamp = "Invalid webhook signature timestamp"
	detailBadSource    = "Source address not allowed"
)

var refusalDetails = map[string]string{
	reasonSource:    detailBadSource,
	reasonSecret:    detailBadSecret,
	reasonSignature: detailBadSignature,
	reasonTimestamp: detailBadTimestamp,
}

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

// signedRequest is a request whose signature headers are well-formed and
// whose timestamp is in range; its HMAC is computed as the body arrives.
type signedRequest struct {
	want []byte    // the signature the sender gave
	mac  hash.Hash // over "<timestamp>:" so far when timestamped, then the body
}

// beginSignature checks Grafana's signature headers before any byte of the
// body is read, so that an unsigned or stale request costs nothing. It
// returns the refusal's reason when they do not hold.
func (s *secret) beginSignature(cfg *SignatureConfig, req *http.Request, now time.Time) (*signedRequest, string) {
	given := strings.TrimPrefix(strings.TrimSpace(req.Header.Get(cfg.signatureHeader())), "sha256=")
	sig, err := hex.DecodeString(given)
	if err != nil || len(sig) != sha256.Size {
		return nil, reasonSignature
	}
	mac := hmac.New(sha256.New, s.key)
	if cfg.TimestampHeader != "" {
		ts := strings.TrimSpace(req.Header.Get(cfg.TimestampHeader))
		at, ok := signatureTime(ts)
		if !ok || !withinSkew(at, now, cfg.maxSkew()) {
			return nil, reasonTimestamp
		}
		mac.Write([]byte(ts))
		mac.Write([]byte{':'})
	}
	return &signedRequest{want: sig, mac: mac}, ""
}

// Write takes the body's bytes as they arrive.
func (r *signedRequest) Write(p []byte) (int, error) { return r.mac.Write(p) }

// valid says, once the whole body was written, whether the signature holds.
func (r *signedRequest) valid() bool { return hmac.Equal(r.mac.Sum(nil), r.want) }

// Signature timestamps are Unix seconds or milliseconds. The two readings do
// not overlap for any date between 1973 and 5138: below 1e11 a value is
// seconds, from 1e11 to 1e14 milliseconds, and anything else is refused.
const (
	firstMillisecondTimestamp = 100_000_000_000     // 1e11
	endOfTimestamps           = 100_000_000_000_000 // 1e14 ms: year 5138
)

// signatureTime reads a timestamp header as Unix milliseconds. Only digits
// are taken (no sign, no exponent), at most 15 of them, so nothing overflows.
func signatureTime(ts string) (int64, bool) {
	if ts == "" || len(ts) > 15 {
		return 0, false
	}
	for i := range len(ts) {
		if ts[i] < '0' || ts[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case err != nil:
		return 0, false
	case v < firstMillisecondTimestamp:
		return v * 1000, true
	case v < endOfTimestamps:
		return v, true
	}
	return 0, false
}

// withinSkew compares in milliseconds: both sides are far below 2^62, so
// neither the difference nor its absolute value can overflow.
func withinSkew(atMillis int64, now time.Time, maxSkew time.Duration) bool {
	d := now.UnixMilli() - atMillis
	if d < 0 {
		d = -d
	}
	return d <= maxSkew.Milliseconds()
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
