package incident

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxFingerprintLen bounds a fingerprint in bytes. Alertmanager and Grafana
// send 16 hex digits; the bound keeps every index entry that holds one far
// below PostgreSQL's B-tree limit (about 2.7 kB), so that SQLite and
// PostgreSQL accept exactly the same fingerprints.
const MaxFingerprintLen = 256

// FingerprintProblem says why fp cannot be an alert's identity, or "" when
// it can. A fingerprint is never altered to make it fit: two different
// fingerprints must never become one.
func FingerprintProblem(fp string) string {
	return IdentityProblem("fingerprint", fp, MaxFingerprintLen)
}

// IdentityProblem says why s cannot identify something (what: "fingerprint",
// "integration id") in both stores, or "" when it can: an identity is never
// cleaned into another one.
func IdentityProblem(what, s string, maxLen int) string {
	switch {
	case s == "":
		return "empty " + what
	case len(s) > maxLen:
		return fmt.Sprintf("%s of %d bytes, more than the limit of %d", what, len(s), maxLen)
	case strings.IndexByte(s, 0) >= 0:
		return what + " contains a NUL character"
	case !utf8.ValidString(s):
		return what + " is not valid UTF-8"
	}
	return ""
}
