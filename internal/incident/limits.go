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
	switch {
	case fp == "":
		return "empty fingerprint"
	case len(fp) > MaxFingerprintLen:
		return fmt.Sprintf("fingerprint of %d bytes, more than the limit of %d", len(fp), MaxFingerprintLen)
	case strings.IndexByte(fp, 0) >= 0:
		return "fingerprint contains a NUL character"
	case !utf8.ValidString(fp):
		return "fingerprint is not valid UTF-8"
	}
	return ""
}
