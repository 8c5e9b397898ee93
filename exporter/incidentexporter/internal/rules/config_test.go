package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sre-copilot/incident-collector/internal/incident"
)

func hashed(k string) string {
	sum := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestGroupingKeyOf(t *testing.T) {
	labels := map[string]string{"service": "api", "env": "prod"}
	label := func(name string) (string, bool) { v, ok := labels[name]; return v, ok }
	none := func(string) (string, bool) { return "", false }
	long := strings.Repeat("x", 513)
	tests := []struct {
		name     string
		grouping Grouping
		notified string
		label    func(string) (string, bool)
		want     string
	}{
		{"by alert: a group of its own", Grouping{By: GroupByAlert}, "g", label, ""},
		{"default is by alert", Grouping{}, "g", label, ""},
		{"by group_key", Grouping{By: GroupByGroupKey}, `{}:{service="api"}`, label, `{}:{service="api"}`},
		{"by group_key without one", Grouping{By: GroupByGroupKey}, "", label, ""},
		{"by group_key of 512 bytes is kept", Grouping{By: GroupByGroupKey}, long[:512], label, long[:512]},
		{"by group_key too long", Grouping{By: GroupByGroupKey}, long, label, hashed(long)},
		{"by group_key with a NUL", Grouping{By: GroupByGroupKey}, "a\x00b", label, hashed("a\x00b")},
		{"by group_key of invalid UTF-8", Grouping{By: GroupByGroupKey}, "k\xff", label, hashed("k\xff")},
		{"a key shaped like a stored hash is hashed too", Grouping{By: GroupByGroupKey}, hashed(long), label, hashed(hashed(long))},
		{"by labels", Grouping{By: GroupByLabels, Labels: []string{"service"}}, "g", label, incident.Fingerprint(map[string]string{"service": "api"}, nil)},
		{
			"by labels, one missing",
			Grouping{By: GroupByLabels, Labels: []string{"service", "team"}},
			"g", label,
			incident.Fingerprint(map[string]string{"service": "api", "team": ""}, nil),
		},
		{"by labels, none present", Grouping{By: GroupByLabels, Labels: []string{"team"}}, "g", none, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.grouping.KeyOf(tt.notified, tt.label))
		})
	}
}

// Keys the sender told apart stay apart: invalid bytes that a decoder would
// turn into the same replacement character, and a long key and the stored
// form of its hash.
func TestStorableKeysNeverMerge(t *testing.T) {
	keys := []string{"k\xff", "k\xfe", "k\uFFFD", strings.Repeat("y", 600), hashed(strings.Repeat("y", 600)), "sha256:", "fnv64:0446b2f0cde14cc7"}
	seen := map[string]string{}
	for _, k := range keys {
		stored := StorableKey(k)
		if other, dup := seen[stored]; dup {
			t.Fatalf("%q and %q are both stored as %q", other, k, stored)
		}
		seen[stored] = k
	}
}

func TestAlertOpGroups(t *testing.T) {
	c := Config{HeartbeatAlertname: "Watchdog"}
	a := alert("fp", t0)
	assert.Equal(t, GroupRef{scope, "fp"}, c.AlertOp(a).Group(), "no group key: a group of its own")
	assert.Equal(t, GroupRef{scope, "g"}, c.AlertOp(alert("fp", t0).inG()).Group())
	assert.Equal(t, GroupRef{scope, ""}, c.AlertOp(alert("fp", t0).inG().watchdog()).Group(), "a heartbeat's group is its scope's heartbeat incident")
}
