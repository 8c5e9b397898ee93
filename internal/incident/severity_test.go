package incident

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestSeverityFromLabel(t *testing.T) {
	for label, want := range map[string]string{
		"critical": SeverityCritical,
		"CRITICAL": SeverityCritical,
		" warning": SeverityHigh,
		"warning":  SeverityHigh,
		"info":     SeverityMedium,
		"":         SeverityMedium,
		"page":     SeverityMedium,
		"high":     SeverityMedium, // the specification maps only its three values
	} {
		assert.Equal(t, want, SeverityFromLabel(label), "label %q", label)
	}
}

func TestSeverityNumber(t *testing.T) {
	assert.Equal(t, plog.SeverityNumberFatal, SeverityNumber(SeverityCritical))
	assert.Equal(t, plog.SeverityNumberError, SeverityNumber(SeverityHigh))
	assert.Equal(t, plog.SeverityNumberWarn, SeverityNumber(SeverityMedium))
	assert.Equal(t, plog.SeverityNumberInfo, SeverityNumber(SeverityLow))
	assert.Equal(t, plog.SeverityNumberWarn, SeverityNumber("whatever"))
}
