package incident

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Incident severities.
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
)

// SeverityFromLabel maps an alert's `severity` label to an incident severity,
// following the webhook specification: critical→critical, warning→high,
// info→medium, anything else (or nothing)→medium. Case and surrounding blanks
// are ignored because senders are not consistent about them.
func SeverityFromLabel(label string) string {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical":
		return SeverityCritical
	case "warning":
		return SeverityHigh
	default:
		return SeverityMedium
	}
}

// SeverityNumber is the log record severity for an incident severity; an
// unknown value (a processor may set anything) counts as medium.
func SeverityNumber(severity string) plog.SeverityNumber {
	switch severity {
	case SeverityCritical:
		return plog.SeverityNumberFatal
	case SeverityHigh:
		return plog.SeverityNumberError
	case SeverityLow:
		return plog.SeverityNumberInfo
	default:
		return plog.SeverityNumberWarn
	}
}

// HigherSeverity returns the more severe of a and b: critical > high > medium
// > low. A value outside the four (a processor may set anything) ranks as
// medium and is kept only when it is the higher one's equal and came first.
func HigherSeverity(a, b string) string {
	if SeverityRank(b) > SeverityRank(a) {
		return b
	}
	return a
}

// SeverityRank orders severities: low < medium < high < critical; an unknown one
// counts as medium, the default.
func SeverityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityHigh:
		return 3
	case SeverityLow:
		return 1
	default:
		return 2
	}
}
