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
		" warning": SeverityHigh, //nolint:gocritic // the blank is the point: senders pad values
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

func TestHigherSeverity(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{SeverityHigh, SeverityCritical, SeverityCritical},
		{SeverityCritical, SeverityHigh, SeverityCritical},
		{SeverityLow, SeverityMedium, SeverityMedium},
		{SeverityMedium, SeverityLow, SeverityMedium},
		{"whatever", SeverityLow, "whatever"},
		{"whatever", SeverityHigh, SeverityHigh},
		{SeverityMedium, "whatever", SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.a+"+"+tt.b, func(t *testing.T) {
			assert.Equal(t, tt.want, HigherSeverity(tt.a, tt.b))
		})
	}
}
